"""Loader of the released PULP-Frontnet data: pandas DataFrame pickles.

Files (either size, both may sit in one folder): `160x96OthersTrainsetAug.pickle`,
`160x96StrangersTestset.pickle`, `80x48OthersTrainsetAug.pickle`, `80x48StrangersTestset.pickle`.
Columns: x (one flattened uint8 image per row), y (x, y, z, phi), h, w, c (read from row 0).

Splits as in pulp-frontnet's DataProcessor: val = the first int(0.2 N) indices of
np.random.seed(1749)'s permutation of the train pickle, train = the rest; test = the Strangers
pickle. Within each split the frames keep their file order (the selected indices are sorted).
The pickles carry no sequence or subject id: a new sequence starts wherever the label jumps (more
than SEQUENCE_JUMP_M in position or SEQUENCE_JUMP_RAD in yaw between consecutive rows), and the
subject id is set to the sequence id (a proxy: the test subjects are still unseen in training).
"""

import pickle
import zipfile
from pathlib import Path

import numpy as np

from edgeadapt.data.camera import SIZES
from edgeadapt.data.frames import Frames
from edgeadapt.errors import EdgeadaptError

TRAIN_FILE = "{size}OthersTrainsetAug.pickle"
TEST_FILE = "{size}StrangersTestset.pickle"
VAL_FRACTION = 0.2
VAL_SEED = 1749
SEQUENCE_JUMP_M = 0.5
SEQUENCE_JUMP_RAD = 0.7
DEFAULT_SIZE = "160x96"


def available_sizes(data_dir) -> list:
    """Sizes ('160x96', '80x48') for which the folder holds at least one Frontnet pickle."""
    d = Path(data_dir)
    return [s for s in SIZES if (d / TRAIN_FILE.format(size=s)).is_file() or (d / TEST_FILE.format(size=s)).is_file()]


def pick_size(data_dir, size=None) -> str:
    sizes = available_sizes(data_dir)
    if size is not None:
        if size not in sizes:
            raise EdgeadaptError(f"{data_dir}: no PULP-Frontnet pickles of size {size} (found: {', '.join(sizes) or 'none'})")
        return size
    return DEFAULT_SIZE if DEFAULT_SIZE in sizes else sizes[0]


SPLITS = ("train", "val", "test")  # no never-seen-environment split in the released data


def load_frontnet_split(data_dir, split: str, size=None) -> Frames:
    size = pick_size(data_dir, size)
    if split == "test":
        images, labels = read_pickle(Path(data_dir) / TEST_FILE.format(size=size), size)
        return _with_sequences(images, labels)
    images, labels = read_pickle(Path(data_dir) / TRAIN_FILE.format(size=size), size)
    val_idx, train_idx = train_val_indices(len(labels))
    idx = val_idx if split == "val" else train_idx
    return _with_sequences(images[idx], labels[idx])


def train_val_indices(n: int):
    """(val, train) sorted index arrays: pulp-frontnet's seed-1749 permutation, 20 % held out."""
    n_val = int(float(n) * VAL_FRACTION)
    perm = np.random.RandomState(VAL_SEED).permutation(n)
    return np.sort(perm[:n_val]), np.sort(perm[n_val:])


def read_pickle(path: Path, size: str):
    """images uint8 (N, H, W), labels float32 (N, 4) from one DataFrame pickle, with checks."""
    import pandas as pd

    try:
        df = pd.read_pickle(path)
    except FileNotFoundError:
        raise EdgeadaptError(f"{path}: missing dataset file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError,
            OSError, IndexError, KeyError, zipfile.BadZipFile) as exc:
        raise EdgeadaptError(f"{path}: corrupt dataset file ({type(exc).__name__})") from None
    if not isinstance(df, pd.DataFrame):
        raise EdgeadaptError(f"{path}: not a pandas DataFrame (got {type(df).__name__})")
    missing = [c for c in ("x", "y", "h", "w", "c") if c not in df.columns]
    if missing:
        raise EdgeadaptError(f"{path}: column '{missing[0]}' missing (expected x, y, h, w, c)")
    if len(df) == 0:
        raise EdgeadaptError(f"{path}: the DataFrame has no rows")
    try:
        h, w, c = (int(df[k].values[0]) for k in ("h", "w", "c"))
    except (TypeError, ValueError):
        raise EdgeadaptError(f"{path}: h, w, c of row 0 are not integers") from None
    want_w, want_h = SIZES[size]
    if (w, h) != (want_w, want_h) or c != 1:
        raise EdgeadaptError(f"{path}: images are {w}x{h}x{c}, expected {want_w}x{want_h}x1 greyscale")

    rows = df["x"].values
    images = np.empty((len(rows), h, w), dtype=np.uint8)
    for i, row in enumerate(rows):
        pixels = np.asarray(row).reshape(-1)
        if pixels.size != h * w:
            raise EdgeadaptError(f"{path}: row {i} holds {pixels.size} pixels, expected {h}x{w} = {h * w}")
        if pixels.dtype != np.uint8:
            if not np.issubdtype(pixels.dtype, np.number) or pixels.min() < 0 or pixels.max() > 255:
                raise EdgeadaptError(f"{path}: row {i} has pixel values outside 0..255")
            pixels = np.rint(pixels)
        images[i] = pixels.reshape(h, w)
    try:
        labels = np.vstack([np.asarray(y, dtype=np.float32).reshape(1, -1) for y in df["y"].values])
    except (TypeError, ValueError):
        raise EdgeadaptError(f"{path}: labels (column y) are not numeric vectors") from None
    if labels.shape[1] != 4:
        raise EdgeadaptError(f"{path}: labels have {labels.shape[1]} values per row, expected 4 (x, y, z, phi)")
    if not np.isfinite(labels).all():
        raise EdgeadaptError(f"{path}: labels contain NaN or infinity (row {int(np.argwhere(~np.isfinite(labels))[0, 0])})")
    return images, labels


def sequence_ids(labels) -> np.ndarray:
    """A new id wherever the pose jumps between consecutive rows."""
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int32)
    d = np.diff(labels, axis=0)
    jump = (np.linalg.norm(d[:, :3], axis=1) > SEQUENCE_JUMP_M) | (np.abs(d[:, 3]) > SEQUENCE_JUMP_RAD)
    return np.concatenate([[0], np.cumsum(jump)]).astype(np.int32)


def _with_sequences(images, labels) -> Frames:
    seq = sequence_ids(labels)
    return Frames(np.ascontiguousarray(images), np.ascontiguousarray(labels, dtype=np.float32), seq, seq.copy())
