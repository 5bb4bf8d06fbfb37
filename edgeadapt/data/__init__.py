"""The data layer: datasets on disk, their frames in memory, and the pose metrics.

Two kinds of dataset folder are accepted wherever a `--data DIR` is: a synthetic one written by
`edgeadapt dataset synth` (meta.json + train/val/test.npz) and a folder of PULP-Frontnet pickles.
"""

from edgeadapt.data.camera import Camera, parse_size
from edgeadapt.data.frames import OUTPUT_NAMES, Frames, normalize
from edgeadapt.data.loader import SPLITS, dataset_kind, load_split, train_label_mean
from edgeadapt.data.metrics import compute_metrics, r2_scores
from edgeadapt.data.synth import GENERATOR_VERSION, ensure_synth, generate

mae_table = compute_metrics  # the name the API sketch also uses

__all__ = [
    "Camera", "Frames", "GENERATOR_VERSION", "OUTPUT_NAMES", "SPLITS", "compute_metrics", "dataset_kind",
    "ensure_synth", "generate", "load_split", "mae_table", "normalize", "parse_size", "r2_scores",
    "train_label_mean",
]
