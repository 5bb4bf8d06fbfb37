"""The synthetic set the shipped pair was trained on (edgeadapt/zoo/README.md), rendered once.

The demo and the test suite read the same folder, so a checkout renders it only once."""

from pathlib import Path

SHIPPED_FRAMES, SHIPPED_SEED = 30000, 1


def shipped_data_dir(root) -> Path:
    """Where a checkout keeps the rendered set: datasets/cache/synth-160x96 (git-ignored)."""
    return Path(root) / "datasets" / "cache" / "synth-160x96"
