"""A MobileNetV1-style pose regressor sized for 96 KiB of activations (the pair's big model).

Like the ICRA'23 M1.0 network the DATE'24 pair uses as its big model: a strided 3x3 stem, then
depthwise-separable blocks (3x3 depthwise + BN + ReLU, 1x1 pointwise + BN + ReLU). Channels grow
as c, 2c, 4c, 4c, 8c, 8c, 16c, 16c. The head keeps the 3x5 spatial map (flatten + FC, as
Frontnet does) instead of global pooling: x, y and z are positions in the image, and averaging
them away costs accuracy.

Memory shape: the first depthwise conv is strided, so no layer ever holds a 48x80 map on both
its input and output side; with c = 16 the largest layer (input + output, int8 HWC) is the
24x40 pointwise 32->64 at 92,160 bytes, under the 96 KiB arena budget.
"""

import torch
from torch import nn

# (depthwise stride, pointwise output channels as a multiple of c), after the stem's c channels
BLOCKS = ((2, 2), (1, 4), (2, 4), (1, 8), (2, 8), (1, 16), (2, 16), (1, 16))


def _dw_separable(c_in, c_out, stride):
    return [
        nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False),
        nn.BatchNorm2d(c_in),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class MobileNetPose(nn.Module):
    def __init__(self, input_hw=(96, 160), channels=16, outputs=4, dropout=0.5):
        super().__init__()
        self.input_hw = tuple(input_hw)
        h, w = input_hw
        c = channels
        layers = [
            nn.Conv2d(1, c, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        ]
        h, w = _half(h), _half(w)
        c_in = c
        for stride, mult in BLOCKS:
            layers += _dw_separable(c_in, mult * c, stride)
            c_in = mult * c
            if stride == 2:
                h, w = _half(h), _half(w)
        self.features = nn.Sequential(*layers)
        self.fc_nodes = c_in * h * w
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.fc_nodes, outputs)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.fc(self.dropout(x))


def _half(n):
    """Output size of a 3x3, stride 2, pad 1 convolution."""
    return (n - 1) // 2 + 1
