"""The in-memory form of a dataset split and the network's input normalization."""

from dataclasses import dataclass

import numpy as np

OUTPUT_NAMES = ("x", "y", "z", "phi")


@dataclass
class Frames:
    """Greyscale frames with their pose labels, in temporal order within each sequence.

    images uint8 (N, H, W); labels float32 (N, 4) = x, y, z [m], phi [rad] of the subject's head in
    the drone's horizontal frame; sequence and subject int32 (N,).
    """

    images: np.ndarray
    labels: np.ndarray
    sequence: np.ndarray
    subject: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def size(self) -> tuple:
        """(height, width) of the frames."""
        return tuple(int(d) for d in self.images.shape[1:3])

    def subset(self, indices) -> "Frames":
        idx = np.asarray(indices)
        return Frames(self.images[idx], self.labels[idx], self.sequence[idx], self.subject[idx])

    def sequences(self) -> list:
        """Index arrays of the contiguous runs of equal sequence id, in order."""
        if len(self) == 0:
            return []
        cuts = np.flatnonzero(np.diff(self.sequence) != 0) + 1
        return np.split(np.arange(len(self)), cuts)

    def pick(self, frames=None, sequences=None) -> tuple:
        """(indices, description) of `frames` frames: the first ones of the split, or, with
        `sequences` K, the first frames/K of K sequences spread evenly over the split (so a short
        run still sees several subjects and scenes). Order within each sequence is kept."""
        n_all = len(self)
        n = n_all if frames is None else max(0, min(int(frames), n_all))
        if sequences is None:
            return np.arange(n), f"first {n} frames"
        runs = self.sequences()
        k = max(1, min(int(sequences), len(runs), n or 1))
        chosen = [runs[int(i)] for i in np.linspace(0, len(runs) - 1, k).round().astype(int)]
        share = [n // k + (1 if i < n % k else 0) for i in range(k)]
        picked = [run[:m] for run, m in zip(chosen, share)]
        indices = np.concatenate(picked) if picked else np.arange(0)
        return indices, f"{len(indices)} frames from {k} sequences"


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> float32 (N, 1, H, W) = (p - 128) / 256: exact in int8 with FL 8 (D2)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"normalize expects uint8 (N, H, W) images, got {images.dtype} {images.shape}")
    return ((images.astype(np.float32) - 128.0) * (1.0 / 256.0))[:, None, :, :]
