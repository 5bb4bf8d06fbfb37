"""Shared helpers of the exporter tests (no tests here): tiny quantized model pairs.

The pair covers every layer kind the runtime has: fused conv + max pool, depthwise and pointwise
convs, residual add, concat, zero-padded average pool, global average pool, relu6, 8/4/2-bit weights and raw
int32 outputs. Inputs are 48x80 (a dataset size) and the nets tiny, so an export builds and validates in seconds.
"""

import shutil

import numpy as np
import torch
from torch import nn

from edgeadapt.codegen.quickquant import quick_quantize
from edgeadapt.ir.onnx_import import import_torch

TINY_HW = (48, 80)  # the 80x48 Frontnet size: a dataset of that size exists


class TinyBig(nn.Module):
    def __init__(self, outputs=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2))
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.ReLU())
        self.pw = nn.Conv2d(8, 8, 1)
        self.pool = nn.AvgPool2d(3, 2, 1)  # zero padding counted in every window
        self.conv = nn.Sequential(nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU6())
        self.fc = nn.Linear(16 * 6 * 10, outputs)

    def forward(self, x):
        x = self.stem(x)  # 24 x 40 x 8
        y = torch.relu(x + self.pw(self.dw(x)))  # residual add
        z = self.pool(torch.cat([x, y], 1))  # concat -> 12 x 20 x 16
        return self.fc(torch.flatten(self.conv(z), 1))


class TinySmall(nn.Module):
    def __init__(self, outputs=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, 2, 1), nn.ReLU(), nn.Conv2d(4, 8, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1)
        )
        self.fc = nn.Linear(8, outputs)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def frames(n, hw=TINY_HW, seed=0):
    """uint8 frames with some structure (smooth gradients + noise), not only uniform noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : hw[0], 0 : hw[1]]
    base = (yy[None] * rng.uniform(1, 6, (n, 1, 1)) + xx[None] * rng.uniform(1, 6, (n, 1, 1))) % 256
    return np.clip(base + rng.normal(0, 20, (n, *hw)), 0, 255).astype(np.uint8)


def tiny_pair(big_bits=8, small_bits=4, seed=0):
    """(big, small) quantized graphs; big_bits may be a {node: bits} dict or 'mixed'."""
    torch.manual_seed(seed)
    big = import_torch(TinyBig().eval(), TINY_HW, "tiny-big")
    small = import_torch(TinySmall().eval(), TINY_HW, "tiny-small")
    if big_bits == "mixed":
        weighted = [n.name for n in big.nodes if n.op in ("conv", "fc")]
        big_bits = {name: (8, 4, 2)[i % 3] for i, name in enumerate(weighted)}
    calib = frames(8, seed=seed + 1)
    return quick_quantize(big, calib, big_bits), quick_quantize(small, calib, small_bits)


def have(tool):
    return shutil.which(tool) is not None
