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
    "Conv": "2-D, dilation 1, constant weights; any kernel, stride, padding and groups (depthwise too)",
    "Gemm": "constant weights, transA=0 (a fully-connected layer)",
    "MatMul": "(N, K) x constant (K, C) weight; a following Add of a constant is its bias",
    "BatchNormalization": "inference mode, constant statistics; folded into the conv/Gemm/MatMul it follows",
    "Relu": "fused into its producer (conv, fc, Add, average pool)",
    "Clip": "[0, 6] (ReLU6) or [0, inf), fused like Relu",
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
}
SUPPORTED = tuple(OP_RULES)


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
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            return f"dilation {list(a['dilations'])} (only 1)"
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
        src = view.source(node.input[0])
        if src is None or src.op_type not in WEIGHTED or not view.sole_consumer(src):
            return "no convolution or fully-connected producer to fold into"
    elif op in ("Relu", "Clip"):
        if op == "Clip" and clip_activation(clip_bounds(view, node)) is None:
            return f"clip bounds {clip_bounds(view, node)} (only [0, 6] or [0, inf))"
        src = view.source(node.input[0])
        if src is None or src.op_type not in ACT_PRODUCERS or not view.sole_consumer(src):
            return "no producer to fuse the activation into (needs a conv/fc/add/avgpool whose only consumer it is)"
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
