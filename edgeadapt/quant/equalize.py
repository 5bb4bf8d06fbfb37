"""Activation range equalization: give every channel of a tensor the same share of its int8 codes.

An activation tensor has one FL for all its channels, so a channel whose values stay below 1.4
while its neighbours reach 10 uses a handful of codes (MobileNet's depthwise outputs are the worst
case). ReLU and the identity are positively homogeneous, so scaling output channel c of a layer by
s_c > 0 (its weight row and bias) and dividing the consumer's weights that read channel c by s_c
gives the same network in float, with better balanced ranges (the cross-layer equalization of
Nagel et al., "Data-Free Quantization", driven here by measured activation ranges).

Max pool, flatten, average pooling and global average pooling commute with a positive per-channel
scale, so a layer is equalized when its output reaches exactly one conv/fc through those ops only.
A depthwise consumer absorbs the scale exactly (one input channel per weight row, one FL per row);
a dense one loses precision in the rescaled columns, so there the rescaling is kept only if the
consumer's quantized output error drops. A relu6 layer (not homogeneous), a tensor read by several
nodes, an add, a concat or a graph output stops it. Scales are capped at MAX_SCALE.
"""

import numpy as np
import torch

from edgeadapt.quant import formats, intops
from edgeadapt.quant.calibrate import sample_values
from edgeadapt.quant.qsim import linear_op

MAX_SCALE = 4.0  # largest per-channel gain; the consumer's weight column shrinks by as much
RANGE_QUANTILE = 0.99  # a channel's range: this quantile over frames of its per-frame maximum
PASS_THROUGH = ("maxpool", "flatten", "avgpool", "gap")
CHECK_FRAMES = 32  # calibration frames used to decide whether a dense consumer gains


def channel_ranges(t: torch.Tensor) -> np.ndarray:
    """Robust per-channel range of an (N, C, H, W) or (N, C) activation: a high quantile over the
    frames of each frame's channel maximum (one outlier frame does not set the scale)."""
    per_frame = t.abs().amax(dim=(2, 3)) if t.dim() == 4 else t.abs()
    return torch.quantile(per_frame.double(), RANGE_QUANTILE, dim=0).numpy()


def consumer_of(graph, node):
    """The single conv/fc reached from node's output through pass-through ops, else None."""
    tensor = node.output
    while True:
        if tensor in graph.outputs:
            return None
        readers = graph.consumers(tensor)
        if len(readers) != 1:
            return None
        reader = readers[0]
        if reader.op in ("conv", "fc"):
            return reader
        if reader.op not in PASS_THROUGH or reader.attrs.get("act", "none") not in ("none", "relu"):
            return None
        tensor = reader.output


def reads_one_channel_per_row(consumer) -> bool:
    """A depthwise consumer: each weight row reads one input channel, so its per-row FL absorbs a
    per-channel scale exactly. A dense consumer would lose precision in the rescaled columns of
    every row (Frontnet: output deviation 4.3 % -> 5.6 % when always rescaled), so for a dense
    consumer the rescaling is measured first (consumer_error)."""
    return consumer.op == "conv" and consumer.weight.shape[3] == 1 and consumer.attrs.get("groups", 1) > 1


def consumer_error(consumer, x, scales, unsigned=False) -> float:
    """MSE of the consumer's pre-activation output when its input channels are scaled by `scales`,
    the input quantized at its MSE-optimal FL (uint8 codes when `unsigned`) and the compensated
    weights at 8 bits (no-clip FLs), against the float output. Units are the float output's, so
    scalings compare directly."""
    channels = len(scales)
    per_input = np.tile(scales, x.shape[1] // channels)  # a flattened input is HWC: channel = k % C
    shape = (1, -1) + (1,) * (x.dim() - 2)
    scaled = x * torch.as_tensor(per_input, dtype=x.dtype).reshape(shape)
    fl = formats.activation_fl_mse(sample_values(scaled), unsigned=unsigned)
    xq = torch.as_tensor(formats.quantize_to_grid(scaled.double().numpy(), fl, *formats.activation_range(unsigned))
                         * 2.0**-fl,
                         dtype=torch.float32)
    weight = consumer.weight / _input_channel_divisor(consumer, scales, channels)
    fl_w = formats.weight_fl_minmax(weight, 8)  # a fast stand-in for the AdaPT choice at 8 bits
    lo, hi = intops.weight_range(8)
    rows = (-1,) + (1,) * (weight.ndim - 1)
    wq = formats.quantize_to_grid(weight, fl_w.reshape(rows), lo, hi) * np.exp2(-fl_w.reshape(rows).astype(np.float64))
    ref = linear_op(consumer, x, torch.as_tensor(consumer.weight, dtype=torch.float32), None)
    out = linear_op(consumer, xq, torch.as_tensor(wq, dtype=torch.float32), None)
    return float(((out - ref) ** 2).mean())


def _input_channel_divisor(consumer, scales, channels):
    """Per weight element of the consumer: the scale of the input channel it reads."""
    w = consumer.weight
    if consumer.op == "fc":
        k = w.shape[1]
        return np.tile(scales, k // channels)[None, :]  # HWC flatten: channel = k % C
    c_out, _, _, cpg = w.shape
    groups = consumer.attrs.get("groups", 1)
    opg = c_out // groups
    index = (np.arange(c_out)[:, None] // opg) * cpg + np.arange(cpg)[None, :]
    return scales[index][:, None, None, :]


def equalize(graph, acts) -> dict:
    """Rescale channels of the float graph in place; returns {node name: scales applied}."""
    applied = {}
    for node in graph.nodes:
        if not node.has_weights or node.act not in ("none", "relu"):
            continue
        consumer = consumer_of(graph, node)
        if consumer is None or consumer.weight is None:
            continue
        ranges = channel_ranges(acts[node.output])
        top = ranges.max(initial=0.0)
        if top <= 0:
            continue
        scales = np.where(ranges > 0, np.clip(top / np.maximum(ranges, 1e-30), 1.0, MAX_SCALE), 1.0)
        if np.allclose(scales, 1.0):
            continue
        if not reads_one_channel_per_row(consumer):
            # a dense consumer pays in weight precision: rescale only if its output gets better
            x = acts[consumer.inputs[0]]
            x = x[:: max(1, len(x) // CHECK_FRAMES)]
            unsigned = intops.output_is_unsigned(node.op, node.act, [False])
            if consumer_error(consumer, x, scales, unsigned) >= consumer_error(consumer, x, np.ones_like(scales),
                                                                               unsigned):
                continue
        shape = (-1,) + (1,) * (node.weight.ndim - 1)
        node.weight = (node.weight * scales.reshape(shape)).astype(np.float32)
        if node.bias is not None:
            node.bias = (node.bias * scales).astype(np.float32)
        divisor = _input_channel_divisor(consumer, scales, len(scales))
        consumer.weight = (consumer.weight / divisor).astype(np.float32)
        applied[node.name] = scales
    return applied
