"""The integer reference's outputs of a model on a set of frames, computed once and cached.

The cache key is the model file's SHA-256 and the frames' SHA-256, so a re-quantized model or
other frames can never be served stale outputs. Cache files are written atomically; a damaged
one is recomputed. The folder is $EDGEADAPT_CACHE, else $XDG_CACHE_HOME/edgeadapt, else
~/.cache/edgeadapt.
"""

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    if os.environ.get("EDGEADAPT_CACHE"):
        return Path(os.environ["EDGEADAPT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgeadapt"


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def frames_sha256(images) -> str:
    images = np.ascontiguousarray(images, dtype=np.uint8)
    h = hashlib.sha256(str(images.shape).encode())
    h.update(images.tobytes())
    return h.hexdigest()


def reference_outputs(eaq_path, images, graph=None, use_cache=True) -> np.ndarray:
    """run_int of the .eaq model on uint8 (N, H, W) images: int64 (N, n_outputs)."""
    from edgeadapt.quant.artifact import load_eaq
    from edgeadapt.quant.reference import run_int

    images = np.ascontiguousarray(images, dtype=np.uint8)
    path = cache_dir() / "reference" / f"{file_sha256(eaq_path)[:24]}-{frames_sha256(images)[:24]}.npy"
    if use_cache and path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.ndim == 2 and cached.shape[0] == len(images):
                return cached.astype(np.int64)
        except (OSError, ValueError):
            pass  # damaged: recompute below
    graph = graph if graph is not None else load_eaq(eaq_path)
    out = np.asarray(run_int(graph, images), dtype=np.int64)
    if use_cache:
        _save_atomic(path, out)
    return out


def _save_atomic(path: Path, array) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass  # a cache that cannot be written only costs time
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
