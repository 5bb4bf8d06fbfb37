"""The shipped pair's working set, made once per checkout and shared by `make demo` and `make test`:
the synthetic set it was trained on (edgeadapt/zoo/README.md) and the pair quantized to int8 with
the default pipeline, keyed by the checkpoint bytes so a retrained pair is never served stale."""

import hashlib
from pathlib import Path

SHIPPED_FRAMES, SHIPPED_SEED = 30000, 1


def shipped_data_dir(root) -> Path:
    """Where a checkout keeps the rendered set: datasets/cache/synth-160x96 (git-ignored)."""
    return Path(root) / "datasets" / "cache" / "synth-160x96"


def shipped_int8_path(root, role: str) -> Path:
    """build/test-cache/zoo-<role>-<key>-int8.eaq: the int8 quantization of the shipped `role` model
    on the shipped set (default options, report inside). The key covers the checkpoint bytes and
    the quantizer's and importer's source, so a retrained pair or a changed quantizer never reuses
    an old file."""
    from edgeadapt.models.checkpoint import ZOO_DIR

    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256((ZOO_DIR / f"{role}.pt").read_bytes())
    for source in sorted([*package.glob("quant/*.py"), *package.glob("ir/*.py")]):
        h.update(source.name.encode())
        h.update(source.read_bytes())
    return Path(root) / "build" / "test-cache" / f"zoo-{role}-{h.hexdigest()[:16]}-int8.eaq"
