"""Target descriptions as data: hil/targets/<name>.toml (package data when installed), read and validated here.

A target says how many cores run a layer, which memories exist (size and bytes reserved for code,
stacks and I/O buffers), where the const weights and the activation arena go, which compiler
builds for it, and what the HIL harness needs (clocks, operating points, power, serial, QEMU).
Nobody else hard-codes a memory size or a clock.
"""

import tomllib
from pathlib import Path

from edgeadapt.errors import EdgeadaptError
from edgeadapt.resources import targets_dir

TARGETS_DIR = None  # None: edgeadapt.resources.targets_dir(); a test may point it elsewhere

# Kernel sets a port may build (firmware/kernels/ and its KERNEL_ARCH drop-in folders): their
# scratch needs differ, so the exporter plans for the set the target's port builds.
KERNEL_SETS = ("reference", "arm")

_REQUIRED = {
    "name": str,
    "description": str,
    "port": str,
    "num_cores": int,
    "arena_align": int,
    "weight_section": str,
    "compiler": dict,
    "placement": dict,
    "memories": dict,
    "operating_points": list,
}


def target_files() -> dict:
    """name -> path of every target description shipped."""
    folder = TARGETS_DIR if TARGETS_DIR is not None else targets_dir()
    return {p.stem: p for p in sorted(Path(folder).glob("*.toml"))}


def known_targets() -> list[str]:
    return list(target_files())


def resolve_name(name: str) -> str:
    """Map a target name or alias (e.g. 'stm32') to its file name, or raise listing the known ones."""
    files = target_files()
    if name in files:
        return name
    for stem, path in files.items():
        if name in _read(path).get("aliases", []):
            return stem
    aliases = []
    for stem, path in files.items():
        aliases += [f"{a} (= {stem})" for a in _read(path).get("aliases", [])]
    raise EdgeadaptError(f"unknown target '{name}' (known: {', '.join(list(files) + aliases)})")


def load_target(name: str) -> dict:
    """The validated description of target `name` (a file stem or an alias)."""
    stem = resolve_name(name)
    path = target_files()[stem]
    target = _read(path)
    _validate(target, path)
    return target


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise EdgeadaptError(f"{path.name}: not valid TOML ({exc})") from None


def _validate(target: dict, path: Path) -> None:
    where = path.name
    for key, kind in _REQUIRED.items():
        if key not in target:
            raise EdgeadaptError(f"{where}: missing key '{key}'")
        if not isinstance(target[key], kind) or isinstance(target[key], bool):
            raise EdgeadaptError(f"{where}: '{key}' must be a {kind.__name__}, got {target[key]!r}")
    if target["name"] != path.stem:
        raise EdgeadaptError(f"{where}: name '{target['name']}' differs from the file name")
    if target["num_cores"] < 1:
        raise EdgeadaptError(f"{where}: num_cores must be >= 1, got {target['num_cores']}")
    align = target["arena_align"]
    if align < 1 or align & (align - 1):
        raise EdgeadaptError(f"{where}: arena_align must be a power of two, got {align}")
    if not isinstance(target["compiler"].get("cc"), str):
        raise EdgeadaptError(f"{where}: compiler.cc must name the C compiler")
    for name, memory in target["memories"].items():
        for field in ("size", "reserved"):
            value = memory.get(field) if isinstance(memory, dict) else None
            if not isinstance(value, int) or value < 0:
                raise EdgeadaptError(f"{where}: memories.{name}.{field} must be a byte count >= 0, got {value!r}")
        if memory["reserved"] > memory["size"]:
            raise EdgeadaptError(f"{where}: memories.{name}.reserved exceeds its size")
    for role in ("weights", "arena"):
        memory = target["placement"].get(role)
        if memory not in target["memories"]:
            raise EdgeadaptError(
                f"{where}: placement.{role} = {memory!r} is not one of the memories ({', '.join(target['memories'])})"
            )
    kernels = target.setdefault("kernels", "reference")
    if kernels not in KERNEL_SETS:
        raise EdgeadaptError(f"{where}: kernels = {kernels!r} is not one of {', '.join(KERNEL_SETS)}")
    if not target["operating_points"]:
        raise EdgeadaptError(f"{where}: at least one operating point is needed")
    for point in target["operating_points"]:
        if not isinstance(point.get("name"), str):
            raise EdgeadaptError(f"{where}: every operating point needs a name")
