"""`load_split` and `train_label_mean`: one entry point for synthetic, PULP-Frontnet and general folders."""

from pathlib import Path

import numpy as np

from edgeadapt.data import frontnet, general, store
from edgeadapt.data.camera import parse_size
from edgeadapt.data.frames import Frames
from edgeadapt.errors import EdgeadaptError
from edgeadapt.splits import SPLITS



def dataset_kind(data_dir) -> str:
    """'synthetic', 'frontnet' or 'general'; a one-line error for anything else."""
    d = Path(data_dir)
    if not d.is_dir():
        raise EdgeadaptError(f"{d}: no such dataset folder")
    if general.is_general(d):
        return "general"
    if store.is_synthetic(d):
        return "synthetic"
    if frontnet.available_sizes(d):
        return "frontnet"
    raise EdgeadaptError(f"{d}: not a dataset folder (no meta.json and no PULP-Frontnet pickles)")


def available_splits(data_dir) -> tuple:
    """The splits a dataset folder holds: a synthetic one also has test-unseen (never-seen
    environments); PULP-Frontnet pickles and general folders hold train, val and test."""
    return SPLITS if dataset_kind(data_dir) == "synthetic" else store.SPLITS


def load_split(data_dir, split: str, size=None) -> Frames:
    """The frames of one split ('train', 'val', 'test' or 'test-unseen'); size ('160x96' or '80x48') picks among
    Frontnet pickles of both sizes and, for a synthetic or general folder, must match what it holds."""
    if split not in SPLITS:
        raise EdgeadaptError(f"unknown split '{split}' (expected {', '.join(SPLITS)})")
    kind = dataset_kind(data_dir)
    if kind == "general":
        meta = general.read_meta(data_dir)
        if size is not None and size != general.size_text(meta):
            raise EdgeadaptError(f"{data_dir}: frames are {general.size_text(meta)}, {size} was asked for")
        return general.read_split(data_dir, split, meta)
    if size is not None:
        parse_size(size)
    if kind == "frontnet":
        if split not in frontnet.SPLITS:
            raise EdgeadaptError(f"{data_dir}: the PULP-Frontnet data has no '{split}' split (it has {', '.join(frontnet.SPLITS)})")
        return frontnet.load_frontnet_split(data_dir, split, size)
    meta = store.read_meta(data_dir)
    if size is not None and meta.get("size") != size:
        raise EdgeadaptError(f"{data_dir}: frames are {meta.get('size')}, {size} was asked for")
    frames = store.read_split(data_dir, split)
    width, height = parse_size(meta["size"])
    if frames.size != (height, width):
        raise EdgeadaptError(
            f"{Path(data_dir) / (split + '.npz')}: images are {frames.size[1]}x{frames.size[0]}, "
            f"meta.json says {meta['size']}"
        )
    return frames


def dataset_task(data_dir) -> str:
    """'pose' (synthetic and PULP-Frontnet folders), or a general folder's task."""
    if dataset_kind(data_dir) == "general":
        return general.read_meta(data_dir)["task"]
    return "pose"


def train_label_mean(data_dir, size=None) -> np.ndarray:
    """Mean label of the train split, float32 (K,): the trivial predictor of the regression metrics
    ((0,) for a classification or unlabelled general folder)."""
    kind = dataset_kind(data_dir)
    if kind == "general":
        meta = general.read_meta(data_dir)
        if meta["task"] != "regression":
            return np.zeros(0, np.float32)
        mean = np.asarray(meta.get("label_mean_train", []), dtype=np.float32)
        if mean.shape != (len(meta["outputs"]),):
            raise EdgeadaptError(f"{store.meta_path(data_dir)}: label_mean_train must hold {len(meta['outputs'])} numbers")
        return mean
    if kind == "synthetic":
        meta = store.read_meta(data_dir)
        if "label_mean_train" not in meta:  # a hand-made folder: the train split's own mean
            return load_split(data_dir, "train", size).labels.astype(np.float64).mean(axis=0).astype(np.float32)
        mean = np.asarray(meta.get("label_mean_train", []), dtype=np.float32)
        if mean.shape != (4,):
            raise EdgeadaptError(f"{store.meta_path(data_dir)}: label_mean_train must hold 4 numbers")
        return mean
    return load_split(data_dir, "train", size).labels.astype(np.float64).mean(axis=0).astype(np.float32)
