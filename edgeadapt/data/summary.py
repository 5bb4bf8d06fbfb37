"""Figures that describe a dataset folder: per split sizes, label statistics, trivial MAE."""

import numpy as np

from edgeadapt.data.frames import OUTPUT_NAMES
from edgeadapt.data.loader import available_splits, dataset_kind, load_split
from edgeadapt.data.metrics import compute_metrics
from edgeadapt.data.store import read_extra, read_meta


def describe(data_dir, size=None) -> dict:
    kind = dataset_kind(data_dir)
    if kind == "general":
        return describe_general(data_dir)
    splits = {s: load_split(data_dir, s, size) for s in available_splits(data_dir)}
    train_mean = splits["train"].labels.astype(np.float64).mean(axis=0)
    out = {"data": str(data_dir), "kind": kind, "size": None, "train_label_mean": _named(train_mean), "splits": {}}
    for split, frames in splits.items():
        h, w = frames.size
        out["size"] = f"{w}x{h}"
        labels = frames.labels.astype(np.float64)
        entry = {
            "frames": len(frames),
            "sequences": int(np.unique(frames.sequence).size),
            "subjects": int(np.unique(frames.subject).size),
            "labels": {
                name: {"mean": float(labels[:, i].mean()), "std": float(labels[:, i].std()),
                       "min": float(labels[:, i].min()), "max": float(labels[:, i].max())}
                for i, name in enumerate(OUTPUT_NAMES)
            } if len(frames) else {},
        }
        if len(frames):
            trivial = compute_metrics(np.broadcast_to(train_mean, labels.shape), labels, train_mean)["trivial_mae"]
            entry["trivial_mae"] = trivial
            entry["trivial_mae_sum"] = trivial["sum"]
        if kind == "synthetic":
            entry["conditions"] = _condition_shares(data_dir, split)
        out["splits"][split] = entry
    return out


def _condition_shares(data_dir, split) -> dict:
    """Share of the split's frames inside each difficulty episode, and inside any."""
    mask = read_extra(data_dir, split, "conditions")
    if mask is None or len(mask) == 0:
        return {}
    bits = read_meta(data_dir).get("conditions", {})
    shares = {name: float(((mask & bit) > 0).mean()) for name, bit in bits.items()}
    shares["any"] = float((mask > 0).mean())
    return shares


def _named(values):
    return {name: float(v) for name, v in zip(OUTPUT_NAMES, values)}


def describe_general(data_dir) -> dict:
    """A general folder: per split frames, sequences and, by task, class counts or label statistics
    with the trivial (train-mean) predictor's MAE."""
    from edgeadapt.data.general import read_meta, size_text
    from edgeadapt.data.metrics import task_metrics

    meta = read_meta(data_dir)
    splits = {s: load_split(data_dir, s) for s in available_splits(data_dir)}
    out = {"data": str(data_dir), "kind": "general", "task": meta["task"], "size": size_text(meta),
           "channels": meta["input"]["channels"], "dtype": meta["input"]["dtype"],
           "classes": meta.get("classes"), "outputs": meta.get("outputs"), "splits": {}}
    train = splits["train"]
    mean = train.labels.astype(np.float64).mean(axis=0) if meta["task"] == "regression" and len(train) else None
    if mean is not None:
        out["train_label_mean"] = dict(zip(meta["outputs"], map(float, mean)))
    for split, frames in splits.items():
        entry = {"frames": len(frames), "sequences": int(np.unique(frames.sequence).size)}
        if meta["task"] == "classification":
            entry["class_counts"] = np.bincount(frames.labels, minlength=len(meta["classes"])).astype(int).tolist()
        elif meta["task"] == "regression" and len(frames):
            labels = frames.labels.astype(np.float64)
            entry["labels"] = {name: {"mean": float(labels[:, i].mean()), "std": float(labels[:, i].std()),
                                      "min": float(labels[:, i].min()), "max": float(labels[:, i].max())}
                               for i, name in enumerate(meta["outputs"])}
            if mean is not None:
                trivial = task_metrics("regression", np.broadcast_to(mean, labels.shape), labels,
                                       output_names=meta["outputs"], train_mean=mean)["trivial_mae"]
                entry["trivial_mae"] = trivial
        out["splits"][split] = entry
    return out
