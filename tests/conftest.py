"""Fixtures shared by the heavier checks: the shipped synthetic set and the shipped pair quantized.

The set is the one `make demo` renders (datasets/cache/synth-160x96, about a minute to render),
so a checkout renders it once for both; the int8 pair lives in build/test-cache/ (each
quantization under a minute), where the demo also takes it from or leaves it. Later runs reuse both when they are still exactly what the recipe
gives (ensure_synth checks the recipe; the .eaq files are keyed by the checkpoint bytes)."""

from pathlib import Path

import pytest

from edgeadapt.data.shipped import SHIPPED_FRAMES, SHIPPED_SEED, shipped_data_dir, shipped_int8_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shipped_data():
    from edgeadapt.data import ensure_synth

    return ensure_synth(shipped_data_dir(ROOT), SHIPPED_FRAMES, SHIPPED_SEED)


@pytest.fixture(scope="session")
def shipped_pair_int8(shipped_data):
    """{"big": path, "small": path} of the zoo pair quantized to int8 with the default pipeline
    (the same files `make demo` writes and reuses)."""
    from edgeadapt.quant.pipeline import QuantizeOptions
    from edgeadapt.quant.workflow import quantize_model

    out = {}
    for role in ("big", "small"):
        path = shipped_int8_path(ROOT, role)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.eaq")
            quantize_model(f"zoo:{role}", shipped_data, tmp, QuantizeOptions(weight_bits=8))
            tmp.replace(path)
        out[role] = path
    return out
