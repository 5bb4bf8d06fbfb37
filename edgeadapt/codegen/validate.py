"""Host validation of an export: the generated C against the integer reference, every layer.

Builds the firmware's host program on the bundle (`make -C firmware TARGET=host EXPORT=<dir>`),
runs every model of the bundle (a pair, or one model) on N frames with its batch mode (`--infer <m> frames.u8 out.i32 --layers
dump.bin`), runs the numpy reference on the same frames with every activation dumped, and
compares each layer's output bytes. The bundle carries its models (big.eaq and small.eaq, or
model.eaq; hashes in manifest.json), so nothing outside the export directory and the data is needed.
"""

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from edgeadapt.codegen.bundle import bundle_model_ids, frames_for_input, load_bundle_models, read_manifest
from edgeadapt.errors import EdgeadaptError
from edgeadapt.resources import firmware_dir

BUILD_TIMEOUT_S = 600
RUN_TIMEOUT_S = 600


def build_host(export_dir, build_dir=None, extra_cflags: str = "") -> Path:
    """Build the host program on the bundle; returns the executable's path."""
    export_dir = Path(export_dir).resolve()
    build_dir = Path(build_dir).resolve() if build_dir else export_dir / ".build-host"
    cmd = ["make", "-s", "-C", str(firmware_dir()), "TARGET=host", f"EXPORT={export_dir}", f"BUILD={build_dir}"]
    if extra_cflags:
        cmd.append(f"CFLAGS+={extra_cflags}")
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except FileNotFoundError:
        raise EdgeadaptError("`make` is not installed: cannot build the host program") from None
    if r.returncode != 0:
        errors = [line for line in (r.stderr + r.stdout).splitlines() if "error" in line.lower()]
        first = errors[0] if errors else (r.stderr or r.stdout).strip().splitlines()[-1:]
        raise EdgeadaptError(f"host build of {export_dir} failed: {first if isinstance(first, str) else ' '.join(first)}")
    elf = build_dir / "edgeadapt-host.elf"
    if not elf.is_file():
        raise EdgeadaptError(f"host build of {export_dir} produced no {elf.name}")
    return elf


def run_host(elf: Path, model: int, frames: np.ndarray, workdir: Path, num_outputs: int):
    """(outputs int32 (N, num_outputs), layer dump uint8 (N, bytes per frame)) from the C code."""
    frames_path = workdir / "frames.u8"
    out_path = workdir / f"out{model}.i32"
    dump_path = workdir / f"layers{model}.bin"
    np.ascontiguousarray(frames, dtype=np.uint8).tofile(frames_path)
    cmd = [str(elf), "--infer", str(model), str(frames_path), str(out_path), "--layers", str(dump_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if r.returncode != 0:
        raise EdgeadaptError(f"host program failed on model {model}: {(r.stderr or r.stdout).strip()}")
    n = len(frames)
    outputs = np.fromfile(out_path, dtype="<i4").reshape(n, num_outputs)
    dump = np.fromfile(dump_path, dtype=np.uint8)
    if n == 0 or dump.size % n:
        raise EdgeadaptError(f"layer dump of model {model}: {dump.size} bytes for {n} frames")
    return outputs, dump.reshape(n, -1)


def expected_bytes(values: np.ndarray, dtype: str) -> np.ndarray:
    """A reference activation (N, ...) as the bytes the device holds: int8, uint8, or int32 little-endian."""
    n = len(values)
    if dtype == "int32":
        return np.ascontiguousarray(values.reshape(n, -1).astype("<i4")).view(np.uint8).reshape(n, -1)
    if dtype == "uint8":
        return np.ascontiguousarray(values.reshape(n, -1).astype(np.uint8)).reshape(n, -1)
    return np.ascontiguousarray(values.reshape(n, -1).astype(np.int8)).view(np.uint8).reshape(n, -1)


def compare_model(role: str, entry: dict, reference: dict, dump: np.ndarray):
    """(per-frame all-layers-equal bool array, first mismatch or None) for one model."""
    layers = entry["layers"]
    need = sum(row["output_bytes"] for row in layers)
    if dump.shape[1] != need:
        raise EdgeadaptError(
            f"model {role}: the C code dumped {dump.shape[1]} bytes per frame, the manifest's layers hold {need}"
        )
    n = len(dump)
    exact = np.ones(n, dtype=bool)
    first = None
    pos = 0
    for row in layers:
        size = row["output_bytes"]
        got = dump[:, pos : pos + size]
        pos += size
        want = expected_bytes(reference[row["output"]], row["output_dtype"])
        diff = got != want
        bad_frames = diff.any(axis=1)
        exact &= ~bad_frames
        if bad_frames.any() and first is None:
            frame = int(np.flatnonzero(bad_frames)[0])
            first = _mismatch(role, row, frame, got[frame], want[frame])
    return exact, first


def _mismatch(role, row, frame, got_bytes, want_bytes) -> dict:
    if row["output_dtype"] == "int32":
        got, want = got_bytes.view("<i4"), want_bytes.view("<i4")
    elif row["output_dtype"] == "uint8":
        got, want = got_bytes, want_bytes
    else:
        got, want = got_bytes.view(np.int8), want_bytes.view(np.int8)
    index = int(np.flatnonzero(got != want)[0])
    return {
        "model": role,
        "frame": frame,
        "layer": row["index"],
        "layer_name": row["name"],
        "index": index,
        "position_hwc": [int(v) for v in np.unravel_index(index, row["output_shape"])],
        "expected": int(want[index]),
        "got": int(got[index]),
    }


def load_frames(data_dir, frames: int, split: str = "test") -> np.ndarray:
    from edgeadapt.data import load_split

    images = np.asarray(load_split(data_dir, split).images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise EdgeadaptError(f"{data_dir} ({split}): frames must be uint8 (N, H, W[, C]), got {images.dtype} {images.shape}")
    if len(images) == 0:
        raise EdgeadaptError(f"{data_dir} ({split}): no frames")
    return images[:frames]


def load_bundle_inputs(export_dir, data_dir, frames: int, split: str, images=None) -> tuple:
    """(manifest, graphs, frames shaped for the bundle's input) for a validation run: `images`
    (uint8 (N, H, W[, C])) replaces data_dir when given."""
    if frames < 1:
        raise EdgeadaptError(f"--frames must be >= 1, got {frames}")
    manifest = read_manifest(export_dir)
    graphs = load_bundle_models(export_dir, manifest)
    if images is None:
        images = load_frames(data_dir, frames, split)
    return manifest, graphs, frames_for_input(np.asarray(images, dtype=np.uint8)[:frames], manifest["input_shape"])


def validate_export(export_dir, data_dir, frames: int = 200, split: str = "test", build_dir=None,
                    extra_cflags: str = "", images=None) -> dict:
    """Run the bundle's C code and the integer reference on `frames` frames, compare every layer.

    Returns {"frames", "bit_exact_frames", "layers_compared", "first_mismatch", "models": {...}}:
    a frame is bit exact when every layer of every model matches; layers_compared counts layer
    outputs compared (frames x layers of every model). `images` (uint8 (N, H, W[, C])) replaces
    data_dir when given.
    """
    from edgeadapt.console import progress
    from edgeadapt.quant.reference import run_int

    manifest, graphs, images = load_bundle_inputs(export_dir, data_dir, frames, split, images)
    roles = sorted(bundle_model_ids(manifest).items(), key=lambda item: item[1])
    bar = progress(total=1 + 2 * len(roles), desc="validate", unit="step")
    bar.set_postfix_str("building the host program")
    elf = build_host(export_dir, build_dir, extra_cflags)
    bar.update()
    n = len(images)
    all_exact = np.ones(n, dtype=bool)
    first = None
    per_model = {}
    layers_compared = 0
    with tempfile.TemporaryDirectory(prefix="ea-validate-") as tmp:
        for role, model_id in roles:
            entry = manifest["models"][role]
            bar.set_postfix_str(f"{role}: C code on {n} frames")
            outputs, dump = run_host(elf, model_id, images, Path(tmp), entry["num_outputs"])
            bar.update()
            bar.set_postfix_str(f"{role}: integer reference")
            ref_out, reference = run_int(graphs[role], images, dump=True)
            bar.update()
            exact, mismatch = compare_model(role, entry, reference, dump)
            outputs_exact = np.all(outputs == ref_out.reshape(n, -1), axis=1)
            exact &= outputs_exact
            if mismatch is None and not outputs_exact.all():
                frame = int(np.flatnonzero(~outputs_exact)[0])
                index = int(np.flatnonzero(outputs[frame] != ref_out[frame])[0])
                mismatch = {"model": role, "frame": frame, "layer": "outputs", "index": index,
                            "expected": int(ref_out[frame, index]), "got": int(outputs[frame, index])}
            all_exact &= exact
            first = first or mismatch
            layers_compared += n * len(entry["layers"])
            per_model[role] = {
                "name": entry["name"],
                "layers": len(entry["layers"]),
                "bit_exact_frames": int(exact.sum()),
                "outputs_exact_frames": int(outputs_exact.sum()),
            }
            del reference, dump
    bar.close()
    return {
        "frames": n,
        "bit_exact_frames": int(all_exact.sum()),
        "layers_compared": layers_compared,
        "first_mismatch": first,
        "models": per_model,
        "export": os.fspath(export_dir),
        "target": manifest["target"],
    }
