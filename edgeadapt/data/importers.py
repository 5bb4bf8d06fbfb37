"""`edgeadapt dataset import`: common dataset forms -> the general folder (general.py).

Sources:
- a folder of images with a CSV of labels (`--labels FILE`), or with one sub-folder per class;
- a .npz of arrays: `images` (or `x`), optional `labels` (or `y`) and `sequence`, or the same
  arrays per split (`train_images` / `x_train`, `val_...`, `test_...`);
- a folder of PULP-Frontnet pickles (the pose regression, split as today, sequence ids kept).
Without explicit splits, frames (or whole sequences, when sequence ids are given) go to val and
test by a seeded permutation, `--val-fraction` / `--test-fraction` each, train gets the rest;
every split keeps the source order.
"""

import csv
from pathlib import Path

import numpy as np

from edgeadapt.data import frontnet
from edgeadapt.data.frames import OUTPUT_NAMES
from edgeadapt.data.general import CHANNELS, write_dataset
from edgeadapt.data.store import SPLITS
from edgeadapt.errors import EdgeadaptError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pnm", ".gif", ".tif", ".tiff", ".webp")
FILE_COLUMNS = ("file", "filename", "image", "path")
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def import_dataset(source, out_dir, labels=None, task=None, channels=None, val_fraction=0.15,
                   test_fraction=0.15, seed=0) -> dict:
    """Read `source`, check it whole, write the general folder `out_dir`; returns its meta.json."""
    src = Path(source)
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise EdgeadaptError(f"--val-fraction {val_fraction} and --test-fraction {test_fraction} must be in [0, 1) and sum below 1")
    if channels is not None and int(channels) not in CHANNELS:
        raise EdgeadaptError(f"--channels {channels} (expected 1 or 3)")
    if src.is_file() and src.suffix.lower() == ".npz":
        data = _from_npz(src, task)
    elif src.is_dir() and frontnet.available_sizes(src):
        data = _from_frontnet(src)
    elif src.is_dir():
        data = _from_image_folder(src, labels, task, channels)
    elif not src.exists():
        raise EdgeadaptError(f"{src}: no such file or folder")
    else:
        raise EdgeadaptError(f"{src}: not a dataset source (expected a .npz file, an image folder or PULP-Frontnet pickles)")
    if channels is not None and data["images"][next(iter(data["images"]))].shape[-1] != int(channels):
        data["images"] = {k: _to_channels(v, int(channels)) for k, v in data["images"].items()}
    splits = _split(data, val_fraction, test_fraction, seed)
    return write_dataset(out_dir, splits, data["task"], data.get("classes"), data.get("outputs"), source=src.name)


# ----------------------------------------------------------------------------- splits


def assign_splits(n, sequence, val_fraction, test_fraction, seed) -> dict:
    """split -> sorted frame indices; whole sequences move together when sequence ids are given."""
    groups = np.arange(n) if sequence is None else np.unique(sequence, return_inverse=True)[1]
    n_groups = int(groups.max()) + 1 if n else 0
    order = np.random.RandomState(seed).permutation(n_groups)
    sizes = np.bincount(groups, minlength=n_groups)[order]
    ends = np.cumsum(sizes)
    test_groups = order[ends <= round(test_fraction * n)] if test_fraction else order[:0]
    rest = order[len(test_groups):]
    rest_ends = np.cumsum(np.bincount(groups, minlength=n_groups)[rest])
    val_groups = rest[rest_ends <= round(val_fraction * n)] if val_fraction else rest[:0]
    which = np.zeros(n_groups, dtype=np.int8)
    which[val_groups], which[test_groups] = 1, 2
    return {s: np.flatnonzero(which[groups] == i) for i, s in enumerate(SPLITS)}


def _split(data, val_fraction, test_fraction, seed) -> dict:
    """{split: (images, labels, sequence)} from the source's own splits or a seeded assignment."""
    images, labels, sequence = data["images"], data["labels"], data["sequence"]
    if set(images) == {"all"}:
        n = len(images["all"])
        parts = assign_splits(n, sequence["all"], val_fraction, test_fraction, seed)
        return {s: _take(data, "all", idx) for s, idx in parts.items()}
    if "train" not in images:
        raise EdgeadaptError(f"{data['where']}: explicit splits without a train split (found {', '.join(sorted(images))})")
    out = {}
    for split in SPLITS:
        if split in images:
            out[split] = _take(data, split, np.arange(len(images[split])))
    missing = [s for s in ("val", "test") if s not in out]
    if missing:  # carve the missing held-out splits out of train
        n = len(images["train"])
        parts = assign_splits(n, sequence["train"], val_fraction if "val" in missing else 0.0,
                              test_fraction if "test" in missing else 0.0, seed)
        for split in missing:
            out[split] = _take(data, "train", parts[split])
        out["train"] = _take(data, "train", parts["train"])
    return out


def _take(data, key, idx):
    labels, sequence = data["labels"][key], data["sequence"][key]
    return (data["images"][key][idx], None if labels is None else labels[idx], None if sequence is None else sequence[idx])


# ----------------------------------------------------------------------------- images and labels


def _as_nhwc(images, where):
    """(N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1, 3 -> (N, H, W, C) uint8 or float32."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    elif x.ndim == 4 and x.shape[3] not in CHANNELS and x.shape[1] in CHANNELS:
        x = x.transpose(0, 2, 3, 1)
    if x.ndim != 4 or x.shape[3] not in CHANNELS:
        raise EdgeadaptError(f"{where}: images of shape {x.shape} (expected (N, H, W) or (N, H, W, C) with C = 1 or 3)")
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise EdgeadaptError(f"{where}: integer pixel values {int(x.min())}..{int(x.max())} outside 0..255")
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise EdgeadaptError(f"{where}: images contain NaN or infinity")
        return np.ascontiguousarray(x)
    raise EdgeadaptError(f"{where}: images of dtype {x.dtype} (expected uint8, integer or float pixels)")


def _to_channels(x, channels):
    if channels == 3:
        return np.ascontiguousarray(np.repeat(x, 3, axis=3))
    grey = x.astype(np.float64) @ np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma
    return (np.clip(np.floor(grey + 0.5), 0, 255).astype(np.uint8) if x.dtype == np.uint8 else grey.astype(np.float32))[..., None]


def _labels_task(labels, task, where):
    """(task, labels array, classes, outputs) for a label array of a .npz source."""
    if labels is None:
        if task not in (None, "none"):
            raise EdgeadaptError(f"{where}: --task {task} but the source has no labels")
        return "none", None, None, None
    y = np.asarray(labels)
    if task is None:
        task = "classification" if y.ndim == 1 and np.issubdtype(y.dtype, np.integer) else "regression"
    if task == "none":
        return "none", None, None, None
    if task == "classification":
        if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating) and np.all(y == np.rint(y)))):
            raise EdgeadaptError(f"{where}: classification labels must be integer class ids (N,), got {y.dtype} {y.shape}")
        y = y.astype(np.int64)
        if y.size and y.min() < 0:
            raise EdgeadaptError(f"{where}: negative class id {int(y.min())}")
        return task, y.astype(np.int32), [str(i) for i in range(int(y.max(initial=0)) + 1)], None
    if not np.issubdtype(y.dtype, np.number):
        raise EdgeadaptError(f"{where}: regression labels must be numeric, got {y.dtype}")
    y = y.astype(np.float32).reshape(len(y), -1)
    if not np.isfinite(y).all():
        raise EdgeadaptError(f"{where}: labels contain NaN or infinity")
    return "regression", y, None, [f"y{i}" for i in range(y.shape[1])]


# ----------------------------------------------------------------------------- .npz


def _npz_key(files, split, kind):
    names = {"images": ("images", "x", "X"), "labels": ("labels", "y", "Y", "targets"), "sequence": ("sequence",)}[kind]
    for name in names:
        for key in ((name,) if split == "all" else (f"{split}_{name}", f"{name}_{split}")):
            if key in files:
                return key
    return None


def _from_npz(path, task):
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:
        raise EdgeadaptError(f"{path}: not a readable .npz of arrays ({type(exc).__name__})") from None
    split_names = [s for s in ("all", "train", "val", "test") if _npz_key(arrays, s, "images")]
    if not split_names:
        raise EdgeadaptError(f"{path}: no image array (expected 'images' or 'x', or per split 'train_images' / 'x_train')")
    if "all" in split_names and len(split_names) > 1:
        raise EdgeadaptError(f"{path}: holds both 'images' and per-split image arrays")
    data = {"where": str(path), "images": {}, "labels": {}, "sequence": {}}
    found = None
    for split in split_names:
        where = f"{path} ({_npz_key(arrays, split, 'images')})"
        images = _as_nhwc(arrays[_npz_key(arrays, split, "images")], where)
        key = _npz_key(arrays, split, "labels")
        labels = arrays[key] if key else None
        if labels is not None and len(labels) != len(images):
            raise EdgeadaptError(f"{path}: '{key}' holds {len(labels)} labels for {len(images)} images")
        seq_key = _npz_key(arrays, split, "sequence")
        seq = arrays[seq_key] if seq_key else None
        if seq is not None and (seq.shape != (len(images),) or not np.issubdtype(seq.dtype, np.integer)):
            raise EdgeadaptError(f"{path}: '{seq_key}' must be integer (N,) for {len(images)} images, got {seq.dtype} {seq.shape}")
        t, y, classes, outputs = _labels_task(labels, task, f"{path} ({key})")
        if found is not None and (t != found[0] or (t == "regression" and y.shape[1] != len(found[2]))):
            raise EdgeadaptError(f"{path}: the {split} labels do not have the same form as the {split_names[0]} labels")
        if found is not None and t == "classification" and len(classes) > len(found[1]):
            found = (t, classes, outputs)
        elif found is None:
            found = (t, classes, outputs)
        data["images"][split], data["labels"][split], data["sequence"][split] = images, y, seq
    data["task"], data["classes"], data["outputs"] = found
    return data


# ----------------------------------------------------------------------------- PULP-Frontnet


def _from_frontnet(path):
    from edgeadapt.data.loader import load_split

    data = {"where": str(path), "images": {}, "labels": {}, "sequence": {}, "task": "regression",
            "classes": None, "outputs": list(OUTPUT_NAMES)}
    for split in SPLITS:
        frames = load_split(path, split)
        data["images"][split] = frames.images[..., None]
        data["labels"][split] = frames.labels
        data["sequence"][split] = frames.sequence
    return data


# ----------------------------------------------------------------------------- image folder


def _image_files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_image(path, channels):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if channels is None:
                channels = 1 if im.mode in ("1", "L", "I;16", "I", "F") else 3
            x = np.asarray(im.convert("L" if channels == 1 else "RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise EdgeadaptError(f"{path}: not a readable image ({type(exc).__name__})") from None
    return x[..., None] if x.ndim == 2 else x


def _stack(paths, channels, root):
    first = _read_image(paths[0], channels)
    images = np.empty((len(paths), *first.shape), dtype=np.uint8)
    images[0] = first
    for i, p in enumerate(paths[1:], 1):
        x = _read_image(p, first.shape[2])
        if x.shape != first.shape:
            raise EdgeadaptError(f"{p}: image is {x.shape[1]}x{x.shape[0]}, the first ({paths[0].relative_to(root)}) is "
                                 f"{first.shape[1]}x{first.shape[0]}: every image must have one size")
        images[i] = x
    return images


def _from_image_folder(folder, labels_csv, task, channels):
    files = _image_files(folder)
    if not files:
        raise EdgeadaptError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES[:4])}, ...) in the folder")
    if labels_csv is None:
        return _from_class_folders(folder, files, task, channels)
    rows, columns = _read_csv(labels_csv)
    file_col = next((c for c in FILE_COLUMNS if c in columns), columns[0])
    by_name = {str(p.relative_to(folder)).replace("\\", "/"): p for p in files}
    paths, seen = [], set()
    for i, row in enumerate(rows, 2):
        name = row[file_col].strip()
        if name not in by_name:
            raise EdgeadaptError(f"{labels_csv} line {i}: '{name}' is not an image in {folder}")
        if name in seen:
            raise EdgeadaptError(f"{labels_csv} line {i}: '{name}' is listed twice")
        seen.add(name)
        paths.append(by_name[name])
    unlisted = sorted(set(by_name) - seen)
    if unlisted:
        raise EdgeadaptError(f"{labels_csv}: {len(unlisted)} images of {folder} have no label row (first: '{unlisted[0]}')")
    images = _stack(paths, channels, folder)
    splits = None
    if "split" in columns:
        splits = []
        for i, row in enumerate(rows, 2):
            s = SPLIT_ALIASES.get(row["split"].strip().lower())
            if s is None:
                raise EdgeadaptError(f"{labels_csv} line {i}: split '{row['split']}' (expected train, val or test)")
            splits.append(s)
    sequence = None
    if "sequence" in columns:
        sequence = np.array([_csv_int(r["sequence"], labels_csv, i, "sequence") for i, r in enumerate(rows, 2)], np.int64)
    label_cols = [c for c in columns if c not in (file_col, "split", "sequence")]
    t, y, classes, outputs = _csv_labels(rows, label_cols, task, labels_csv)
    data = {"where": str(labels_csv), "task": t, "classes": classes, "outputs": outputs,
            "images": {}, "labels": {}, "sequence": {}}
    keys = {"all": np.arange(len(paths))} if splits is None else {
        s: np.array([i for i, v in enumerate(splits) if v == s], dtype=np.int64) for s in SPLITS if s in splits}
    for key, idx in keys.items():
        data["images"][key] = images[idx]
        data["labels"][key] = None if y is None else y[idx]
        data["sequence"][key] = None if sequence is None else sequence[idx]
    return data


def _read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            reader.fieldnames = columns
            rows = list(reader)
    except FileNotFoundError:
        raise EdgeadaptError(f"{path}: no such label file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EdgeadaptError(f"{path}: not a readable CSV file ({type(exc).__name__})") from None
    if not columns or not rows:
        raise EdgeadaptError(f"{path}: needs a header row and at least one label row")
    for i, row in enumerate(rows, 2):
        if None in row or any(v is None for v in row.values()):
            raise EdgeadaptError(f"{path} line {i}: {len(columns)} columns expected ({', '.join(columns)})")
    return rows, columns


def _csv_int(text, path, line, what):
    try:
        return int(text)
    except ValueError:
        raise EdgeadaptError(f"{path} line {line}: {what} '{text}' is not an integer") from None


def _csv_labels(rows, cols, task, path):
    if task == "none" or (task is None and not cols):
        return "none", None, None, None
    if not cols:
        raise EdgeadaptError(f"{path}: no label column (besides the file, split and sequence columns)")
    values = [[r[c].strip() for c in cols] for r in rows]
    numeric = all(_is_float(v) for row in values for v in row)
    integer = numeric and all(float(v) == int(float(v)) for row in values for v in row)
    if task is None:
        task = "classification" if len(cols) == 1 and (integer or not numeric) else "regression"
    if task == "classification":
        if len(cols) != 1:
            raise EdgeadaptError(f"{path}: a classification label file has one label column, found {len(cols)} ({', '.join(cols)})")
        names = [row[0] for row in values]
        if integer:
            ids = np.array([int(float(v)) for v in names], np.int64)
            if ids.min() < 0:
                raise EdgeadaptError(f"{path}: negative class id {int(ids.min())}")
            return task, ids.astype(np.int32), [str(i) for i in range(int(ids.max()) + 1)], None
        classes = sorted(set(names))
        index = {c: i for i, c in enumerate(classes)}
        return task, np.array([index[v] for v in names], np.int32), classes, None
    bad = next(((i, v) for i, row in enumerate(values, 2) for v in row if not _is_float(v)), None)
    if bad:
        raise EdgeadaptError(f"{path} line {bad[0]}: regression label '{bad[1]}' is not a number")
    y = np.array([[float(v) for v in row] for row in values], np.float32)
    if not np.isfinite(y).all():
        raise EdgeadaptError(f"{path}: labels contain NaN or infinity")
    return "regression", y, None, list(cols)


def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _from_class_folders(folder, files, task, channels):
    """ImageFolder layout: DIR/<class>/<image>; class ids in sorted name order."""
    classes = sorted({p.relative_to(folder).parts[0] for p in files if len(p.relative_to(folder).parts) > 1})
    loose = [p for p in files if len(p.relative_to(folder).parts) == 1]
    if not classes or loose:
        raise EdgeadaptError(f"{folder}: images need a --labels CSV, or one sub-folder per class with no loose images"
                             + (f" (loose: '{loose[0].name}')" if loose and classes else ""))
    if task not in (None, "classification"):
        raise EdgeadaptError(f"{folder}: class sub-folders give a classification dataset, not --task {task}")
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[p.relative_to(folder).parts[0]] for p in files], np.int32)
    return {"where": str(folder), "task": "classification", "classes": classes, "outputs": None,
            "images": {"all": _stack(files, channels, folder)}, "labels": {"all": labels}, "sequence": {"all": None}}
