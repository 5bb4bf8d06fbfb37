"""The general dataset folder: any H x W x C (C = 1 or 3), any task (docs/artifacts.md).

DIR/meta.json (format "edgeadapt-dataset") and DIR/{train,val,test}.npz, each holding `images`
(N, H, W, C) uint8 or float32, `labels` by task (int32 (N,) class ids, float32 (N, K) regression
vectors, absent for unlabelled data) and an optional int32 `sequence` (N,). Written by
`edgeadapt dataset import`; the .npz files carry fixed zip timestamps (store.write_split), so the
same source gives byte-identical files, and meta.json is written last (it marks the folder complete).
"""

import json
from pathlib import Path

import numpy as np

from edgeadapt.data import store
from edgeadapt.data.frames import Frames
from edgeadapt.errors import EdgeadaptError
from edgeadapt.textio import write_json

FORMAT_NAME = "edgeadapt-dataset"
FORMAT_VERSION = 1
TASKS = ("regression", "classification", "none")
IMAGE_DTYPES = ("uint8", "float32")
CHANNELS = (1, 3)


def is_general(data_dir) -> bool:
    path = store.meta_path(data_dir)
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("format") == FORMAT_NAME
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False


def read_meta(data_dir) -> dict:
    path = store.meta_path(data_dir)
    meta = store.read_meta_file(path, FORMAT_NAME, FORMAT_VERSION, "a dataset folder")
    problems = _meta_problems(meta)
    if problems:
        raise EdgeadaptError(f"{path}: {problems[0]}")
    return meta


def _meta_problems(meta) -> list:
    inp = meta.get("input")
    problems = []
    if meta.get("task") not in TASKS:
        problems.append(f"task {meta.get('task')!r} (expected one of {', '.join(TASKS)})")
    if not isinstance(inp, dict) or not all(isinstance(inp.get(k), int) and inp.get(k) > 0 for k in ("height", "width", "channels")):
        problems.append("input must give positive integer height, width and channels")
    elif inp["channels"] not in CHANNELS or inp.get("dtype") not in IMAGE_DTYPES:
        problems.append(f"input is {inp.get('channels')} channels of {inp.get('dtype')} (expected 1 or 3 channels of uint8 or float32)")
    if meta.get("task") == "classification" and not (isinstance(meta.get("classes"), list) and meta["classes"]):
        problems.append("a classification dataset needs a non-empty classes list")
    if meta.get("task") == "regression" and not (isinstance(meta.get("outputs"), list) and meta["outputs"]):
        problems.append("a regression dataset needs a non-empty outputs list")
    return problems


def size_text(meta) -> str:
    return f"{meta['input']['width']}x{meta['input']['height']}"


def read_split(data_dir, split: str, meta=None) -> Frames:
    """One split as Frames (one-channel images squeezed to (N, H, W)), every array checked."""
    meta = meta or read_meta(data_dir)
    path = Path(data_dir) / f"{split}.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "images" not in npz.files:
                raise EdgeadaptError(f"{path}: corrupt split file (missing array 'images')")
            arrays = {a: npz[a] for a in ("images", "labels", "sequence") if a in npz.files}
    except FileNotFoundError:
        raise EdgeadaptError(f"{path}: missing split file") from None
    except EdgeadaptError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError from a damaged .npy header, OSError...
        raise EdgeadaptError(f"{path}: corrupt split file ({type(exc).__name__})") from None
    inp = meta["input"]
    images = arrays["images"]
    want = (inp["height"], inp["width"], inp["channels"])
    if images.ndim != 4 or tuple(images.shape[1:]) != want or images.dtype != np.dtype(inp["dtype"]):
        raise EdgeadaptError(f"{path}: images must be {inp['dtype']} (N, {want[0]}, {want[1]}, {want[2]}) as meta.json says, "
                             f"got {images.dtype} {images.shape}")
    n = images.shape[0]
    labels = _check_labels(path, meta, arrays.get("labels"), n)
    sequence = arrays.get("sequence")
    if sequence is None:
        sequence = np.arange(n, dtype=np.int32)
    elif sequence.shape != (n,) or not np.issubdtype(sequence.dtype, np.integer):
        raise EdgeadaptError(f"{path}: sequence must be integer (N,) for N = {n}, got {sequence.dtype} {sequence.shape}")
    if inp["dtype"] == "float32" and not np.isfinite(images).all():
        raise EdgeadaptError(f"{path}: images contain NaN or infinity")
    if inp["channels"] == 1:
        images = images[..., 0]
    sequence = sequence.astype(np.int32, copy=False)
    return Frames(np.ascontiguousarray(images), labels, sequence, sequence.copy(), meta["task"],
                  tuple(meta.get("outputs") or ()), tuple(meta.get("classes") or ()))


def _check_labels(path, meta, labels, n):
    task = meta["task"]
    if task == "none":
        if labels is not None:
            raise EdgeadaptError(f"{path}: holds labels but meta.json says task none")
        return np.zeros((n, 0), np.float32)
    if labels is None:
        raise EdgeadaptError(f"{path}: missing array 'labels' (task {task})")
    if task == "classification":
        k = len(meta["classes"])
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise EdgeadaptError(f"{path}: labels must be integer class ids (N,) for N = {n} images, got {labels.dtype} {labels.shape}")
        if n and (labels.min() < 0 or labels.max() >= k):
            raise EdgeadaptError(f"{path}: class ids {int(labels.min())}..{int(labels.max())} outside 0..{k - 1} ({k} classes)")
        return labels.astype(np.int32, copy=False)
    k = len(meta["outputs"])
    if labels.shape != (n, k) or not np.issubdtype(labels.dtype, np.floating):
        raise EdgeadaptError(f"{path}: labels must be float (N, {k}) for N = {n} images, got {labels.dtype} {labels.shape}")
    if not np.isfinite(labels).all():
        raise EdgeadaptError(f"{path}: labels contain NaN or infinity")
    return labels.astype(np.float32, copy=False)


def write_dataset(out_dir, splits: dict, task: str, classes=None, outputs=None, source=None) -> dict:
    """Write {split: (images (N, H, W, C), labels or None, sequence or None)} and meta.json; returns meta.

    Everything is checked before the first file is written, so a refused import leaves DIR as it was."""
    out = Path(out_dir)
    first = next(iter(splits.values()))[0]
    h, w, c = (int(d) for d in first.shape[1:])
    meta = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "task": task,
        "input": {"height": h, "width": w, "channels": c, "dtype": str(first.dtype)},
        "sequences": all(s[2] is not None for s in splits.values()),
        "source": None if source is None else str(source),
        "splits": {},
    }
    if task == "classification":
        meta["classes"] = [str(x) for x in classes]
    if task == "regression":
        meta["outputs"] = [str(x) for x in outputs]
    problems = _meta_problems(meta)
    if problems:
        raise EdgeadaptError(f"{out}: {problems[0]}")
    arrays = {}
    for split in store.SPLITS:
        images, labels, sequence = splits[split]
        if tuple(images.shape[1:]) != (h, w, c) or images.dtype != first.dtype:
            raise EdgeadaptError(f"{split} images are {images.dtype} {images.shape[1:]}, the train images {first.dtype} {(h, w, c)}")
        arrays[split] = {"images": np.ascontiguousarray(images)}
        if labels is not None:
            arrays[split]["labels"] = np.ascontiguousarray(labels)
        if sequence is not None:
            arrays[split]["sequence"] = np.ascontiguousarray(sequence, dtype=np.int32)
        _check_labels(out / f"{split}.npz", meta, arrays[split].get("labels"), len(images))
        meta["splits"][split] = {"frames": int(len(images))}
        if task == "classification" and len(images):
            meta["splits"][split]["class_counts"] = np.bincount(labels, minlength=len(classes)).astype(int).tolist()
    if task == "regression" and len(splits["train"][0]):
        meta["label_mean_train"] = [float(v) for v in splits["train"][1].astype(np.float64).mean(axis=0)]
    if out.exists() and any(out.iterdir()) and not is_general(out):
        raise EdgeadaptError(f"{out}: exists and is not an {FORMAT_NAME} folder (refusing to write into it)")
    out.mkdir(parents=True, exist_ok=True)
    store.meta_path(out).unlink(missing_ok=True)  # the folder is incomplete until meta.json is back
    for split, arr in arrays.items():
        store.write_split(out / f"{split}.npz", arr)
    write_json(store.meta_path(out), meta)
    return meta
