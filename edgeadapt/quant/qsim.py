"""Batched torch execution of IR nodes, in float and in exact fixed point, for the quantizer.

The quantizer needs every layer's float output and its quantized output over hundreds of
calibration frames, many times; numpy's golden reference (reference.py) is the definition but too
slow for that loop. Here a quantized activation is held as its real value q * 2^-FL in a float
tensor. Convolutions run on the grid values in a float type wide enough that every partial sum is
an exact integer multiple of the accumulator's LSB (float32 below 2^24 LSBs, else float64), and the
requantization floor(v * 2^FL_o + 1/2) equals rshift_round of docs/fixed-point.md section 3, so
`quant_forward` is bit-exact with the reference (a test checks it).

Activations are NCHW inside (torch's layout); `flatten` and `fc` read them in HWC order, which is
the order the IR's fully-connected weights expect.
"""

import numpy as np
import torch
import torch.nn.functional as F

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.intops import AVGPOOL_FRAC_BITS, act_range, avgpool_multiplier, lut_real, relu6_limit

ACT_LO, ACT_HI = -128, 127  # int8; a uint8 tensor's codes are [0, 255] (intops.act_range)
EXACT_F32_LIMIT = 1 << 24


def images_to_input(images) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) HWC frames -> float32 (N, C, H, W) = (p - 128) / 256 (D2)."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.dim() == 4:
        x = x.permute(0, 3, 1, 2)
    return (x - 128.0) / 256.0


def hwc_flat(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, H*W*C) in the HWC order of the IR; 2-D inputs pass through."""
    if x.dim() == 4:
        return x.permute(0, 2, 3, 1).reshape(len(x), -1)
    return x


def conv_weight_oihw(w_ohwi) -> torch.Tensor:
    return torch.as_tensor(np.asarray(w_ohwi)).permute(0, 3, 1, 2).contiguous()


def linear_op(node, x, weight, bias):
    """The affine part of a conv or fc node on real values: weight in the IR's layout."""
    if node.op == "conv":
        a = node.attrs
        top, left, bottom, right = a.get("pads", (0, 0, 0, 0))
        x = F.pad(x, (left, right, top, bottom)) if any((top, left, bottom, right)) else x
        w = weight.permute(0, 3, 1, 2) if weight.dim() == 4 else weight
        return F.conv2d(x, w, bias, stride=tuple(a.get("stride", (1, 1))), groups=a.get("groups", 1),
                        dilation=tuple(a.get("dilation", (1, 1))))
    if node.op == "fc":
        return F.linear(hwc_flat(x), weight.reshape(weight.shape[0], -1), bias)
    raise EdgeadaptError(f"node {node.name}: op {node.op} has no weights")


def float_act(y, act):
    if act == "relu":
        return torch.relu(y)
    if act == "relu6":
        return torch.clamp(y, 0.0, 6.0)
    return y


def float_forward(node, inputs):
    """One node on float activations (node.weight / node.bias)."""
    x = inputs[0]
    if node.op in ("conv", "fc"):
        w = torch.as_tensor(node.weight, dtype=x.dtype)
        b = None if node.bias is None else torch.as_tensor(node.bias, dtype=x.dtype)
        return float_act(linear_op(node, x, w, b), node.act)
    if node.op == "maxpool":
        return _maxpool(node, x)
    if node.op == "avgpool":
        return float_act(_avgpool_sum(node, x) / np.prod(node.attrs["kernel"]), node.act)
    if node.op == "gap":
        return float_act(x.mean(dim=(2, 3), keepdim=True), node.act)
    if node.op == "add":
        return float_act(inputs[0] + inputs[1], node.act)
    if node.op == "concat":
        return torch.cat(inputs, dim=1)
    if node.op == "flatten":
        return hwc_flat(x)
    if node.op == "lut":
        return torch.as_tensor(lut_real(node.attrs["fn"], node.attrs, x.double().numpy()), dtype=x.dtype)
    if node.op == "resize":
        sh, sw = node.attrs["scale"]
        return x.repeat_interleave(int(sh), dim=2).repeat_interleave(int(sw), dim=3)
    raise EdgeadaptError(f"node {node.name}: unsupported op {node.op}")


def _maxpool(node, x):
    a = node.attrs
    top, left, bottom, right = a.get("pads", (0, 0, 0, 0))
    if any((top, left, bottom, right)):
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
    return F.max_pool2d(x, tuple(a["kernel"]), tuple(a.get("stride", a["kernel"])))


def _avgpool_sum(node, x):
    """Window sums; padded cells count as zeros (count_include_pad, docs/fixed-point.md 4.4)."""
    kh, kw = node.attrs["kernel"]
    top, left, bottom, right = node.attrs.get("pads", (0, 0, 0, 0))
    if any((top, left, bottom, right)):
        x = F.pad(x, (left, right, top, bottom))
    return F.avg_pool2d(x, (kh, kw), tuple(node.attrs.get("stride", (kh, kw)))) * (kh * kw)


# ----------------------------------------------------------------------------- fixed point


def requant(y, fl_out, act, unsigned=False):
    """Real value y -> act(sat(round half up(y * 2^FL_o))) as a real value (exact); sat is the
    int8 range, or [0, 255] for a uint8 output (docs/fixed-point.md section 3)."""
    lo, hi = act_range(unsigned)
    q = torch.clamp(torch.floor(y * 2.0**fl_out + 0.5), lo, hi)
    if act == "relu":
        q = torch.clamp(q, min=0)
    elif act == "relu6":
        q = torch.clamp(q, 0, relu6_limit(fl_out, unsigned))
    return q * 2.0**-fl_out


def exact_dtype(node, fl_in):
    """float32 when every partial sum is an integer below 2^24 accumulator LSBs, else float64.

    The bound assumes uint8 inputs (|x| <= 255), so it holds for either input type."""
    w = np.abs(node.qweight.astype(np.int64)).reshape(len(node.qweight), -1).sum(axis=1)
    worst = 255 * w + np.abs(node.qbias.astype(np.int64))
    return torch.float32 if int(worst.max(initial=0)) < EXACT_F32_LIMIT else torch.float64


def dequant_params(node, fl_in, dtype):
    """(weight, bias) as real values on the integer grid, in the IR layout."""
    scale = np.exp2(-node.weight_fl.astype(np.float64))
    shape = (-1,) + (1,) * (node.qweight.ndim - 1)
    w = torch.as_tensor(node.qweight.astype(np.float64) * scale.reshape(shape), dtype=dtype)
    b = torch.as_tensor(node.qbias.astype(np.float64) * scale * 2.0**-fl_in, dtype=dtype)
    return w, b


def accumulate(node, x, fl_in):
    """The exact accumulator of a conv or fc node, as a real value (acc * 2^-(FL_in + FL_w[c]))."""
    dtype = exact_dtype(node, fl_in)
    w, b = dequant_params(node, fl_in, dtype)
    return linear_op(node, x.to(dtype), w, b)


def quant_forward(node, inputs, fls, fl_out, unsigned=False):
    """One node in exact fixed point; inputs are real values on their FL grids.

    `fls` are the input FLs; `unsigned`: the output is uint8 (saturates to [0, 255] codes, section
    1.3 of docs/fixed-point.md). For a raw int32 fc output the accumulator's real value is returned.
    """
    x = inputs[0]
    if node.op in ("conv", "fc"):
        y = accumulate(node, x, fls[0])
        if node.op == "fc" and node.attrs.get("out_dtype") == "int32":
            return y.to(torch.float64)
        return requant(y, fl_out, node.act, unsigned).to(torch.float32)
    if node.op in ("maxpool", "flatten", "resize"):
        return float_forward(node, inputs)
    if node.op == "lut":
        # codes -> their byte -> the table's output code (section 4.8), as real values
        codes = torch.round(x.double() * 2.0 ** fls[0]).to(torch.int64) & 0xFF
        table = torch.as_tensor(np.asarray(node.attrs["table"], dtype=np.int64))
        return (table[codes].double() * 2.0**-fl_out).to(torch.float32)
    if node.op in ("avgpool", "gap"):
        n = int(np.prod(node.attrs["kernel"])) if node.op == "avgpool" else x.shape[2] * x.shape[3]
        total = (_avgpool_sum(node, x.double()) if node.op == "avgpool" else x.double().sum(dim=(2, 3), keepdim=True))
        # sum * M >> (16 + FL_x - FL_o): the real value is sum * M * 2^-16
        y = total * avgpool_multiplier(n) * 2.0**-AVGPOOL_FRAC_BITS
        return requant(y, fl_out, node.act, unsigned).to(torch.float32)
    if node.op == "add":
        return requant(inputs[0].double() + inputs[1].double(), fl_out, node.act, unsigned).to(torch.float32)
    if node.op == "concat":
        return torch.cat([requant(t.double(), fl_out, "none", unsigned).to(torch.float32) for t in inputs], dim=1)
    raise EdgeadaptError(f"node {node.name}: unsupported op {node.op}")


def to_codes(y, fl):
    """Real values on an int8 or uint8 grid -> int16 codes (compact storage for cached activations)."""
    return torch.round(y * 2.0**fl).to(torch.int16)


def from_codes(codes, fl, dtype=torch.float32):
    return codes.to(dtype) * 2.0**-fl
