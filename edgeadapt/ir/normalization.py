"""The model's input normalization: read from the graph or given, and folded into the first layer.

A model is trained on x = p * scale + offset per channel, p the raw pixel (0..255). The firmware
always reads raw uint8 bytes and recentres them as q = p - 128 at FL 8, whose value is
u = (p - 128) / 256 (docs/decisions.md D2); so x = A u + B with A = 256 scale and B = 128 scale +
offset. `fold_input_normalization` rewrites the float graph to take u: A and B go into the first
layer's weights and bias when that is exact (its only reader is a conv or fc, and B = 0 or the conv
pads nothing, since a zero-padded x is not a zero-padded u), else a 1x1 depthwise conv `input_norm`
computes x first. The default (scale 1/256, offset -1/2, the pose models' normalization) gives A = 1,
B = 0: nothing changes.

Where the normalization comes from (`resolve_normalization`): the ONNX graph's leading chain of
Sub / Add / Mul / Div by constants (scalars or per-channel (C, 1, 1) / (1, C, 1, 1)), which the
importer strips and records in graph.meta["input_norm"]; else `--input-scale / --input-offset`;
else the default. Options that contradict the graph's own chain are refused.
"""

import copy

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.graph import Node, Tensor

DEFAULT_SCALE, DEFAULT_OFFSET = 1.0 / 256.0, -0.5
AFFINE_OPS = ("Sub", "Add", "Mul", "Div")
INPUT_NODE = "input_norm"


# ----------------------------------------------------------------------------- ONNX leading chain


def _per_channel(value, channels):
    """A constant that broadcasts per channel over NCHW (scalar, (C,1,1), (1,C,1,1)), as (C,), else None."""
    v = np.asarray(value, dtype=np.float64)
    if v.size == 1:
        return np.full(channels, float(v.reshape(-1)[0]))
    if v.ndim >= 3 and v.size == channels and v.shape[-3] == channels:
        return v.reshape(-1)
    return None


def leading_affine(view, input_name, channels):
    """(nodes, scale (C,), offset (C,), output name) of the input's leading per-channel affine chain
    x = input * scale + offset; nodes is empty when the graph starts with anything else."""
    scale, offset = np.ones(channels), np.zeros(channels)
    nodes, cur = [], input_name
    while cur not in view.outputs:
        consumers = view.consumers.get(cur, [])
        if len(consumers) != 1 or consumers[0].op_type not in AFFINE_OPS:
            break
        node = consumers[0]
        others = [n for n in node.input if n != cur]
        if len(node.input) != 2 or len(others) != 1 or not view.is_const(others[0]):
            break
        c = _per_channel(view.constants[others[0]], channels)
        if c is None:
            break
        first = node.input[0] == cur
        if node.op_type == "Mul":
            scale, offset = scale * c, offset * c
        elif node.op_type == "Add":
            offset = offset + c
        elif node.op_type == "Sub":
            scale, offset = (scale, offset - c) if first else (-scale, c - offset)
        elif first and np.all(c != 0):  # Div by a constant
            scale, offset = scale / c, offset / c
        else:
            break
        nodes.append(node)
        cur = node.output[0]
    return nodes, scale, offset, cur


# ----------------------------------------------------------------------------- which normalization


def resolve_normalization(graph, input_scale=None, input_offset=None) -> dict:
    """{"scale": [C], "offset": [C], "source": "graph" | "option" | "default"} for a float graph."""
    channels = graph.tensors[graph.input].shape[2]
    given = input_scale is not None or input_offset is not None
    from_graph = graph.meta.get("input_norm")
    if given:
        scale = _channel_values(input_scale, DEFAULT_SCALE if input_scale is None else None, channels, "--input-scale")
        offset = _channel_values(input_offset, DEFAULT_OFFSET if input_offset is None else None, channels, "--input-offset")
        if np.any(scale == 0):
            raise EdgeadaptError("--input-scale must not be 0")
        if from_graph and not (np.allclose(scale, from_graph["scale"], rtol=1e-6, atol=0)
                               and np.allclose(offset, from_graph["offset"], rtol=1e-6, atol=1e-9)):
            raise EdgeadaptError(
                f"--input-scale/--input-offset ({_text(scale)}, {_text(offset)}) contradict the normalization the "
                f"model's graph applies itself (scale {_text(from_graph['scale'])}, offset {_text(from_graph['offset'])})")
        return {"scale": scale.tolist(), "offset": offset.tolist(), "source": "graph" if from_graph else "option"}
    if from_graph:
        return {"scale": list(from_graph["scale"]), "offset": list(from_graph["offset"]), "source": "graph"}
    return {"scale": [DEFAULT_SCALE] * channels, "offset": [DEFAULT_OFFSET] * channels, "source": "default"}


def parse_values(text, what):
    """'0.0039' or '0.017,0.018,0.017' -> a list of floats (None passes through)."""
    if text is None:
        return None
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise EdgeadaptError(f"{what} '{text}': expected a number or one number per channel, comma separated") from None
    if not all(np.isfinite(values)):
        raise EdgeadaptError(f"{what} '{text}': not finite")
    return values


def _channel_values(values, default, channels, what):
    if values is None:
        return np.full(channels, default)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 1:
        return np.full(channels, float(v[0]))
    if v.size != channels:
        raise EdgeadaptError(f"{what} has {v.size} values, the model's input has {channels} channels")
    return v


def _text(values):
    v = np.unique(np.round(np.asarray(values, dtype=np.float64), 9))
    return f"{v[0]:.6g}" if v.size == 1 else "[" + ", ".join(f"{x:.6g}" for x in values) + "]"


def is_default(norm) -> bool:
    return (np.allclose(norm["scale"], DEFAULT_SCALE, rtol=0, atol=0)
            and np.allclose(norm["offset"], DEFAULT_OFFSET, rtol=0, atol=0))


def raw_to_input(images, norm) -> np.ndarray:
    """uint8 (N, H, W[, C]) -> the float network input x = p * scale + offset, NCHW float32."""
    x = np.asarray(images, dtype=np.float64)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    scale = np.asarray(norm["scale"], np.float64).reshape(1, -1, 1, 1)
    offset = np.asarray(norm["offset"], np.float64).reshape(1, -1, 1, 1)
    return np.ascontiguousarray((x * scale + offset).astype(np.float32))


def onnx_input_feed(model):
    """uint8 frames (N, H, W[, C]) -> float32 NCHW for an ONNX model (path or ModelProto): the raw
    pixels when the graph starts with its own normalization, else (p - 128) / 256 (D2)."""
    import onnx

    from edgeadapt.ir.onnx_support import OnnxView

    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    view = OnnxView(proto)
    inputs = [i for i in proto.graph.input if i.name not in view.constants]
    chain = []
    if len(inputs) == 1:
        dims = inputs[0].type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField("dim_value"):
            chain = leading_affine(view, inputs[0].name, int(dims[1].dim_value))[0]

    def feed(images):
        x = np.asarray(images, dtype=np.float32)
        if not chain:
            x = (x - 128.0) * (1.0 / 256.0)
        return np.ascontiguousarray(x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2))

    feed.raw = bool(chain)
    return feed


# ----------------------------------------------------------------------------- folding


def fold_input_normalization(graph, norm):
    """A copy of the float graph that takes u = (p - 128) / 256 (the firmware's recentred frame).

    Returns (graph, how): how is "none" (already the default), "first layer" or "input layer"
    (an inserted 1x1 depthwise conv)."""
    channels = graph.tensors[graph.input].shape[2]
    a = 256.0 * np.asarray(norm["scale"], np.float64)
    b = 128.0 * np.asarray(norm["scale"], np.float64) + np.asarray(norm["offset"], np.float64)
    if a.shape != (channels,) or b.shape != (channels,):
        raise EdgeadaptError(f"input normalization has {a.size} values, the model's input has {channels} channels")
    graph = copy.deepcopy(graph)
    if np.all(a == 1.0) and np.all(b == 0.0):
        return graph, "none"
    graph.meta["input_norm"] = {"scale": [float(v) for v in norm["scale"]], "offset": [float(v) for v in norm["offset"]]}
    readers = graph.consumers(graph.input)
    node = readers[0] if len(readers) == 1 else None
    if node is not None and node.op in ("conv", "fc") and (np.all(b == 0) or node.op == "fc"
                                                            or not any(node.attrs.get("pads", (0, 0, 0, 0)))):
        _fold_into(graph, node, a, b)
        graph.meta["input_norm"]["folded"] = "first layer"
        return graph, "first layer"
    _insert_input_layer(graph, a, b)
    graph.meta["input_norm"]["folded"] = "input layer"
    return graph, "input layer"


def _input_channel_of_weights(graph, node, channels):
    """For each weight element (in the IR layout), the graph-input channel it multiplies."""
    w = node.weight
    if node.op == "fc":
        return np.broadcast_to(np.arange(w.shape[1]) % channels, w.shape)
    c_out, _, _, cpg = w.shape
    groups = node.attrs.get("groups", 1)
    opg = c_out // groups
    group_of_out = np.arange(c_out) // opg
    ch = group_of_out[:, None] * cpg + np.arange(cpg)[None, :]  # (c_out, cpg)
    return np.broadcast_to(ch[:, None, None, :], w.shape)


def _fold_into(graph, node, a, b):
    """W' = W * A[c], b' = b + sum W * B[c]: the same layer output for u as the old one for x."""
    ch = _input_channel_of_weights(graph, node, len(a))
    w = node.weight.astype(np.float64)
    bias = (np.zeros(len(w)) if node.bias is None else node.bias.astype(np.float64))
    node.bias = (bias + (w * b[ch]).reshape(len(w), -1).sum(axis=1)).astype(np.float32)
    node.weight = (w * a[ch]).astype(np.float32)


def _insert_input_layer(graph, a, b):
    """x = A u + B as a 1x1 depthwise conv between the input and its readers."""
    name = INPUT_NODE
    while name in graph.tensors:
        name += "_"
    shape = graph.tensors[graph.input].shape
    graph.tensors[name] = Tensor(name, tuple(shape))
    for reader in graph.consumers(graph.input):
        reader.inputs = [name if t == graph.input else t for t in reader.inputs]
    if graph.input in graph.outputs:
        raise EdgeadaptError(f"model '{graph.name}': its input is also an output")
    c = len(a)
    attrs = {"kernel": (1, 1), "stride": (1, 1), "pads": (0, 0, 0, 0), "groups": c, "act": "none"}
    node = Node(name, "conv", [graph.input], name, attrs, weight=a.reshape(c, 1, 1, 1).astype(np.float32),
                bias=b.astype(np.float32))
    graph.nodes.insert(0, node)
