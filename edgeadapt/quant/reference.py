"""The integer reference executor: a quantized Graph run with the golden ops of intops.py.

This is the definition the firmware is validated against, layer by layer. Input frames are
recentred as q = p - 128 with FL 8 (docs/decisions.md D2). Every activation is int8 or uint8 (its
Tensor.dtype; the quantizer picks uint8 for tensors that cannot be negative, see
`quant.formats.assign_activation_types` and docs/fixed-point.md section 1.3) except a raw accumulator output (an
`fc` with attrs["out_dtype"] == "int32", section 1.2), whose value of output c is
acc[c] * 2^-(FL_in + FL_w[c]); that tensor's `Tensor.fl` holds this per-channel list (see
`accumulator_fls`).

Execution only: the rules that choose formats and types live with the quantizer (formats.py).
"""

from pathlib import Path

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant import intops

INPUT_FL = 8
BATCH = 64  # frames per pass: bounds the memory of the largest activation


def accumulator_fls(graph, node) -> np.ndarray:
    """Per-channel FL of a conv/fc node's accumulator: FL_in + FL_w[c]."""
    fl_in = graph.tensors[node.inputs[0]].fl
    return int(fl_in) + np.asarray(node.weight_fl, dtype=np.int64)


def output_fls(graph) -> np.ndarray:
    """FL of every column of run_int's output (outputs concatenated in graph order)."""
    fls = []
    for name in graph.outputs:
        node = graph.producer(name)
        tensor = graph.tensors[name]
        if node is not None and node.op == "fc" and node.attrs.get("out_dtype") == "int32":
            acc = accumulator_fls(graph, node)
            if isinstance(tensor.fl, (list, tuple, np.ndarray)) and list(tensor.fl) != acc.tolist():
                raise EdgeadaptError(
                    f"output '{name}': stored FLs {list(tensor.fl)} disagree with FL_in + FL_w = {acc.tolist()}"
                )
            fls.append(acc)
        else:
            fls.append(np.full(tensor.size, int(tensor.fl), dtype=np.int64))
    return np.concatenate(fls)


ACTIVATION_DTYPES = ("int8", "uint8")


def unsigned(graph, name) -> bool:
    """True when tensor `name` is stored as uint8 (docs/fixed-point.md section 1.3)."""
    return graph.tensors[name].dtype == "uint8"


def check_quantized(graph) -> None:
    """Refuse a graph with missing formats or integer parameters, naming the first gap."""
    for name, t in graph.tensors.items():
        if t.fl is None:
            raise EdgeadaptError(f"graph '{graph.name}': tensor '{name}' has no fixed-point format (not quantized)")
        if t.dtype not in ACTIVATION_DTYPES + ("int32",):
            raise EdgeadaptError(f"graph '{graph.name}': tensor '{name}' has dtype {t.dtype!r} (int8, uint8 or int32)")
    input_dtype = graph.tensors[graph.input].dtype
    if input_dtype != "int8":
        raise EdgeadaptError(f"graph '{graph.name}': the input must be int8 (p - 128), not {input_dtype}")
    for node in graph.nodes:
        if node.op in ("conv", "fc") and (node.qweight is None or node.weight_fl is None):
            raise EdgeadaptError(f"graph '{graph.name}': node '{node.name}' has no integer weights (not quantized)")


def prepare_input(graph, images) -> np.ndarray:
    """uint8 frames (N, H, W[, C]) -> int8 NHWC recentred (FL 8); int8 NHWC passes through."""
    x = np.asarray(images)
    expected = tuple(graph.tensors[graph.input].shape)
    if x.dtype == np.uint8:
        if graph.tensors[graph.input].fl != INPUT_FL:
            raise EdgeadaptError(
                f"graph '{graph.name}': input FL is {graph.tensors[graph.input].fl}, uint8 frames need {INPUT_FL}"
            )
        x = (x.astype(np.int16) - 128).astype(np.int8)
    elif x.dtype != np.int8:
        raise EdgeadaptError(f"input frames must be uint8 pixels or int8 codes, got {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != expected:
        raise EdgeadaptError(f"graph '{graph.name}' expects frames of HWC shape {expected}, got {x.shape[1:]}")
    return x


def run_node(graph, node, inputs) -> np.ndarray:
    """One node of a quantized graph on int8 / uint8 NHWC batches (section 4 of docs/fixed-point.md).

    Each input array's dtype is its tensor's type; the output gets the type of node.output."""
    t = graph.tensors
    a = node.attrs
    x = inputs[0]
    fl_in = t[node.inputs[0]].fl
    fl_out = t[node.output].fl
    out_u = unsigned(graph, node.output)
    if node.op == "conv":
        shift = accumulator_fls(graph, node) - int(fl_out)
        return intops.conv2d(x, node.qweight, node.qbias, shift, a.get("stride", (1, 1)), a.get("pads", (0, 0, 0, 0)),
                             a.get("groups", 1), node.act, fl_out, out_u, a.get("dilation", (1, 1)))
    if node.op == "fc":
        raw = a.get("out_dtype", "int8") == "int32"
        shift = None if raw else accumulator_fls(graph, node) - int(fl_out)
        y = intops.fully_connected(x.reshape(len(x), -1), node.qweight, node.qbias, shift, node.act,
                                   0 if raw else fl_out, "int32" if raw else t[node.output].dtype)
        return y.reshape(len(x), *t[node.output].shape)
    if node.op == "maxpool":
        _same_format(graph, node)
        return intops.maxpool2d(x, a["kernel"], a.get("stride", a["kernel"]), a.get("pads", (0, 0, 0, 0)))
    if node.op == "avgpool":
        return intops.avgpool2d(x, a["kernel"], a.get("stride", a["kernel"]), fl_in, fl_out, node.act,
                                a.get("pads", (0, 0, 0, 0)), out_u)
    if node.op == "gap":
        return intops.global_avgpool(x, fl_in, fl_out, node.act, out_u)
    if node.op == "add":
        return intops.add(inputs[0], fl_in, inputs[1], t[node.inputs[1]].fl, fl_out, node.act, out_u)
    if node.op == "concat":
        return intops.concat(inputs, [t[n].fl for n in node.inputs], fl_out, out_u)
    if node.op == "flatten":
        _same_format(graph, node)
        return x.reshape(len(x), *t[node.output].shape)
    if node.op == "lut":
        if "table" not in a:
            raise EdgeadaptError(f"node '{node.name}': lookup table missing (not quantized)")
        return intops.lut(x, a["table"], out_u)
    if node.op == "resize":
        _same_format(graph, node)
        return intops.resize_nearest(x, a["scale"])
    raise EdgeadaptError(f"node '{node.name}': op '{node.op}' has no integer implementation")


def _same_format(graph, node):
    src, dst = graph.tensors[node.inputs[0]], graph.tensors[node.output]
    if src.fl != dst.fl:
        raise EdgeadaptError(f"node '{node.name}' ({node.op}) cannot change the format: FL {src.fl} -> {dst.fl}")
    if src.dtype != dst.dtype:
        raise EdgeadaptError(f"node '{node.name}' ({node.op}) cannot change the type: {src.dtype} -> {dst.dtype}")


def run_int(graph, images, dump=False, batch_size=BATCH):
    """Integer outputs (N, n_out) int32 (graph outputs concatenated); with dump=True also a dict
    tensor name -> integer activations (N, H, W, C) of every tensor, the input included."""
    check_quantized(graph)
    x = prepare_input(graph, images)
    outs, dumps = [], {}
    for start in range(0, len(x), batch_size):
        values = {graph.input: x[start : start + batch_size]}
        for node in graph.nodes:
            values[node.output] = run_node(graph, node, [values[n] for n in node.inputs])
        outs.append(np.concatenate([values[n].reshape(len(values[graph.input]), -1).astype(np.int32)
                                    for n in graph.outputs], axis=1))
        if dump:
            for name, v in values.items():
                dumps.setdefault(name, []).append(v)
    n_out = sum(graph.tensors[n].size for n in graph.outputs)
    result = np.concatenate(outs) if outs else np.zeros((0, n_out), dtype=np.int32)
    if not dump:
        return result
    return result, {name: np.concatenate(parts) for name, parts in dumps.items()}


def dequantize_outputs(graph, int_out) -> np.ndarray:
    """float32 real values of run_int's outputs: column j times 2^-FL_j."""
    fls = output_fls(graph)
    int_out = np.asarray(int_out)
    if int_out.shape[-1] != len(fls):
        raise EdgeadaptError(f"graph '{graph.name}' has {len(fls)} outputs, got {int_out.shape[-1]} columns")
    return (int_out.astype(np.float64) * np.exp2(-fls.astype(np.float64))).astype(np.float32)


def predict_eaq(path_or_graph, frames_or_images) -> np.ndarray:
    """Dequantized predictions (N, n_out) float32 of a .eaq file (or quantized Graph) on frames.

    `frames_or_images`: a dataset Frames object (its .images is used) or uint8 (N, H, W) images.
    """
    graph = path_or_graph
    if isinstance(path_or_graph, (str, Path)):
        from edgeadapt.quant.artifact import load_eaq

        graph = load_eaq(path_or_graph)
    images = getattr(frames_or_images, "images", frames_or_images)
    return dequantize_outputs(graph, run_int(graph, images))
