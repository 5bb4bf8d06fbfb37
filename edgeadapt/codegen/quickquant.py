"""A plain min/max power-of-two quantization, for exporter tests and memory benchmarks.

The exporter's arithmetic and memory plan do not depend on how good the formats are, only that
they are legal (docs/fixed-point.md: shifts in [-8, 30], the accumulator bound, pool and add
limits). Activation types follow the quantizer's rule (uint8 where a tensor cannot be negative,
section 1.3), so exported models exercise both int8 and uint8 kernels. This pass picks them from
the float activations of a few frames with no calibration tricks; the real quantizer is
edgeadapt.quant.
"""

import copy
import math

import numpy as np

from edgeadapt.ir.float_exec import run_float
from edgeadapt.quant.formats import assign_activation_types
from edgeadapt.quant.intops import input_peak

INPUT_FL = 8
ACC_LIMIT = 2**30
WEIGHT_MAX = {8: 127, 4: 7, 2: 1}
WEIGHT_MIN = {8: -128, 4: -8, 2: -2}


def _fl_for(max_abs: float, limit: float) -> int:
    if max_abs <= 0:
        return 7
    return int(math.floor(math.log2(limit / max_abs)))


def quick_quantize(graph, images=None, weight_bits=8, seed: int = 0):
    """A quantized copy of a float graph.

    images: uint8 (N, H, W) calibration frames (default: 8 seeded random frames).
    weight_bits: 8, 4 or 2 for every weighted node, or {node name: bits} (default 8).
    """
    g = copy.deepcopy(graph)
    h, w, c = g.tensors[g.input].shape
    if images is None:
        images = np.random.default_rng(seed).integers(0, 256, size=(8, h, w), dtype=np.uint8)
    x = (np.asarray(images, dtype=np.float32).reshape(len(images), h, w, c) - 128.0) / 256.0
    _, acts = run_float(g, x, collect=True)
    fl = {g.input: INPUT_FL}
    g.tensors[g.input].fl = INPUT_FL
    last_fc = {g.producer(o).name for o in g.outputs if g.producer(o) is not None and g.producer(o).op == "fc"}
    assign_activation_types(g)
    for node in g.nodes:
        in_fls = [fl[t] for t in node.inputs]
        out = g.tensors[node.output]
        act_max = float(np.abs(acts[node.output]).max()) if node.output in acts else 1.0
        top_code = 255.0 if out.dtype == "uint8" else 127.0
        if node.op in ("maxpool", "flatten"):
            fl_out = in_fls[0]
        elif node.op in ("avgpool", "gap"):
            fl_out = min(max(_fl_for(act_max, top_code), in_fls[0] - 14), in_fls[0] + 15)
        elif node.op == "add":
            top = max(in_fls)
            fl_out = min(max(_fl_for(act_max, top_code), top - 30), top + 8)
        else:
            fl_out = _fl_for(act_max, top_code)
        if node.op in ("conv", "fc"):
            bits = weight_bits.get(node.name, 8) if isinstance(weight_bits, dict) else weight_bits
            raw = node.name in last_fc
            peak = input_peak(g.tensors[node.inputs[0]].dtype == "uint8")
            fl_out = _quantize_weights(node, in_fls[0], fl_out, bits, raw, peak)
            if raw:
                node.attrs["out_dtype"] = "int32"
                out.dtype = "int32"
        fl[node.output] = int(fl_out)
        out.fl = [int(in_fls[0] + f) for f in node.weight_fl] if out.dtype == "int32" else int(fl_out)
    g.meta = dict(g.meta, quantizer="codegen.quickquant (min/max, tests only)")
    return g


def _quantize_weights(node, fl_in: int, fl_out: int, bits: int, raw: bool, input_peak: int = 128) -> int:
    """Per-channel weight FL, integer weights and bias; returns the (possibly adjusted) output FL."""
    wf = node.weight.reshape(node.weight.shape[0], -1).astype(np.float64)
    bias = np.zeros(wf.shape[0]) if node.bias is None else node.bias.astype(np.float64)
    fl_w = np.array([_fl_for(float(np.abs(row).max()), WEIGHT_MAX[bits]) for row in wf], dtype=np.int64)
    if not raw:
        # keep every shift FL_in + FL_w - FL_out inside [-8, 30]
        fl_w = np.clip(fl_w, -8 - fl_in + fl_out, 30 - fl_in + fl_out)
    while True:
        q = np.clip(np.floor(wf * 2.0 ** fl_w[:, None] + 0.5), WEIGHT_MIN[bits], WEIGHT_MAX[bits])
        qb = np.floor(bias * 2.0 ** (fl_in + fl_w) + 0.5)
        peak = np.abs(qb) + input_peak * np.abs(q).sum(axis=1)
        if (peak < ACC_LIMIT).all():
            break
        fl_w = np.where(peak >= ACC_LIMIT, fl_w - 1, fl_w)
    node.weight_bits = bits
    node.qweight = q.astype(np.int8).reshape(node.weight.shape)
    node.weight_fl = fl_w.astype(np.int32)
    node.qbias = qb.astype(np.int32)
    if raw:
        return int(fl_in + fl_w.min())
    return fl_out
