"""The installable package: a wheel built from the repository holds the firmware tree and the
target descriptions, and installed in a fresh venv it exports, builds and validates the shipped
pair from a folder that has nothing to do with the checkout."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def tracked_files():
    r = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("not a git checkout: cannot tell which files are the source")
    return [line for line in r.stdout.splitlines() if (ROOT / line).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel of a clean copy of the source (so no stale build/ output can slip into it)."""
    src = tmp_path_factory.mktemp("src")
    for name in tracked_files():
        if name.startswith(("datasets/cache/", "build/", "export/")) and not name.endswith("README.md"):
            continue
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (path,) = out.glob("edgeadapt-*.whl")
    return path


def test_wheel_holds_every_module_the_firmware_and_the_targets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    files = tracked_files()
    modules = [f for f in files if f.startswith("edgeadapt/") and f.endswith(".py")]
    firmware = [f for f in files if f.startswith("firmware/") and Path(f).suffix in (".c", ".h", ".S", ".ld", ".mk")]
    targets = [f for f in files if f.startswith("hil/targets/") and f.endswith(".toml")]
    assert len(modules) > 80 and len(firmware) > 60 and len(targets) >= 4
    missing = [f for f in modules if f not in names]
    missing += [f for f in firmware if "edgeadapt/_firmware/" + f[len("firmware/"):] not in names]
    missing += [f for f in targets if "edgeadapt/_targets/" + Path(f).name not in names]
    assert not missing, missing
    assert "edgeadapt/_firmware/Makefile" in names and "edgeadapt/zoo/big.pt" in names


def dependency_paths():
    """The folders this interpreter imports its third-party packages from (torch, numpy, ...),
    without any that would serve edgeadapt itself."""
    paths = []
    for p in sys.path:
        if ("site-packages" in p or "dist-packages" in p) and Path(p).is_dir() and not (Path(p) / "edgeadapt").exists():
            paths.append(p)
    return paths


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh venv with the wheel installed, its dependencies reused from this interpreter's."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "_edgeadapt_deps.pth").write_text("\n".join(dependency_paths()) + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                        "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return venv


def run_installed(venv, cwd, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EDGEADAPT_FIRMWARE", "EDGEADAPT_TARGETS")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    r = subprocess.run([str(venv / "bin" / "edgeadapt"), *map(str, args)], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, f"edgeadapt {' '.join(map(str, args))}: {r.stderr[-2000:]}"
    return r.stdout


def test_installed_wheel_exports_builds_and_validates_from_another_folder(installed, tmp_path, shipped_pair_int8,
                                                                           shipped_data):
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = Path(run_installed(installed, work, "firmware", "path").strip())
    assert where.is_relative_to(installed) and (where / "Makefile").is_file()  # the installed copy, not the checkout
    big, small = shipped_pair_int8["big"], shipped_pair_int8["small"]
    run_installed(installed, work, "export", "--target", "host", "--big", big, "--small", small, "--out", "bundle-host")
    out = run_installed(installed, work, "validate", "--export", "bundle-host", "--data", shipped_data, "--frames", "4")
    assert "all 4 frames bit-identical on every layer of both models" in out
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("no arm-none-eabi-gcc: the stm32 firmware build is not checked")
    run_installed(installed, work, "export", "--target", "stm32", "--big", big, "--small", small, "--out", "bundle-stm32")
    out = run_installed(installed, work, "firmware", "build", "--target", "stm32", "--export", "bundle-stm32")
    elf = work / "bundle-stm32" / "build-stm32" / "edgeadapt-stm32.elf"
    assert elf.is_file() and f"built {elf}" in out and "flash" in out
    assert not any(installed.glob("lib/python*/site-packages/edgeadapt/_firmware/**/*.o"))  # nothing built inside
