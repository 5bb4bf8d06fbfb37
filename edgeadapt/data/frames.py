"""The in-memory form of a dataset split and the network's default input normalization."""

from dataclasses import dataclass, field

import numpy as np

OUTPUT_NAMES = ("x", "y", "z", "phi")
TASKS = ("pose", "regression", "classification", "none")


@dataclass
class Frames:
    """Frames with their labels, in temporal order within each sequence.

    images: uint8 or float32, (N, H, W) for one channel, (N, H, W, 3) for RGB (HWC).
    labels: by task
      pose            float32 (N, 4) = x, y, z [m], phi [rad] of the subject's head in the drone's
                      horizontal frame (the synthetic and PULP-Frontnet folders);
      regression      float32 (N, K), any K >= 1, named by `output_names`;
      classification  int32 (N,) class ids 0..len(classes)-1;
      none            float32 (N, 0).
    sequence, subject: int32 (N,); a dataset without sequence ids gives every frame its own.
    """

    images: np.ndarray
    labels: np.ndarray
    sequence: np.ndarray
    subject: np.ndarray
    task: str = "pose"
    output_names: tuple = OUTPUT_NAMES
    classes: tuple = field(default_factory=tuple)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> tuple:
        """(height, width) of the frames."""
        return tuple(int(d) for d in self.images.shape[1:3])

    @property
    def channels(self) -> int:
        return 1 if self.images.ndim == 3 else int(self.images.shape[3])

    @property
    def has_labels(self) -> bool:
        return self.task != "none"

    def subset(self, indices) -> "Frames":
        idx = np.asarray(indices)
        return Frames(self.images[idx], self.labels[idx], self.sequence[idx], self.subject[idx],
                      self.task, self.output_names, self.classes)

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
    """uint8 (N, H, W[, C]) -> float32 (N, C, H, W) = (p - 128) / 256: exact in int8 with FL 8 (D2)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"normalize expects uint8 (N, H, W) or (N, H, W, C) images, got {images.dtype} {images.shape}")
    x = (images.astype(np.float32) - 128.0) * (1.0 / 256.0)
    return x[:, None, :, :] if x.ndim == 3 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))
