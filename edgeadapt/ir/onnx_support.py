"""What the ONNX importer accepts, checked over the whole model before any conversion work.

Every offending node is collected as "name (OpType): reason" so one error lists them all.
The structural rules (a BatchNormalization needs a conv/gemm to fold into, a ReLU needs a
producer to fuse into) are checked here too, on the ONNX graph, so conversion never fails midway.
"""

import numpy as np
import onnx
from onnx import numpy_helper

PASS_THROUGH = ("Dropout", "Identity")
WEIGHTED = ("Conv", "Gemm", "MatMul")
# ops a ReLU / Clip can be fused into (BN and activations fold into their own producer first)
ACT_PRODUCERS = ("Conv", "Gemm", "MatMul", "Add", "AveragePool", "GlobalAveragePool",
                 "BatchNormalization", "Relu", "Clip")
# Every accepted operator and the limits _node_problem enforces on it, in words: README's
# operator table is generated from this (python -m edgeadapt.ir.onnx_support), and a test keeps
# the two equal.
OP_RULES = {
    "Conv": "2-D, constant weights; any kernel, stride, dilation, padding and groups (depthwise too)",
    "Gemm": "constant weights, transA=0 (a fully-connected layer)",
    "MatMul": "(N, K) x constant (K, C) weight; a following Add of a constant is its bias",
    "BatchNormalization": "inference mode, constant statistics; folded into the conv/Gemm/MatMul it follows, "
                          "else (on an (N, C, H, W) map) a per-channel affine run as a 1x1 depthwise conv",
    "Relu": "fused into its producer (conv, fc, Add, average pool), else a lookup table",
    "Clip": "constant bounds; [0, 6] (ReLU6) or [0, inf) fuse like Relu, any other bounds run as a lookup table",
    "MaxPool": "2-D, dilation 1, no indices output; after a conv it fuses into ea_conv2d_maxpool_s8",
    "AveragePool": "2-D, dilation 1, ceil_mode=0, padding only with count_include_pad=1",
    "GlobalAveragePool": "any spatial size",
    "Add": "two tensors of the same shape (no broadcasting), e.g. a residual",
    "Concat": "along channels (axis 1), no constant inputs",
    "Flatten": "axis 1; a flattened H x W > 1 map may feed only a fully-connected layer",
    "Reshape": "to [N, -1] with a constant shape, as Flatten",
    "Dropout": "removed (inference); its mask output unused",
    "Identity": "removed",
    "Constant": "folded into the node that reads it",
    "Sigmoid": "a 256-entry lookup table on the integer grid (ea_lut_s8); uint8 output",
    "Tanh": "a lookup table, as Sigmoid",
    "HardSwish": "a lookup table, as Sigmoid",
    "HardSigmoid": "any alpha, beta; a lookup table, as Sigmoid",
    "LeakyRelu": "any alpha; a lookup table, as Sigmoid",
    "Resize": "mode nearest, integer factors over H and W; asymmetric (nearest_mode floor), half_pixel or "
              "pytorch_half_pixel coordinates",
    "Upsample": "mode nearest, integer factors, as Resize",
}
LUT_OPS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish", "HardSigmoid": "hardsigmoid",
           "LeakyRelu": "leakyrelu"}  # elementwise functions run as 256-entry tables (IR op lut)
SUPPORTED = tuple(OP_RULES)
RESIZE_COORDINATES = ("asymmetric", "half_pixel", "pytorch_half_pixel")  # all give floor(y / s) for integer s


def attrs_of(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def node_label(node, index) -> str:
    return f"{node.name or f'node{index}'} ({node.op_type})"


class OnnxView:
    """Producers, consumers and constants of an ONNX graph, seen through Dropout/Identity."""

    def __init__(self, model):
        g = model.graph
        self.graph = g
        self.constants = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for node in g.node:
            if node.op_type == "Constant":
                value = _constant_value(node)
                if value is not None:
                    self.constants[node.output[0]] = value
            elif node.op_type == "Identity" and node.input[0] in self.constants:
                # exporters alias shared initializers through Identity nodes
                self.constants[node.output[0]] = self.constants[node.input[0]]
        self.producer = {}
        self.consumers = {}
        for node in g.node:
            for out in node.output:
                self.producer[out] = node
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)
        self.outputs = {o.name for o in g.output}

    def is_const(self, name) -> bool:
        return name in self.constants

    def source(self, name):
        """The producing node of `name`, skipping pass-through nodes (None for the graph input)."""
        node = self.producer.get(name)
        while node is not None and node.op_type in PASS_THROUGH:
            node = self.producer.get(node.input[0])
        return node

    def real_consumers(self, name) -> list:
        """Consumers of `name` with pass-through nodes expanded; 'output' marks a graph output."""
        found = ["output"] if name in self.outputs else []
        for node in self.consumers.get(name, []):
            if node.op_type in PASS_THROUGH:
                found += self.real_consumers(node.output[0])
            else:
                found.append(node)
        return found

    def sole_consumer(self, node) -> bool:
        """True when `node`'s only (first) output feeds exactly one real consumer."""
        return len(self.real_consumers(node.output[0])) == 1


def _constant_value(node):
    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name in ("value_float", "value_int"):
            return np.array(onnx.helper.get_attribute_value(a))
        if a.name in ("value_floats", "value_ints"):
            return np.array(onnx.helper.get_attribute_value(a))
    return None


def clip_bounds(view, node):
    """(min, max) of a Clip from its inputs (opset >= 11) or attributes (older); None if unknown."""
    a = attrs_of(node)
    lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
    if len(node.input) > 1 and node.input[1]:
        if not view.is_const(node.input[1]):
            return None
        lo = float(view.constants[node.input[1]])
    if len(node.input) > 2 and node.input[2]:
        if not view.is_const(node.input[2]):
            return None
        hi = float(view.constants[node.input[2]])
    return float(lo), float(hi)


def fusable_activation(view, node) -> bool:
    """A Relu / Clip that can become its producer's fused act (else it runs as a lookup table)."""
    src = view.source(node.input[0])
    if node.op_type == "Clip" and clip_activation(clip_bounds(view, node)) is None:
        return False
    return src is not None and src.op_type in ACT_PRODUCERS and view.sole_consumer(src)


def resize_scales(view, shapes, node):
    """(sh, sw) integer factors of a nearest Resize / Upsample, or a reason string."""
    a = attrs_of(node)
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "nearest":
        return f"mode '{mode}' (only nearest)"
    coord = a.get("coordinate_transformation_mode", b"half_pixel")
    coord = coord.decode() if isinstance(coord, bytes) else coord
    if node.op_type == "Resize" and coord not in RESIZE_COORDINATES:
        return f"coordinate_transformation_mode '{coord}' (only {', '.join(RESIZE_COORDINATES)})"
    nearest = a.get("nearest_mode", b"round_prefer_floor")
    nearest = nearest.decode() if isinstance(nearest, bytes) else nearest
    if node.op_type == "Resize" and coord == "asymmetric" and nearest != "floor":
        return f"nearest_mode '{nearest}' with asymmetric coordinates (only floor)"
    inp, out = shapes.get(node.input[0]), shapes.get(node.output[0])
    if inp is None or out is None or len(inp) != 4 or len(out) != 4 or None in inp[1:] or None in out[1:]:
        return "needs static NCHW input and output shapes"
    if out[:2] != inp[:2] or out[2] % inp[2] or out[3] % inp[3]:
        return f"output {out} is not the input {inp} scaled by integer factors over H and W"
    return (out[2] // inp[2], out[3] // inp[3])


def clip_activation(bounds):
    if bounds == (0.0, 6.0):
        return "relu6"
    if bounds is not None and bounds[0] == 0.0 and bounds[1] == np.inf:
        return "relu"
    return None


def collect_problems(view, shapes, skip=()) -> list:
    """Every reason the model cannot be imported, as 'name (OpType): reason' strings (nodes whose
    id() is in skip, the input normalization the importer strips, are not checked)."""
    problems = []
    for i, node in enumerate(view.graph.node):
        if id(node) in skip:
            continue
        try:
            reason = _node_problem(view, shapes, node)
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            reason = f"malformed node ({type(exc).__name__}: {exc})"
        if reason:
            problems.append(f"{node_label(node, i)}: {reason}")
    return problems


def _node_problem(view, shapes, node):
    op = node.op_type
    a = attrs_of(node)
    if node.domain not in ("", "ai.onnx"):
        return f"operator domain '{node.domain}' is not supported"
    if op not in SUPPORTED:
        return "operator not supported"
    if op == "Conv":
        if any(int(d) < 1 for d in a.get("dilations", [1, 1])):
            return f"dilation {list(a['dilations'])} (at least 1)"
        if not all(view.is_const(n) for n in node.input[1:] if n):
            return "weights are not constant"
        if len(view.constants[node.input[1]].shape) != 4:
            return "only 2-D convolutions"
    elif op == "Gemm":
        if a.get("transA", 0):
            return "transA=1"
        if not all(view.is_const(n) for n in node.input[1:] if n):
            return "weights are not constant"
    elif op == "MatMul":
        if not view.is_const(node.input[1]) or view.constants[node.input[1]].ndim != 2:
            return "the second input must be a constant 2-D weight"
        if len(shapes.get(node.input[0], ())) != 2:
            return "only (N, K) x (K, C) products"
    elif op == "BatchNormalization":
        if len([o for o in node.output if o]) > 1 or a.get("training_mode", 0):
            return "training-mode batch norm"
        if not all(view.is_const(n) for n in node.input[1:]):
            return "statistics are not constant"
        if len(shapes.get(node.input[0], ())) != 4:
            src = view.source(node.input[0])
            if src is None or src.op_type not in WEIGHTED or not view.sole_consumer(src):
                return "a batch norm over (N, K) features needs a fully-connected producer to fold into"
    elif op in ("Relu", "Clip"):
        if op == "Clip":
            bounds = clip_bounds(view, node)
            if bounds is None:
                return "clip bounds are not constant"
            if bounds[0] > bounds[1]:
                return f"clip bounds {bounds} (min above max)"
    elif op in LUT_OPS:
        if len(shapes.get(node.input[0], ())) not in (2, 4):
            return "needs an (N, C, H, W) or (N, K) input"
    elif op in ("Resize", "Upsample"):
        reason = resize_scales(view, shapes, node)
        if isinstance(reason, str):
            return reason
    elif op in ("MaxPool", "AveragePool"):
        if len(a.get("kernel_shape", [])) != 2:
            return "only 2-D pooling"
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            return f"dilation {list(a['dilations'])} (only 1)"
        if op == "MaxPool" and len([o for o in node.output if o]) > 1:
            return "the indices output is not supported"
        if op == "AveragePool":
            if a.get("ceil_mode", 0):
                return "ceil_mode=1"
            if any(pad_values(a)) and not a.get("count_include_pad", 0):
                return "padding with count_include_pad=0 (windows of unequal size)"
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID") and not a.get(
                "count_include_pad", 0
            ):
                return "auto_pad SAME with count_include_pad=0"
    elif op == "Add":
        consts = [n for n in node.input if view.is_const(n)]
        if len(consts) == 1:
            src = view.source(node.input[0] if not view.is_const(node.input[0]) else node.input[1])
            if src is None or src.op_type != "MatMul" or not view.sole_consumer(src):
                return "adding a constant is only supported as the bias of a MatMul"
        elif consts:
            return "both inputs are constant"
        else:
            s0, s1 = shapes.get(node.input[0]), shapes.get(node.input[1])
            if s0 != s1:
                return f"broadcasting add of shapes {s0} and {s1}"
    elif op == "Concat":
        rank = len(shapes.get(node.output[0], ()))
        axis = a.get("axis", 1)
        if rank == 0 or axis % rank != 1:
            return f"concatenation along axis {axis} (only channels, axis 1)"
        if any(view.is_const(n) for n in node.input):
            return "constant input"
    elif op == "Flatten":
        if a.get("axis", 1) != 1:
            return f"axis {a.get('axis')} (only 1: flatten to [N, -1])"
        return _flatten_consumers_problem(view, shapes, node)
    elif op == "Reshape":
        out = shapes.get(node.output[0])
        inp = shapes.get(node.input[0])
        if not view.is_const(node.input[1]):
            return "the target shape is not constant"
        target = [int(v) for v in np.ravel(view.constants[node.input[1]])]
        if len(target) != 2 or out is None or inp is None or len(out) != 2 or out[1] != int(np.prod(inp[1:])):
            return f"reshape to {target} (only [N, -1])"
        return _flatten_consumers_problem(view, shapes, node)
    elif op == "Dropout":
        if len([o for o in node.output if o]) > 1 and view.consumers.get(node.output[1]):
            return "the dropout mask is used"
    return None


def _flatten_consumers_problem(view, shapes, node):
    """A flattened H x W > 1 map is in CHW order in ONNX and HWC order in the IR; only a
    fully-connected layer (whose weights the importer permutes) may read it."""
    inp = shapes.get(node.input[0])
    if inp is None or len(inp) != 4 or inp[2] * inp[3] == 1:
        return None
    for consumer in view.real_consumers(node.output[0]):
        if consumer == "output" or consumer.op_type not in ("Gemm", "MatMul"):
            what = "a graph output" if consumer == "output" else f"{consumer.op_type} '{consumer.name}'"
            return f"the flattened feature map feeds {what} (only a fully-connected layer may read it)"
    return None


def pad_values(a) -> list:
    return list(a.get("pads", [0, 0, 0, 0]))


def ops_table_markdown() -> str:
    """README's operator table: every operator the importer accepts and its limits."""
    lines = ["| ONNX operator | accepted when |", "|---|---|"]
    lines += [f"| `{op}` | {rule} |" for op, rule in OP_RULES.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(ops_table_markdown())
