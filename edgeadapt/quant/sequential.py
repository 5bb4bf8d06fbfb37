"""One sequential quantization pass over a graph: formats, AdaQuant, statistics tuning, per layer.

Layers are quantized in topological order. When layer l is reached, every earlier layer is final,
so l's input is exactly what the integer reference will feed it, and each step for l (weight
formats, AdaQuant, BN re-estimation and bias correction) sees the real quantized prefix. The pass
keeps each tensor's quantized values (exact, see qsim) and reports every layer's QSNR against the
float activations. Before the first layer every activation tensor gets its type (int8, or uint8
when it cannot be negative: docs/fixed-point.md section 1.3); formats and bounds follow it.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant import bias_tuning, formats
from edgeadapt.quant.adaquant import DEFAULT_BATCH, DEFAULT_ITERATIONS, optimize_layer
from edgeadapt.quant.calibrate import choose_activation_fl
from edgeadapt.quant.formats import assign_activation_types, round_half_up
from edgeadapt.quant.intops import ACC_BOUND, AVGPOOL_FRAC_BITS, SHIFT_MAX, SHIFT_MIN, input_peak, lut_table, weight_range
from edgeadapt.quant.qsim import quant_forward

INPUT_FL = 8  # decision D2
ADD_MAX_ALIGN = 16  # docs/fixed-point.md section 4.5


@dataclass
class PassOptions:
    adapt: bool = True  # AdaPT weight formats + MSE activation clipping (else min/max)
    adaquant: bool = True
    bias_correction: bool = True  # BN re-estimation + bias correction
    iterations: int = DEFAULT_ITERATIONS
    batch: int = DEFAULT_BATCH
    seed: int = 0


@dataclass
class PassResult:
    qsnr_db: dict = field(default_factory=dict)  # node name -> dB
    outputs: dict = field(default_factory=dict)  # graph output name -> real values (N, C)
    seconds: dict = field(default_factory=dict)  # node name -> seconds spent on it


def raw_output(node) -> bool:
    return node.op == "fc" and node.attrs.get("out_dtype") == "int32"


def qsnr_db(quant, ref) -> float:
    ref = ref.double()
    noise = float(((quant.double() - ref) ** 2).sum())
    signal = float((ref**2).sum())
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)


def run_pass(graph, float_acts, bits, options: PassOptions, keep=None, input_values=None, input_fl=INPUT_FL,
             fixed_fls=None, progress_label=None) -> PassResult:
    """Quantize `graph` in place. bits: node name -> weight bits for every weighted node.

    float_acts: from calibrate.float_activations on the calibration frames. keep: tensor names
    whose quantized values the caller wants back in result.outputs (graph outputs always).
    input_values / input_fl: the quantized graph input when it is not the network's frames (the
    input is exact at FL 8 otherwise); fixed_fls: tensor name -> FL imposed instead of searched.
    progress_label: show a per-layer progress bar under this name.
    """
    from edgeadapt.console import detail, progress

    result = PassResult()
    fixed_fls = fixed_fls or {}
    assign_activation_types(graph)
    is_u = {name: t.dtype == "uint8" for name, t in graph.tensors.items()}
    fls = {graph.input: input_fl}
    graph.tensors[graph.input].fl = input_fl
    values = {graph.input: float_acts[graph.input] if input_values is None else input_values}
    wanted = set(graph.outputs) | set(keep or ())
    if graph.input in wanted:
        result.outputs[graph.input] = values[graph.input]
    remaining = _consumer_counts(graph)
    nodes = graph.nodes
    if progress_label is not None:
        nodes = progress(graph.nodes, desc=progress_label, unit="layer")
    for node in nodes:
        start = time.perf_counter()
        inputs = [values[t] for t in node.inputs]
        in_fls = [fls[t] for t in node.inputs]
        target = float_acts[node.output]
        fl_out = fixed_fls.get(node.output)
        out_u, in_u = is_u[node.output], is_u[node.inputs[0]]
        if fl_out is None:
            fl_out = _output_fl(node, in_fls, target, options.adapt, out_u)
        if node.has_weights:
            node.weight_bits = int(bits[node.name])
            _quantize_weights(node, in_fls[0], fl_out, options.adapt, in_u)
            if options.adaquant:
                optimize_layer(
                    node, inputs[0], in_fls[0], fl_out, target, options.iterations, options.batch, options.seed,
                    unsigned=out_u,
                )
                _enforce_bounds(node, in_fls[0], fl_out, in_u)
            if options.bias_correction:
                bias_tuning.tune_statistics(node, inputs[0], in_fls[0], fl_out, float_acts[node.inputs[0]], target,
                                            unsigned=out_u)
                _enforce_bounds(node, in_fls[0], fl_out, in_u)
            node.qbias = node.qbias.astype(np.int32)
            if raw_output(node):
                fl_out = int(in_fls[0])  # the int32 tensor's FL is the input's; per channel add weight_fl
        if node.op == "lut":  # the table is part of the quantized model (intops.lut_table)
            node.attrs["table"] = tuple(int(v) for v in lut_table(node.attrs["fn"], node.attrs, in_fls[0], in_u,
                                                                  fl_out, out_u))
        out = quant_forward(node, inputs, in_fls, fl_out, out_u)
        fls[node.output] = fl_out
        graph.tensors[node.output].fl = int(fl_out)
        if raw_output(node):
            # a raw accumulator output carries one FL per channel: FL_in + FL_w[c] (reference.py)
            graph.tensors[node.output].fl = [int(fl_out + f) for f in node.weight_fl]
            graph.tensors[node.output].dtype = "int32"
        values[node.output] = out
        result.qsnr_db[node.name] = qsnr_db(out, target)
        if node.output in wanted:
            result.outputs[node.output] = out
        for t in node.inputs:
            remaining[t] -= 1
            if remaining[t] == 0 and t not in wanted:
                del values[t]
        result.seconds[node.name] = time.perf_counter() - start
        if progress_label is not None:
            bits_text = f", {node.weight_bits}-bit weights" if node.has_weights else ""
            detail(f"{node.name} ({node.op}){bits_text}: output FL {graph.tensors[node.output].fl}, "
                   f"QSNR {result.qsnr_db[node.name]:.1f} dB, {result.seconds[node.name]:.1f} s")
    return result


def _consumer_counts(graph):
    counts = {name: 0 for name in graph.tensors}
    counts[graph.input] = 0
    for node in graph.nodes:
        for t in node.inputs:
            counts[t] = counts.get(t, 0) + 1
    return counts


def _output_fl(node, in_fls, target, adapt, unsigned=False):
    """The output tensor's FL, within the limits docs/fixed-point.md puts on each op; `unsigned`:
    the tensor is uint8, so the search is over the codes [0, 255]."""
    if node.op in ("maxpool", "flatten", "resize"):
        return in_fls[0]
    if raw_output(node):
        return None
    fl = choose_activation_fl(target, adapt, unsigned)
    if node.op in ("avgpool", "gap"):
        # 1 <= 16 + FL_x - FL_o <= 30
        fl = int(np.clip(fl, in_fls[0] + AVGPOOL_FRAC_BITS - 30, in_fls[0] + AVGPOOL_FRAC_BITS - 1))
    elif node.op == "add":
        f = max(in_fls)
        if f - min(in_fls) > ADD_MAX_ALIGN:
            raise EdgeadaptError(
                f"node {node.name}: add inputs have FL {in_fls[0]} and {in_fls[1]}, more than {ADD_MAX_ALIGN} apart"
            )
        fl = int(np.clip(fl, f - SHIFT_MAX, f - SHIFT_MIN))
    elif node.op == "concat":
        fl = int(np.clip(fl, max(in_fls) - SHIFT_MAX, min(in_fls) - SHIFT_MIN))
    return fl


def _quantize_weights(node, fl_in, fl_out, adapt, unsigned_input=False):
    """Choose the weight FLs (AdaPT or min/max), clamp them to the legal shifts, round to the grid."""
    bits = node.weight_bits
    if adapt:
        fl_w, _ = formats.weight_fl_adapt(node.weight, bits)
    else:
        fl_w = formats.weight_fl_minmax(node.weight, bits)
    if fl_out is not None:
        # shift = FL_in + FL_w - FL_o must lie in [SHIFT_MIN, SHIFT_MAX]
        fl_w = np.clip(fl_w, fl_out - fl_in + SHIFT_MIN, fl_out - fl_in + SHIFT_MAX)
    node.weight_fl = fl_w.astype(np.int32)
    _round_params(node, fl_in)
    _enforce_bounds(node, fl_in, fl_out, unsigned_input)


def _round_params(node, fl_in, channels=None):
    lo, hi = weight_range(node.weight_bits)
    fl_w = node.weight_fl.astype(np.float64)
    shape = (-1,) + (1,) * (node.weight.ndim - 1)
    qweight = np.clip(round_half_up(node.weight * np.exp2(fl_w).reshape(shape)), lo, hi).astype(np.int8)
    bias = node.bias if node.bias is not None else np.zeros(len(node.weight))
    qbias = round_half_up(bias * np.exp2(fl_w + fl_in)).astype(np.int64)
    if channels is None:
        node.qweight, node.qbias = qweight, qbias
    else:
        node.qweight[channels], node.qbias[channels] = qweight[channels], qbias[channels]


def accumulator_peak(node, unsigned_input=False):
    """|bias[c]| + X * sum |w[c]|, the bound of docs/fixed-point.md section 3 (X = 128 for an int8
    input, 255 for a uint8 one)."""
    w = np.abs(node.qweight.astype(np.int64)).reshape(len(node.qweight), -1).sum(axis=1)
    return np.abs(node.qbias.astype(np.int64)) + input_peak(unsigned_input) * w


def _enforce_bounds(node, fl_in, fl_out, unsigned_input=False):
    """Coarsen the FL of any channel that would break the accumulator bound (rare: huge biases)."""
    for _ in range(64):
        over = accumulator_peak(node, unsigned_input) >= ACC_BOUND
        if not over.any():
            return
        low = fl_out - fl_in + SHIFT_MIN if fl_out is not None else -(1 << 15)
        if np.any(node.weight_fl[over] - 1 < low):
            raise EdgeadaptError(
                f"node {node.name}: cannot keep |bias| + 128*sum|w| below 2^30 within the shift range"
            )
        node.weight_fl = np.where(over, node.weight_fl - 1, node.weight_fl).astype(np.int32)
        _round_params(node, fl_in, channels=np.flatnonzero(over))
    raise EdgeadaptError(f"node {node.name}: accumulator bound still broken after 64 FL reductions")


def graph_weight_bits(graph):
    return {n.name: n.weight_bits for n in graph.nodes if n.has_weights}

