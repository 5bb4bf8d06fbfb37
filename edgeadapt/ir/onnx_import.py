"""ONNX -> IR: the float Graph every later stage works on.

Conversions done once, here (docs/fixed-point.md section 2): NCHW tensors become per-sample HWC
shapes, conv weights OIHW -> OHWI, the first fully-connected layer after a flatten gets its weight
columns permuted from CHW to HWC order, BatchNormalization is folded into the conv/fc before it,
ReLU / Clip(0, 6) become the `act` of their producer, Dropout / Identity disappear. Every
supported op is listed in onnx_support.SUPPORTED; anything else is refused before conversion,
with every offending node named in one message.

Naming: a node is named after its ONNX node (module path, lowercased, e.g. `features_0_conv`);
an activation tensor is named after the node that produces it, the network input keeps its ONNX
name. Flattened tensors (flatten and fc outputs) have the HWC shape (1, 1, K).
"""

import io
import re
from pathlib import Path

import numpy as np
import onnx

from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.graph import Graph, Node, Tensor
from edgeadapt.ir.normalization import leading_affine
from edgeadapt.ir.onnx_support import (
    PASS_THROUGH,
    OnnxView,
    attrs_of,
    clip_activation,
    clip_bounds,
    WEIGHTED,
    collect_problems,
    fusable_activation,
    node_label,
    resize_scales,
    pad_values,
)

OPSET = 17
_ACT_COMPOSE = {  # act applied after an existing act
    ("none", "relu"): "relu", ("none", "relu6"): "relu6",
    ("relu", "relu"): "relu", ("relu", "relu6"): "relu6",
    ("relu6", "relu"): "relu6", ("relu6", "relu6"): "relu6",
}


def import_onnx(source, name=None) -> Graph:
    """Import an ONNX file path or ModelProto as a float Graph."""
    model, where = _load(source)
    if name is None:
        name = Path(where).stem if isinstance(source, (str, Path)) else (model.graph.name or "model")
    inference_error = None
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as exc:  # onnx raises several types; all mean an inconsistent model
        # an unsupported op can upset strict inference: list the unsupported nodes first
        inference_error = f"{where}: ONNX shape inference failed: {_first_line(exc)}"
        try:
            model = onnx.shape_inference.infer_shapes(model)
        except Exception:
            raise EdgeadaptError(inference_error) from None
    view = OnnxView(model)
    input_name = _single_input(model, view, where)
    shapes = _shapes(model)
    in_shape = shapes.get(input_name)
    chain, scale, offset = [], None, None
    if in_shape is not None and len(in_shape) == 4 and in_shape[1]:
        chain, scale, offset, _ = leading_affine(view, input_name, int(in_shape[1]))
    skip = {id(n) for n in chain}
    problems = collect_problems(view, shapes, skip)
    if problems or inference_error is None:
        reported = {p.split(": ", 1)[0] for p in problems}
        problems += [p for p in _shape_problems(view, shapes, input_name, skip) if p.split(": ", 1)[0] not in reported]
    if problems:
        raise EdgeadaptError(f"{where}: unsupported ONNX model: " + "; ".join(problems))
    if inference_error:
        raise EdgeadaptError(inference_error)
    graph = _Converter(view, shapes, input_name, name, chain).run()
    graph.meta.update({"source": str(where), "opset": _opset(model), "input_hw": list(shapes[input_name][2:4])})
    if chain:  # the model normalizes its own input: raw pixels in, x = p * scale + offset
        graph.meta["input_norm"] = {"scale": [float(v) for v in scale], "offset": [float(v) for v in offset]}
    if isinstance(source, (str, Path)):
        graph.meta["path"] = str(source)
    return graph


def import_torch(model, input_hw, name, in_channels=1) -> Graph:
    """Export a torch module to ONNX (opset 17, TorchScript exporter) in memory, then import it."""
    import torch

    was_training = model.training
    model.eval()
    buf = io.BytesIO()
    try:
        with torch.no_grad():
            torch.onnx.export(
                model,
                (torch.zeros(1, in_channels, *input_hw),),
                buf,
                opset_version=OPSET,
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                do_constant_folding=True,
            )
    finally:
        model.train(was_training)
    graph = import_onnx(onnx.load_model_from_string(buf.getvalue()), name=name)
    graph.meta["source"] = f"torch:{type(model).__name__}"
    return graph


# ----------------------------------------------------------------------------- loading


def _load(source):
    if isinstance(source, onnx.ModelProto):
        return source, source.graph.name or "<model>"
    path = Path(source)
    if not path.is_file():
        raise EdgeadaptError(f"{path}: no such ONNX file")
    try:
        return onnx.load(str(path)), str(path)
    except Exception as exc:
        raise EdgeadaptError(f"{path}: not a readable ONNX model ({_first_line(exc)})") from None


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _opset(model) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def _single_input(model, view, where) -> str:
    inputs = [i.name for i in model.graph.input if i.name not in view.constants]
    if len(inputs) != 1:
        raise EdgeadaptError(f"{where}: the model must have exactly one input, it has {len(inputs)}")
    return inputs[0]


def _shapes(model) -> dict:
    """ONNX tensor name -> full shape tuple (None for unknown dimensions)."""
    shapes = {}
    g = model.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
    for init in g.initializer:
        shapes[init.name] = tuple(init.dims)
    return shapes


def _shape_problems(view, shapes, input_name, skip=()) -> list:
    problems = []
    s = shapes.get(input_name)
    if s is None or len(s) != 4 or any(d is None for d in s[1:]):
        problems.append(f"input '{input_name}': needs a static (N, C, H, W) shape, got {s}")
    for i, node in enumerate(view.graph.node):
        if node.op_type in ("Constant",) + PASS_THROUGH or id(node) in skip:
            continue
        for out in node.output[:1]:
            shp = shapes.get(out)
            if shp is None or len(shp) not in (2, 4) or any(d is None for d in shp[1:]):
                problems.append(f"{node_label(node, i)}: output shape {shp} is not a static (N, C, H, W) or (N, K)")
    return problems


def hwc_shape(onnx_shape) -> tuple:
    """Per-sample HWC shape of an (N, C, H, W) or (N, K) ONNX shape."""
    if len(onnx_shape) == 4:
        _, c, h, w = onnx_shape
        return (int(h), int(w), int(c))
    return (1, 1, int(onnx_shape[1]))


# ----------------------------------------------------------------------------- conversion


def clean_name(onnx_name: str, fallback: str) -> str:
    """'/features/features.0/Conv' -> 'features_0_conv' (drop a path part the next one repeats)."""
    parts = [p for p in onnx_name.split("/") if p]
    parts = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
    text = re.sub(r"[^0-9a-zA-Z]+", "_", "_".join(parts)).strip("_").lower()
    return text or fallback


def _pads(a, in_hw, kernel, stride):
    """(top, left, bottom, right) from explicit pads or auto_pad."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s in zip(in_hw, kernel, stride):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            small, big = total // 2, total - total // 2
            pads.append((small, big) if auto == "SAME_UPPER" else (big, small))
        (top, bottom), (left, right) = pads
        return (top, left, bottom, right)
    if auto == "VALID":
        return (0, 0, 0, 0)
    p = pad_values(a)
    return (int(p[0]), int(p[1]), int(p[2]), int(p[3]))


class _Converter:
    def __init__(self, view, shapes, input_name, name, chain=()):
        self.chain = {id(n) for n in chain}  # the leading normalization: stripped, recorded in meta
        self.view = view
        self.shapes = shapes
        self.name = name
        self.input = input_name
        self.alias = {input_name: input_name}  # ONNX tensor -> IR tensor
        self.tensors = {input_name: Tensor(input_name, hwc_shape(shapes[input_name]))}
        self.nodes = []
        self.by_output = {}
        self.used_names = {input_name}
        self.flat_from = {}  # IR flat tensor -> HWC shape it was flattened from

    def run(self) -> Graph:
        for i, node in enumerate(self.view.graph.node):
            if id(node) in self.chain:
                self.alias[node.output[0]] = self.input
                continue
            handler = "_add_op" if node.op_type == "Add" else f"_{node.op_type.lower()}"
            getattr(self, handler)(node, i)
        outputs = [self.alias[o.name] for o in self.view.graph.output]
        return Graph(self.name, self.input, outputs, self.tensors, self.nodes, meta={})

    # -- helpers

    def _src(self, onnx_name) -> str:
        return self.alias[onnx_name]

    def _emit(self, onnx_node, index, op, inputs, attrs, weight=None, bias=None) -> Node:
        base = clean_name(onnx_node.name, f"{op}{index}")
        name, k = base, 1
        while name in self.used_names:
            k += 1
            name = f"{base}_{k}"
        self.used_names.add(name)
        node = Node(name, op, inputs, name, attrs, weight=weight, bias=bias)
        shape = hwc_shape(self.shapes[onnx_node.output[0]])
        self.tensors[name] = Tensor(name, shape)
        self.nodes.append(node)
        self.by_output[name] = node
        self.alias[onnx_node.output[0]] = name
        return node

    def _const(self, name):
        return np.asarray(self.view.constants[name], dtype=np.float64)

    # -- ops

    def _constant(self, node, i):
        pass

    def _dropout(self, node, i):
        if node.input[0] in self.view.constants:
            return  # an alias of a constant (see OnnxView)
        self.alias[node.output[0]] = self._src(node.input[0])

    _identity = _dropout

    def _conv(self, node, i):
        a = attrs_of(node)
        w = self._const(node.input[1])  # OIHW
        c_out, _, kh, kw = w.shape
        bias = self._const(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(c_out)
        stride = tuple(int(s) for s in a.get("strides", [1, 1]))
        in_shape = self.tensors[self._src(node.input[0])].shape
        pads = _pads(a, in_shape[:2], (kh, kw), stride)
        dilation = tuple(int(d) for d in a.get("dilations", [1, 1]))
        pads = _pads(a, in_shape[:2], ((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1), stride)
        attrs = {"kernel": (int(kh), int(kw)), "stride": stride, "pads": pads,
                 "groups": int(a.get("group", 1)), "act": "none"}
        if dilation != (1, 1):  # only when used, so models without it keep their files as they were
            attrs["dilation"] = dilation
        self._emit(node, i, "conv", [self._src(node.input[0])], attrs,
                  w.transpose(0, 2, 3, 1).astype(np.float32), bias.astype(np.float32))

    def _gemm(self, node, i):
        a = attrs_of(node)
        w = self._const(node.input[1])
        if not a.get("transB", 0):
            w = w.T
        w = w * float(a.get("alpha", 1.0))
        bias = np.zeros(w.shape[0])
        if len(node.input) > 2 and node.input[2]:
            bias = np.broadcast_to(self._const(node.input[2]).reshape(-1), (w.shape[0],)) * float(a.get("beta", 1.0))
        self._fc(node, i, w, bias)

    def _matmul(self, node, i):
        w = self._const(node.input[1]).T
        self._fc(node, i, w, np.zeros(w.shape[0]))

    def _fc(self, node, i, w, bias):
        src = self._src(node.input[0])
        if src in self.flat_from:  # ONNX flattened CHW; the IR's flatten order is HWC
            h, wd, c = self.flat_from[src]
            w = w.reshape(len(w), c, h, wd).transpose(0, 2, 3, 1).reshape(len(w), -1)
        self._emit(node, i, "fc", [src], {"act": "none", "out_dtype": "int8"},
                  w.astype(np.float32), np.asarray(bias, dtype=np.float32))

    def _batchnormalization(self, node, i):
        scale, beta, mean, var = (self._const(n) for n in node.input[1:5])
        eps = float(attrs_of(node).get("epsilon", 1e-5))
        k = scale / np.sqrt(var + eps)
        src = self.view.source(node.input[0])
        producer = self.by_output.get(self._src(node.input[0]))
        if not (src is not None and src.op_type in WEIGHTED and self.view.sole_consumer(src) and producer is not None):
            # standalone: a per-channel affine, run as a 1x1 depthwise convolution
            c = len(k)
            attrs = {"kernel": (1, 1), "stride": (1, 1), "pads": (0, 0, 0, 0), "groups": c, "act": "none"}
            self._emit(node, i, "conv", [self._src(node.input[0])], attrs,
                       k.reshape(c, 1, 1, 1).astype(np.float32), (beta - mean * k).astype(np.float32))
            return
        shape = (-1,) + (1,) * (producer.weight.ndim - 1)
        producer.weight = (producer.weight.astype(np.float64) * k.reshape(shape)).astype(np.float32)
        producer.bias = ((producer.bias.astype(np.float64) - mean) * k + beta).astype(np.float32)
        self.alias[node.output[0]] = producer.output

    def _relu(self, node, i):
        if fusable_activation(self.view, node) and self._act_capable(node):
            self._fuse_act(node, "relu")
        else:
            self._lut(node, i, "clip", {"min": 0.0, "max": float("inf")})

    def _clip(self, node, i):
        lo, hi = clip_bounds(self.view, node)
        if fusable_activation(self.view, node) and self._act_capable(node):
            self._fuse_act(node, clip_activation((lo, hi)))
        else:
            self._lut(node, i, "clip", {"min": lo, "max": hi})

    def _act_capable(self, node):
        producer = self.by_output.get(self._src(node.input[0]))
        return producer is not None and producer.op in ("conv", "fc", "add", "avgpool", "gap")

    def _lut(self, node, i, fn, params):
        """An elementwise function as an IR lut node (the table is filled in by the quantizer)."""
        self._emit(node, i, "lut", [self._src(node.input[0])], {"fn": fn, **params})

    def _sigmoid(self, node, i):
        self._lut(node, i, "sigmoid", {})

    def _tanh(self, node, i):
        self._lut(node, i, "tanh", {})

    def _hardswish(self, node, i):
        self._lut(node, i, "hardswish", {})

    def _hardsigmoid(self, node, i):
        a = attrs_of(node)
        self._lut(node, i, "hardsigmoid", {"alpha": float(a.get("alpha", 0.2)), "beta": float(a.get("beta", 0.5))})

    def _leakyrelu(self, node, i):
        self._lut(node, i, "leakyrelu", {"alpha": float(attrs_of(node).get("alpha", 0.01))})

    def _resize(self, node, i):
        sh, sw = resize_scales(self.view, self.shapes, node)
        self._emit(node, i, "resize", [self._src(node.input[0])], {"scale": (int(sh), int(sw))})

    _upsample = _resize

    def _fuse_act(self, node, act):
        producer = self.by_output[self._src(node.input[0])]
        producer.attrs["act"] = _ACT_COMPOSE[(producer.attrs.get("act", "none"), act)]
        self.alias[node.output[0]] = producer.output

    def _pool_attrs(self, node):
        a = attrs_of(node)
        kernel = tuple(int(k) for k in a["kernel_shape"])
        stride = tuple(int(s) for s in a.get("strides", [1, 1]))
        in_shape = self.tensors[self._src(node.input[0])].shape
        return a, kernel, stride, _pads(a, in_shape[:2], kernel, stride), in_shape

    def _maxpool(self, node, i):
        a, kernel, stride, pads, in_shape = self._pool_attrs(node)
        if a.get("ceil_mode", 0):
            # ceil mode = extra bottom/right padding; padded cells are never selected by a max
            out_h, out_w = hwc_shape(self.shapes[node.output[0]])[:2]
            top, left, bottom, right = pads
            bottom = max(bottom, (out_h - 1) * stride[0] + kernel[0] - in_shape[0] - top)
            right = max(right, (out_w - 1) * stride[1] + kernel[1] - in_shape[1] - left)
            pads = (top, left, bottom, right)
        self._emit(node, i, "maxpool", [self._src(node.input[0])],
                  {"kernel": kernel, "stride": stride, "pads": pads})

    def _averagepool(self, node, i):
        _, kernel, stride, pads, _ = self._pool_attrs(node)
        self._emit(node, i, "avgpool", [self._src(node.input[0])],
                  {"kernel": kernel, "stride": stride, "pads": pads, "act": "none"})

    def _globalaveragepool(self, node, i):
        self._emit(node, i, "gap", [self._src(node.input[0])], {"act": "none"})

    def _add_op(self, node, i):
        consts = [n for n in node.input if self.view.is_const(n)]
        if consts:  # bias of a MatMul (checked in onnx_support)
            other = node.input[1] if node.input[0] in consts else node.input[0]
            producer = self.by_output[self._src(other)]
            producer.bias = (producer.bias + self._const(consts[0]).reshape(-1)).astype(np.float32)
            self.alias[node.output[0]] = producer.output
            return
        self._emit(node, i, "add", [self._src(n) for n in node.input], {"act": "none"})

    def _concat(self, node, i):
        self._emit(node, i, "concat", [self._src(n) for n in node.input], {})

    def _flatten(self, node, i):
        src = self._src(node.input[0])
        shape = self.tensors[src].shape
        if shape[:2] == (1, 1):  # already flat: nothing to record
            self.alias[node.output[0]] = src
            return
        out = self._emit(node, i, "flatten", [src], {})
        self.flat_from[out.output] = shape

    _reshape = _flatten

