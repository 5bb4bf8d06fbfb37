"""The data layer: datasets on disk, their frames in memory, and the pose metrics.

Three kinds of dataset folder are accepted wherever a `--data DIR` is: a synthetic pose one written
by `edgeadapt dataset synth` (meta.json + train/val/test.npz), a folder of PULP-Frontnet pickles,
and a general one written by `edgeadapt dataset import` (any H x W x C, classification, regression
or no labels; docs/artifacts.md).
"""

from edgeadapt.data.camera import Camera, parse_size
from edgeadapt.data.frames import OUTPUT_NAMES, TASKS, Frames, normalize
from edgeadapt.data.loader import SPLITS, dataset_kind, dataset_task, load_split, train_label_mean
from edgeadapt.data.metrics import compute_metrics, headline, output_fidelity, r2_scores, task_metrics
from edgeadapt.data.synth import GENERATOR_VERSION, ensure_synth, generate

mae_table = compute_metrics  # the name the API sketch also uses

__all__ = [
    "Camera", "Frames", "GENERATOR_VERSION", "OUTPUT_NAMES", "SPLITS", "TASKS", "compute_metrics",
    "dataset_kind", "dataset_task", "ensure_synth", "generate", "headline", "load_split", "mae_table",
    "normalize", "output_fidelity", "parse_size", "r2_scores", "task_metrics", "train_label_mean",
]
