"""PULP-Frontnet (Palossi et al., IEEE IoT Journal 2022), as in the published PyTorch code.

conv 5x5/s2 + BN + ReLU + maxpool 2x2, then three blocks of two 3x3 convs (c, 2c, 4c channels, the
first of each with stride 2), BN + ReLU after every conv, dropout, and one fully-connected layer to
the pose (x, y, z, phi). Convs have no bias: the BN that follows absorbs it. The published model
takes raw 0..255 pixels; here the input is edgeadapt's normalized (p - 128) / 256 (decision D2),
which changes nothing but the scale the first layer learns.
"""

import torch
from torch import nn


def conv_bn_relu(c_in, c_out, kernel, stride):
    return [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class Frontnet(nn.Module):
    def __init__(self, input_hw=(96, 160), channels=32, outputs=4, dropout=0.5):
        super().__init__()
        self.input_hw = tuple(input_hw)
        h, w = input_hw
        c = channels
        self.features = nn.Sequential(
            *conv_bn_relu(1, c, 5, 2),
            nn.MaxPool2d(2, 2),
            *conv_bn_relu(c, c, 3, 2),
            *conv_bn_relu(c, c, 3, 1),
            *conv_bn_relu(c, 2 * c, 3, 2),
            *conv_bn_relu(2 * c, 2 * c, 3, 1),
            *conv_bn_relu(2 * c, 4 * c, 3, 2),
            *conv_bn_relu(4 * c, 4 * c, 3, 1),
        )
        # spatial size after /4 (conv + pool) and three stride-2 convs, with "same" padding
        fh, fw = _frontnet_feature_hw(h, w)
        self.fc_nodes = 4 * c * fh * fw
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.fc_nodes, outputs)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.fc(self.dropout(x))


def _conv_out(n, kernel, stride, pad):
    return (n + 2 * pad - kernel) // stride + 1


def _frontnet_feature_hw(h, w):
    h, w = _conv_out(h, 5, 2, 2), _conv_out(w, 5, 2, 2)
    h, w = h // 2, w // 2
    for _ in range(3):
        h, w = _conv_out(h, 3, 2, 1), _conv_out(w, 3, 2, 1)
    return h, w
