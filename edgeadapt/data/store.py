"""The synthetic dataset's files: DIR/meta.json and DIR/{train,val,test,test-unseen}.npz (docs/artifacts.md).

The .npz files are written by hand with fixed zip timestamps (np.savez stamps the current time), so
the same seed gives byte-identical files. Every file is written to a temporary name and renamed;
meta.json is written last and marks the folder complete.
"""

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from edgeadapt.data.frames import Frames
from edgeadapt.errors import EdgeadaptError
from edgeadapt.textio import write_json

FORMAT_NAME = "edgeadapt-synth"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")  # every folder has these; a synthetic one also has test-unseen
ARRAYS = ("images", "labels", "sequence", "subject")  # required; "conditions" is optional
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def meta_path(data_dir) -> Path:
    return Path(data_dir) / "meta.json"


def is_synthetic(data_dir) -> bool:
    return meta_path(data_dir).is_file()


def read_meta(data_dir) -> dict:
    return read_meta_file(meta_path(data_dir), FORMAT_NAME, FORMAT_VERSION, "a synthetic dataset folder")


def read_meta_file(path, format_name: str, format_version: int, folder_kind: str) -> dict:
    """A dataset folder's meta.json of the given format and version, or a one-line error naming the file."""
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgeadaptError(f"{path}: missing (not {folder_kind})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgeadaptError(f"{path}: corrupt metadata ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        raise EdgeadaptError(f"{path}: not an {format_name} metadata file")
    if meta.get("format_version") != format_version:
        raise EdgeadaptError(
            f"{path}: format version {meta.get('format_version')} is not supported (expected {format_version})"
        )
    return meta


def write_meta(data_dir, meta: dict) -> None:
    path = meta_path(data_dir)
    write_json(path, meta)
    _readable(path)


def write_split(path, arrays: dict) -> None:
    """Write arrays as an uncompressed .npz with fixed timestamps, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            for name, array in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue())
        _readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _readable(path) -> None:
    """Temporary files are created 0600; give the result the permissions of a normal new file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def read_split(data_dir, split: str) -> Frames:
    """Load DIR/<split>.npz and check every array's dtype and shape."""
    path = Path(data_dir) / f"{split}.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [a for a in ARRAYS if a not in npz.files]
            if missing:
                raise EdgeadaptError(f"{path}: corrupt split file (missing array '{missing[0]}')")
            arrays = {a: npz[a] for a in ARRAYS}
    except FileNotFoundError:
        raise EdgeadaptError(f"{path}: missing split file") from None
    except EdgeadaptError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError from a damaged .npy header, OSError...
        raise EdgeadaptError(f"{path}: corrupt split file ({type(exc).__name__})") from None
    images, labels = arrays["images"], arrays["labels"]
    n = images.shape[0] if images.ndim == 3 else -1
    checks = [
        (images.dtype == np.uint8 and images.ndim == 3, f"images must be uint8 (N, H, W), got {images.dtype} {images.shape}"),
        (labels.shape == (n, 4), f"labels must be (N, 4) for N = {n} images, got {labels.shape}"),
        (arrays["sequence"].shape == (n,), f"sequence must be (N,) for N = {n}, got {arrays['sequence'].shape}"),
        (arrays["subject"].shape == (n,), f"subject must be (N,) for N = {n}, got {arrays['subject'].shape}"),
    ]
    for ok, message in checks:
        if not ok:
            raise EdgeadaptError(f"{path}: {message}")
    return Frames(
        images,
        labels.astype(np.float32, copy=False),
        arrays["sequence"].astype(np.int32, copy=False),
        arrays["subject"].astype(np.int32, copy=False),
    )


def read_extra(data_dir, split: str, name: str):
    """An optional per-frame array of a synthetic split ('conditions', 'pitch'), or None."""
    path = Path(data_dir) / f"{split}.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            return npz[name] if name in npz.files else None
    except Exception as exc:
        raise EdgeadaptError(f"{path}: corrupt split file ({type(exc).__name__})") from None
