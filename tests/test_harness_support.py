"""Shared helpers of the HIL harness tests (no tests here): a tiny exported pair and a sequence.

The pair reads 48x80 frames (3,840 bytes, a quarter of a 160x96 upload) so runs over the host
build and QEMU take seconds; the small model has a fifth (auxiliary) output like the shipped one.
The frames are a bright blob drifting over noise that jumps now and then, so a temporal policy
has consecutive-output changes to react to.
"""

import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
HW = (48, 80)


class TinyBigPose(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU())
        self.fc = nn.Linear(16 * 3 * 5, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class TinySmallPose(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, 4, 1), nn.ReLU(), nn.Conv2d(4, 8, 3, 2, 1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def blob_sequence(n, seed=0, jump_every=5):
    """uint8 (n, 48, 80) frames and (n, 4) labels (blob centre and size, as a stand-in pose)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HW[0], 0:HW[1]]
    cx, cy, radius, amp = 40.0, 24.0, 7.0, 160.0
    frames, labels = [], []
    for t in range(n):
        if t % jump_every == jump_every - 1:
            cx, cy = rng.uniform(10, 70), rng.uniform(8, 40)
            radius, amp = rng.uniform(3, 15), rng.uniform(60, 220)
        cx += rng.normal(0, 1.0)
        cy += rng.normal(0, 0.7)
        blob = amp * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2))
        frames.append(np.clip(40 + blob + rng.normal(0, 6, HW), 0, 255).astype(np.uint8))
        labels.append([cx / 40 - 1, cy / 24 - 1, radius / 10, amp / 200])
    return np.stack(frames), np.asarray(labels, dtype=np.float32)


def tiny_graphs(seed=0):
    from edgeadapt.codegen.quickquant import quick_quantize
    from edgeadapt.ir.onnx_import import import_torch

    torch.manual_seed(seed)
    big = import_torch(TinyBigPose().eval(), HW, "tiny-big-pose")
    small = import_torch(TinySmallPose().eval(), HW, "tiny-small-pose")
    calib, _ = blob_sequence(8, seed=seed + 11)
    return quick_quantize(big, calib, 8), quick_quantize(small, calib, 8)


def tiny_export(target, dest_root, seed=0):
    """Export the tiny pair for target into dest_root/<target> (built once per session folder)."""
    from edgeadapt.codegen import export_pair

    out = Path(dest_root) / f"export-{target}"
    if (out / "manifest.json").is_file():
        return out
    big, small = tiny_graphs(seed)
    export_pair(big, small, target, out)
    return out


def write_dataset(folder, n_test=24, seed=0, sequences=2):
    """A synthetic-format dataset folder (80x48) whose test split is the blob sequence."""
    from edgeadapt.data import store

    folder = Path(folder)
    images, labels = blob_sequence(n_test, seed=seed)
    seq = np.repeat(np.arange(sequences, dtype=np.int32), -(-n_test // sequences))[:n_test]
    arrays = {"images": images, "labels": labels, "sequence": seq, "subject": seq.copy()}
    for split in store.SPLITS:
        store.write_split(folder / f"{split}.npz", arrays)
    store.write_meta(folder, {"format": store.FORMAT_NAME, "format_version": store.FORMAT_VERSION,
                              "size": "80x48", "width": 80, "height": 48, "frames": n_test * 3})
    return folder


def have(tool):
    return shutil.which(tool) is not None
