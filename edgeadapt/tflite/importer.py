"""A full-integer TFLite model (as the TFLite converter writes it) -> our float IR.

Weights and biases are dequantized with their own (per-tensor or per-channel) affine scales,
giving the float graph the int8 model approximates; the quantizer then re-expresses it in power-of-
two fixed point with its usual calibration. Activation scales are not kept: they are re-derived
from calibration frames like any float model's.

The input: TFLite image models take int8 codes q = p - 128 of the raw pixels p (uint8 models: p),
so the float input is x = s (q - z) with the input tensor's scale s and zero point z; that is
recorded as the graph's input normalization (ir/normalization.py) and folded into the first layer.

Supported: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MAX_POOL_2D, AVERAGE_POOL_2D (VALID, or SAME
that pads nothing), MEAN over H and W, ADD, CONCATENATION (channels), RESHAPE / SQUEEZE to a vector,
PAD before a convolution, RELU / RELU6 (fused or after a layer that has none), QUANTIZE and
DEQUANTIZE at the edges, a trailing SOFTMAX (dropped: the outputs are its logits). Anything else
is refused, naming every unsupported op.
"""

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.graph import Graph, Node, Tensor
from edgeadapt.tflite.schema import op_names, schema, type_names, unpack

SUPPORTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "ADD",
             "CONCATENATION", "RESHAPE", "SQUEEZE", "PAD", "RELU", "RELU6", "QUANTIZE", "DEQUANTIZE", "SOFTMAX"}
WEIGHTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def read_tflite(path) -> tuple:
    """(ModelT, bytes) of a .tflite file, or a one-line error."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise EdgeadaptError(f"{path}: cannot read ({exc.strerror})") from None
    return unpack(data, str(path)), data


def import_tflite(path) -> Graph:
    """The float IR Graph of an int8 .tflite; graph.meta records the source, the input
    normalization and what was dropped."""
    model, data = read_tflite(path)
    from edgeadapt.tflite.runtime import check_tflite

    check_tflite(data, str(path))
    return _Reader(model, str(path)).graph()


def _name(t) -> str:
    n = t.name
    return n.decode() if isinstance(n, bytes) else str(n)


class _Reader:
    def __init__(self, model, where):
        self.fb = schema()
        self.model = model
        self.where = where
        if not model.subgraphs or len(model.subgraphs) != 1:
            raise EdgeadaptError(f"{where}: {len(model.subgraphs or [])} subgraphs; edgeadapt imports one")
        self.sub = model.subgraphs[0]
        names = op_names()
        self.ops = []
        for op in self.sub.operators or []:
            oc = model.operatorCodes[op.opcodeIndex]
            code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
            name = "CUSTOM:" + (oc.customCode.decode() if isinstance(oc.customCode, bytes) else str(oc.customCode)) \
                if code == self.fb.BuiltinOperator.CUSTOM else names.get(code, f"op {code}")
            self.ops.append((name, op))
        self.alias = {}  # TFLite tensor -> IR tensor name
        self.pending_pad = {}  # TFLite tensor (a PAD's output) -> (source tensor, pads)
        self.tensors, self.nodes = {}, []
        self.meta = {"source": f"tflite:{where}", "dropped": []}

    # ------------------------------------------------------------------ helpers

    def t(self, i):
        return self.sub.tensors[i]

    def const(self, i) -> np.ndarray | None:
        t = self.t(i)
        buf = self.model.buffers[t.buffer] if t.buffer else None
        if buf is None or buf.data is None or len(buf.data) == 0:
            return None
        dtype = {self.fb.TensorType.INT8: np.int8, self.fb.TensorType.INT32: np.int32,
                 self.fb.TensorType.UINT8: np.uint8, self.fb.TensorType.FLOAT32: np.float32,
                 self.fb.TensorType.INT64: np.int64, self.fb.TensorType.INT16: np.int16}.get(t.type)
        if dtype is None:
            raise EdgeadaptError(f"{self.where}: tensor '{_name(t)}' has type {type_names().get(t.type, t.type)}")
        return np.frombuffer(bytes(bytearray(buf.data)), dtype=dtype).reshape([int(s) for s in t.shape])

    def dequantized(self, i, axis) -> np.ndarray:
        t, q = self.t(i), self.const(i)
        if q is None:
            raise EdgeadaptError(f"{self.where}: tensor '{_name(t)}' should be a constant")
        if t.type == self.fb.TensorType.FLOAT32:
            raise EdgeadaptError(f"{self.where}: float weights in '{_name(t)}': import takes full-integer int8 models "
                                 f"(TFLiteConverter with a representative dataset), not float or hybrid ones")
        qp = t.quantization
        if qp is None or qp.scale is None or len(qp.scale) == 0:
            raise EdgeadaptError(f"{self.where}: tensor '{_name(t)}' is integer without quantization parameters")
        scale = np.asarray(qp.scale, dtype=np.float64)
        zero = np.asarray(qp.zeroPoint if qp.zeroPoint is not None else [0], dtype=np.float64)
        per_channel = [1] * q.ndim
        per_channel[qp.quantizedDimension] = -1

        def along(v):  # one value for the tensor, or one per channel of the quantized dimension
            return v.reshape([1] * q.ndim) if v.size == 1 else v.reshape(per_channel)

        return ((q.astype(np.float64) - along(zero)) * along(scale)).astype(np.float32)

    def hwc(self, i) -> tuple:
        shape = [int(s) for s in self.t(i).shape]
        if len(shape) == 4 and shape[0] == 1:
            return tuple(shape[1:])
        if len(shape) == 2 and shape[0] == 1:
            return (1, 1, shape[1])
        if len(shape) == 1:
            return (1, 1, shape[0])
        raise EdgeadaptError(f"{self.where}: tensor '{_name(self.t(i))}' has shape {shape}; edgeadapt runs "
                             f"batch-1 NHWC images and vectors")

    def ir(self, i) -> str:
        if i in self.alias:
            return self.alias[i]
        raise EdgeadaptError(f"{self.where}: tensor '{_name(self.t(i))}' is read before it is written")

    def out(self, i, name=None) -> str:
        name = name or f"t{i}"  # the converter's tensor names are long op chains; ours are short
        while name in self.tensors:
            name += "_"
        self.tensors[name] = Tensor(name, self.hwc(i))
        self.alias[i] = name
        return name

    def emit(self, op_name, name, op, inputs, out_index, attrs, weight=None, bias=None):
        out = self.out(out_index, f"{name}_{len(self.nodes)}")
        self.nodes.append(Node(out, op, inputs, out, attrs, weight=weight, bias=bias))
        return out

    def act(self, opts, op_name):
        fb = self.fb
        f = getattr(opts, "fusedActivationFunction", 0) if opts is not None else 0
        acts = {fb.ActivationFunctionType.NONE: "none", fb.ActivationFunctionType.RELU: "relu",
                fb.ActivationFunctionType.RELU6: "relu6"}
        if f not in acts:
            names = {v: k for k, v in vars(fb.ActivationFunctionType).items() if not k.startswith("_")}
            raise EdgeadaptError(f"{self.where}: {op_name} with fused activation {names.get(f, f)} is not supported "
                                 f"(none, RELU, RELU6)")
        return acts[f]

    def pads(self, padding, in_hw, kernel, stride):
        if padding == self.fb.Padding.VALID:
            return (0, 0, 0, 0)
        p = []
        for size, k, s in zip(in_hw, kernel, stride):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            p.append((total // 2, total - total // 2))
        return (p[0][0], p[1][0], p[0][1], p[1][1])

    # ------------------------------------------------------------------ the graph

    def graph(self) -> Graph:
        self._refuse_float()
        unsupported = sorted({name for name, _ in self.ops if name not in SUPPORTED})
        if unsupported:
            counts = {n: sum(1 for name, _ in self.ops if name == n) for n in unsupported}
            raise EdgeadaptError(f"{self.where}: unsupported TFLite ops: "
                                 + ", ".join(f"{n} ({counts[n]}x)" for n in unsupported))
        if len(self.sub.inputs) != 1:
            raise EdgeadaptError(f"{self.where}: {len(self.sub.inputs)} inputs; edgeadapt imports one-input models")
        inp = self.sub.inputs[0]
        shape = [int(s) for s in self.t(inp).shape]
        if len(shape) != 4 or shape[0] != 1 or shape[3] not in (1, 3):
            raise EdgeadaptError(f"{self.where}: input shape {shape}; edgeadapt imports 1 x H x W x C images (C = 1 or 3)")
        self.input_normalization(inp)
        name = "input"
        self.tensors[name] = Tensor(name, tuple(shape[1:]))
        self.alias[inp] = name
        for op_name, op in self.ops:
            if op_name == "SOFTMAX":
                if op.outputs[0] not in self.sub.outputs:
                    raise EdgeadaptError(f"{self.where}: SOFTMAX inside the graph is not supported (only a final one)")
                self.alias[op.outputs[0]] = self.ir(op.inputs[0])
                self.meta["dropped"].append("final SOFTMAX (the outputs are its input logits)")
                continue
            getattr(self, "_" + op_name.lower())(op_name, op)
        outputs = []
        for o in self.sub.outputs:
            outputs.append(self.ir(o))
        if not any(n.op in ("conv", "fc") for n in self.nodes):
            raise EdgeadaptError(f"{self.where}: no convolution or fully-connected layer to quantize")
        last = {n.output: n for n in self.nodes}
        for o in outputs:
            if o in last and last[o].op == "fc":
                last[o].attrs["out_dtype"] = "int32"
        g = Graph(name=_model_name(self.where), input=name, outputs=outputs, tensors=self.tensors, nodes=self.nodes,
                  meta=self.meta)
        return g

    def _refuse_float(self):
        """A float or hybrid model (float input without QUANTIZE, or float weights) is named as such."""
        fb = self.fb
        why = None
        inputs = self.sub.inputs or []
        if inputs and self.t(inputs[0]).type == fb.TensorType.FLOAT32 and not (
                self.ops and self.ops[0][0] == "QUANTIZE" and inputs[0] in self.ops[0][1].inputs):
            why = "float input without QUANTIZE"
        for name, op in self.ops:
            if name in WEIGHTED and len(op.inputs) > 1 and self.t(op.inputs[1]).type == fb.TensorType.FLOAT32:
                why = why or f"float weights in {name}"
        if why:
            raise EdgeadaptError(f"{self.where}: float model ({why}): import takes full-integer int8 models "
                                 f"(TFLiteConverter with a representative dataset and int8 ops)")

    def input_normalization(self, inp):
        fb = self.fb
        t = self.t(inp)
        first = self.ops[0] if self.ops else None
        if t.type == fb.TensorType.FLOAT32:
            if first is None or first[0] != "QUANTIZE" or inp not in first[1].inputs:
                raise EdgeadaptError(f"{self.where}: float model (float input, no QUANTIZE): import takes full-integer "
                                     f"int8 models (TFLiteConverter with a representative dataset)")
            self.meta["input_norm_note"] = "float input: the pixel mapping is the default or --input-scale/--input-offset"
            return
        qp = t.quantization
        if t.type not in (fb.TensorType.INT8, fb.TensorType.UINT8) or qp is None or not qp.scale:
            raise EdgeadaptError(f"{self.where}: input type {type_names().get(t.type, t.type)} without int8 quantization")
        s, z = float(qp.scale[0]), float((qp.zeroPoint or [0])[0])
        c = int(t.shape[3])
        offset = -s * (128.0 + z) if t.type == fb.TensorType.INT8 else -s * z
        self.meta["input_norm"] = {"scale": [s] * c, "offset": [offset] * c}
        self.meta["tflite_input"] = {"type": "int8" if t.type == fb.TensorType.INT8 else "uint8", "scale": s, "zero_point": z}

    # ------------------------------------------------------------------ ops

    def _quantize(self, name, op):
        self.alias[op.outputs[0]] = self.ir(op.inputs[0])

    _dequantize = _quantize

    def _pad(self, name, op):
        p = self.const(op.inputs[1])
        if p is None or p.shape != (4, 2) or p[0].any() or p[3].any():
            raise EdgeadaptError(f"{self.where}: PAD must pad H and W by constants")
        self.pending_pad[op.outputs[0]] = (op.inputs[0], (int(p[1, 0]), int(p[2, 0]), int(p[1, 1]), int(p[2, 1])))

    def _source(self, i, what):
        """(IR input, extra pads) of an op input, looking through a PAD (only a conv may read one)."""
        if i in self.pending_pad:
            src, pads = self.pending_pad[i]
            if what not in ("conv", "avgpool"):
                raise EdgeadaptError(f"{self.where}: PAD before {what} is not supported (zero padding is not max "
                                     f"pooling's)")
            return self.ir(src), pads, self.hwc(src)
        return self.ir(i), (0, 0, 0, 0), self.hwc(i)

    def _conv_2d(self, name, op):
        opts = op.builtinOptions
        if opts.dilationHFactor != 1 or opts.dilationWFactor != 1:
            raise EdgeadaptError(f"{self.where}: dilated {name} is not supported")
        src, extra, in_shape = self._source(op.inputs[0], "conv")
        w = self.dequantized(op.inputs[1], 0)  # OHWI
        kernel, stride = (w.shape[1], w.shape[2]), (opts.strideH, opts.strideW)
        groups = in_shape[2] // w.shape[3]
        self._conv_node(name, op, src, extra, in_shape, w, kernel, stride, groups, opts)

    def _depthwise_conv_2d(self, name, op):
        opts = op.builtinOptions
        if opts.dilationHFactor != 1 or opts.dilationWFactor != 1:
            raise EdgeadaptError(f"{self.where}: dilated {name} is not supported")
        src, extra, in_shape = self._source(op.inputs[0], "conv")
        w = self.dequantized(op.inputs[1], 3)  # [1, kh, kw, C_out]
        w = np.ascontiguousarray(w.transpose(3, 1, 2, 0))  # OHWI, I = 1
        kernel, stride = (w.shape[1], w.shape[2]), (opts.strideH, opts.strideW)
        self._conv_node(name, op, src, extra, in_shape, w, kernel, stride, in_shape[2], opts)

    def _conv_node(self, name, op, src, extra, in_shape, w, kernel, stride, groups, opts):
        padded = (in_shape[0] + extra[0] + extra[2], in_shape[1] + extra[1] + extra[3])
        own = self.pads(opts.padding, padded, kernel, stride)
        pads = tuple(a + b for a, b in zip(extra, own))
        bias = self._bias(op, w.shape[0])
        attrs = {"kernel": kernel, "stride": stride, "pads": pads, "groups": groups, "act": self.act(opts, name)}
        self.emit(name, name.lower(), "conv", [src], op.outputs[0], attrs, weight=w, bias=bias)

    def _bias(self, op, n):
        if len(op.inputs) < 3 or op.inputs[2] < 0:
            return np.zeros(n, np.float32)
        return self.dequantized(op.inputs[2], 0).reshape(-1)

    def _fully_connected(self, name, op):
        opts = op.builtinOptions
        src = self.ir(op.inputs[0])
        w = self.dequantized(op.inputs[1], 0)  # [C_out, K]; K in NHWC flatten order = ours
        t = self.tensors[src]
        if t.shape[:2] != (1, 1):  # the FC flattens its input itself
            flat = f"{src}_flat"
            self.tensors[flat] = Tensor(flat, (1, 1, t.size))
            self.nodes.append(Node(f"flatten_{len(self.nodes)}", "flatten", [src], flat, {}))
            src = flat
        if self.tensors[src].size != w.shape[1]:
            raise EdgeadaptError(f"{self.where}: FULLY_CONNECTED reads {self.tensors[src].size} values, its weights {w.shape[1]}")
        attrs = {"act": self.act(opts, name), "out_dtype": "int8"}
        self.emit(name, "fc", "fc", [src], op.outputs[0], attrs, weight=w, bias=self._bias(op, w.shape[0]))

    def _pool(self, name, op, kind):
        opts = op.builtinOptions
        src, extra, in_shape = self._source(op.inputs[0], kind)
        kernel, stride = (opts.filterHeight, opts.filterWidth), (opts.strideH, opts.strideW)
        pads = self.pads(opts.padding, in_shape[:2], kernel, stride)
        if kind == "avgpool" and any(pads):
            raise EdgeadaptError(f"{self.where}: AVERAGE_POOL_2D with SAME padding leaves the padding out of the "
                                 f"average; edgeadapt's average pool counts it")
        pads = tuple(a + b for a, b in zip(extra, pads))
        attrs = {"kernel": kernel, "stride": stride, "pads": pads}
        if kind == "avgpool":
            attrs["act"] = self.act(opts, name)
        elif self.act(opts, name) != "none":
            raise EdgeadaptError(f"{self.where}: MAX_POOL_2D with a fused activation is not supported")
        self.emit(name, kind, kind, [src], op.outputs[0], attrs)

    def _max_pool_2d(self, name, op):
        self._pool(name, op, "maxpool")

    def _average_pool_2d(self, name, op):
        self._pool(name, op, "avgpool")

    def _mean(self, name, op):
        axes = self.const(op.inputs[1])
        if axes is None or sorted(int(a) % 4 for a in axes.reshape(-1)) != [1, 2]:
            raise EdgeadaptError(f"{self.where}: MEAN over axes {None if axes is None else axes.tolist()}; only the "
                                 f"global average over H and W is supported")
        out = self.out(op.outputs[0], f"gap_{len(self.nodes)}")
        self.tensors[out].shape = (1, 1, self.tensors[self.ir(op.inputs[0])].shape[2])
        self.nodes.append(Node(out, "gap", [self.ir(op.inputs[0])], out, {"act": "none"}))

    def _add(self, name, op):
        for i in op.inputs:
            if self.const(i) is not None:
                raise EdgeadaptError(f"{self.where}: ADD of a constant is not supported")
        a, b = (self.ir(i) for i in op.inputs)
        if self.tensors[a].shape != self.tensors[b].shape:
            raise EdgeadaptError(f"{self.where}: ADD with broadcasting is not supported")
        self.emit(name, "add", "add", [a, b], op.outputs[0], {"act": self.act(op.builtinOptions, name)})

    def _concatenation(self, name, op):
        opts = op.builtinOptions
        if opts.axis not in (3, -1):
            raise EdgeadaptError(f"{self.where}: CONCATENATION along axis {opts.axis}; only channels are supported")
        if self.act(opts, name) != "none":
            raise EdgeadaptError(f"{self.where}: {name} with a fused activation is not supported")
        self.emit(name, "concat", "concat", [self.ir(i) for i in op.inputs], op.outputs[0], {})

    def _reshape(self, name, op):
        src = self.ir(op.inputs[0])
        out_shape = [int(s) for s in self.t(op.outputs[0]).shape]
        if len(out_shape) not in (1, 2) or (len(out_shape) == 2 and out_shape[0] != 1):
            raise EdgeadaptError(f"{self.where}: {name} to {out_shape}; only flattening to a vector is supported")
        self.emit(name, "flatten", "flatten", [src], op.outputs[0], {})

    _squeeze = _reshape

    def _relu(self, name, op):
        src = self.ir(op.inputs[0])
        producer = next((n for n in self.nodes if n.output == src), None)
        readers = [o for _, o in self.ops if op.inputs[0] in o.inputs]
        if producer is None or producer.op not in ("conv", "fc", "add", "avgpool", "gap") or \
                producer.attrs.get("act", "none") != "none" or len(readers) != 1:
            raise EdgeadaptError(f"{self.where}: a standalone {name} after anything but a single-reader layer "
                                 f"is not supported")
        producer.attrs["act"] = name.lower()
        self.alias[op.outputs[0]] = src

    _relu6 = _relu


def _model_name(path) -> str:
    from pathlib import Path

    return Path(path).stem
