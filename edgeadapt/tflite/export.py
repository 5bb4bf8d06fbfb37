"""A quantized graph as a .tflite model (docs/fixed-point.md section 6, docs/decisions.md D19).

Two modes:

- `int8` (default): the TFLite int8 scheme. A tensor of FL f has scale 2^-f and zero point 0 (int8)
  or -128 (our uint8 codes, stored as int8 code - 128); weights are per-channel int8 (4/2-bit
  layers hold the same values in int8), biases int32 at scale 2^-(FL_x + FL_w[c]). Ops: CONV_2D,
  DEPTHWISE_CONV_2D, FULLY_CONNECTED, MAX_POOL_2D, ADD, CONCATENATION, RESHAPE, PAD / PADV2,
  relu / relu6 fused; average pools are depthwise convolutions with weight 1 at weight scale
  M * 2^-16 (our multiplier, section 4.4). TFLite requantizes with a fixed-point multiplier and
  rounds differently from our shift (section 6), so outputs may differ by an LSB here and there.
  The raw int32 last layer is a BATCH_MATMUL of int8 codes into int32 plus an int32 ADD of the
  bias: exact in both modes.
- `exact`: a float32 graph whose every tensor holds our integer codes times 2^-FL exactly:
  float convolutions and sums (exact: every partial sum is an integer multiple of the
  accumulator's step below 2^24, checked per layer), then our rounding spelled out with
  MUL, ADD 0.5, FLOOR, MAXIMUM, MINIMUM. LiteRT's float kernels then reproduce the integer
  reference bit for bit.

Graph input: `[1, H, W, C]` int8 codes p - 128 at scale 2^-8 (int8 mode) or float32 (p - 128) / 256
(exact mode). Graph outputs: the graph's outputs in order: our int32 values for the raw last layer,
int8 codes of an int8 output (int8 mode) or float32 real values (exact mode).
"""

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.intops import avgpool_multiplier, relu6_limit
from edgeadapt.tflite.schema import pack, schema

MODES = ("int8", "exact")
FLOAT_EXACT = 1 << 24  # float32 holds every integer below this exactly
ACT = {"none": "NONE", "relu": "RELU", "relu6": "RELU6"}
VERSIONS = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "MAX_POOL_2D": 2, "ADD": 2,
            "CONCATENATION": 2, "PAD": 2, "PADV2": 2, "DEQUANTIZE": 2}


def export_tflite(graph, mode: str = "int8") -> bytes:
    """The .tflite bytes of a quantized graph; a one-line error naming the node that cannot go."""
    from edgeadapt.quant.artifact import check_bounds

    if mode not in MODES:
        raise EdgeadaptError(f"unknown TFLite export mode '{mode}' (int8 or exact)")
    check_bounds(graph)
    return pack(_Writer(graph, mode).model())


def _fl(t) -> int:
    return int(t.fl)


class _Writer:
    def __init__(self, graph, mode):
        self.fb = schema()
        self.g = graph
        self.exact = mode == "exact"
        self.tensors, self.buffers, self.ops, self.codes = [], [self.fb.BufferT()], [], {}
        self.index = {}  # IR tensor -> TFLite tensor index

    # ------------------------------------------------------------------ tensors

    def _add_tensor(self, name, shape, ttype, scale=None, zero=None, data=None, qdim=0):
        fb = self.fb
        t = fb.TensorT()
        t.name, t.shape, t.type = name, [int(s) for s in shape], ttype
        if scale is not None:
            q = fb.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            q.zeroPoint = [int(z) for z in np.atleast_1d(zero if zero is not None else 0)]
            q.quantizedDimension = qdim
            t.quantization = q
        if data is not None:
            buf = fb.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def _const_f32(self, name, values, shape=None):
        v = np.asarray(values, dtype=np.float32)
        return self._add_tensor(name, v.shape if shape is None else shape, self.fb.TensorType.FLOAT32, data=v)

    def _act_tensor(self, name, ir_name=None, shape=None):
        """A TFLite tensor for IR activation ir_name (or a float temporary of `shape`)."""
        fb = self.fb
        if ir_name is None:
            return self._add_tensor(name, shape, fb.TensorType.FLOAT32)
        t = self.g.tensors[ir_name]
        shape = [1, *t.shape]
        if self.exact or t.dtype == "int32":
            return self._add_tensor(name, shape, fb.TensorType.FLOAT32)
        zero = -128 if t.dtype == "uint8" else 0
        return self._add_tensor(name, shape, fb.TensorType.INT8, 2.0 ** -_fl(t), zero)

    def _op(self, opname, inputs, outputs, options_type=None, options=None):
        fb = self.fb
        code = getattr(fb.BuiltinOperator, opname)
        if code not in self.codes:
            oc = fb.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode = code, min(code, 127)
            oc.version = VERSIONS.get(opname, 1) if not self.exact else 1
            self.codes[code] = (len(self.codes), oc)
        op = fb.OperatorT()
        op.opcodeIndex = self.codes[code][0]
        op.inputs, op.outputs = list(inputs), list(outputs)
        if options is not None:
            op.builtinOptionsType = getattr(fb.BuiltinOptions, options_type)
            op.builtinOptions = options
        self.ops.append(op)

    # ------------------------------------------------------------------ model

    def model(self):
        fb, g = self.fb, self.g
        tin = g.tensors[g.input]
        if _fl(tin) != 8 or tin.dtype != "int8":
            raise EdgeadaptError(f"model '{g.name}': input FL {tin.fl} ({tin.dtype}); a TFLite export reads frames at FL 8")
        self.index[g.input] = self._act_tensor("input", g.input)
        for node in g.nodes:
            self._node(node)
        sub = fb.SubGraphT()
        sub.tensors, sub.operators = self.tensors, self.ops
        sub.inputs = [self.index[g.input]]
        sub.outputs = [self.index[o] for o in g.outputs]
        sub.name = "main"
        m = fb.ModelT()
        m.version = 3
        m.operatorCodes = [oc for _, oc in sorted(self.codes.values(), key=lambda item: item[0])]
        m.subgraphs = [sub]
        m.buffers = self.buffers
        m.description = f"edgeadapt {g.name} ({'exact float emulation' if self.exact else 'int8'})"
        return m

    def _node(self, node):
        handler = {"conv": self._conv, "fc": self._fc, "maxpool": self._maxpool, "avgpool": self._avgpool,
                   "gap": self._avgpool, "add": self._add, "concat": self._concat, "flatten": self._flatten}
        if node.op not in handler:
            raise EdgeadaptError(f"node '{node.name}': op '{node.op}' has no TFLite form")
        handler[node.op](node)

    # ------------------------------------------------------------------ shared pieces

    def _padding(self, node, in_shape, kernel, stride, pads, pad_value_code=None):
        """(TFLite padding enum, input tensor index): SAME or VALID when our pads are TFLite's, else
        an explicit PAD / PADV2 in front (pad_value_code: the code to pad with, None = zero)."""
        fb = self.fb
        src = self.index[node.inputs[0]]
        top, left, bottom, right = (int(p) for p in pads)
        if not any((top, left, bottom, right)):
            return fb.Padding.VALID, src
        same = []
        for size, k, s in zip(in_shape[:2], kernel, stride):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            same += [total // 2, total - total // 2]
        if [top, bottom, left, right] == same:
            return fb.Padding.SAME, src
        h, w, c = in_shape
        t = self.g.tensors[node.inputs[0]]
        padded = self._add_tensor(f"{node.name}/pad", [1, h + top + bottom, w + left + right, c],
                                  self.tensors[src].type, *self._quant_of(src))
        paddings = self._add_tensor(f"{node.name}/paddings", [4, 2], fb.TensorType.INT32,
                                    data=np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32))
        if pad_value_code is None:
            self._op("PAD", [src, paddings], [padded], "PadOptions", fb.PadOptionsT())
        else:
            if self.exact:
                value = self._const_f32(f"{node.name}/pad_value", [pad_value_code * 2.0 ** -_fl(t)], [])
            else:
                code = pad_value_code - (128 if t.dtype == "uint8" else 0)
                value = self._add_tensor(f"{node.name}/pad_value", [], fb.TensorType.INT8, *self._quant_of(src),
                                         data=np.array([code], np.int8))
            self._op("PADV2", [src, paddings, value], [padded], "PadV2Options", fb.PadV2OptionsT())
        return fb.Padding.VALID, padded

    def _quant_of(self, index):
        q = self.tensors[index].quantization
        return (None, None) if q is None else (q.scale, q.zeroPoint)

    def _act_enum(self, act):
        return getattr(self.fb.ActivationFunctionType, ACT[act])

    def _requantize(self, node, value, k_max, out_name, act):
        """Exact mode: our rounding of `value` (a float tensor holding acc * 2^-(FL_acc)) to the
        output tensor `out_name`: out = clamp(floor(acc * 2^-k + 1/2)) * 2^-FL_o."""
        fb = self.fb
        out = self.g.tensors[out_name]
        fl_o = _fl(out)
        unsigned = out.dtype == "uint8"
        lo, hi = (0, 255) if unsigned else (-128, 127)
        if act in ("relu", "relu6"):
            lo = max(lo, 0)
        if act == "relu6":
            hi = min(hi, relu6_limit(fl_o, unsigned))
        shape = self.tensors[value].shape
        scaled = self._act_tensor(f"{out_name}/scaled", shape=shape)
        self._op("MUL", [value, self._const_f32(f"{out_name}/2^fl", [2.0 ** fl_o], [])], [scaled], "MulOptions",
                 fb.MulOptionsT())
        if k_max > 0:  # some channel rounds; a channel with k <= 0 holds an integer, floor(v + 1/2) = v
            half = self._act_tensor(f"{out_name}/plus_half", shape=shape)
            self._op("ADD", [scaled, self._const_f32(f"{out_name}/half", [0.5], [])], [half], "AddOptions",
                     fb.AddOptionsT())
            floor = self._act_tensor(f"{out_name}/floor", shape=shape)
            self._op("FLOOR", [half], [floor])
            scaled = floor
        low = self._act_tensor(f"{out_name}/max", shape=shape)
        self._op("MAXIMUM", [scaled, self._const_f32(f"{out_name}/lo", [float(lo)], [])], [low], "MaximumMinimumOptions",
                 fb.MaximumMinimumOptionsT())
        high = self._act_tensor(f"{out_name}/min", shape=shape)
        self._op("MINIMUM", [low, self._const_f32(f"{out_name}/hi", [float(hi)], [])], [high],
                 "MaximumMinimumOptions", fb.MaximumMinimumOptionsT())
        result = self._act_tensor(out_name, out_name)
        self._op("MUL", [high, self._const_f32(f"{out_name}/2^-fl", [2.0 ** -fl_o], [])], [result], "MulOptions",
                 fb.MulOptionsT())
        self.index[out_name] = result

    def _check_float_exact(self, node, x_dtype, qweight, qbias):
        """Exact mode: every partial sum of the accumulator stays an integer below 2^24."""
        peak = 255 if x_dtype == "uint8" else 128
        w = np.abs(np.asarray(qweight, dtype=np.int64)).reshape(len(qweight), -1).sum(axis=1)
        bound = np.abs(np.asarray(qbias, dtype=np.int64)) + peak * w
        if bound.max() >= FLOAT_EXACT:
            c = int(bound.argmax())
            raise EdgeadaptError(f"node '{node.name}': channel {c} may accumulate {int(bound[c]):,} >= 2^24, beyond "
                                 f"float32's exact integers: no exact TFLite export (use --tflite-mode int8)")

    # ------------------------------------------------------------------ ops

    def _weights(self, node, data, qdim):
        """Weight and bias tensors of a conv / fc: int8 per-channel (int8 mode) or float codes * 2^-FL."""
        fb = self.fb
        g = self.g
        wfl = np.asarray(node.weight_fl, dtype=np.int64).reshape(-1)
        if wfl.size == 1:
            wfl = np.repeat(wfl, node.qweight.shape[0])
        fl_x = _fl(g.tensors[node.inputs[0]])
        bias = np.asarray(node.qbias, dtype=np.int64)
        if self.exact:
            shape = [1] * data.ndim
            shape[qdim] = -1
            w = self._const_f32(f"{node.name}/weights", data.astype(np.float64) * np.exp2(-wfl).reshape(shape))
            b = self._const_f32(f"{node.name}/bias", bias.astype(np.float64) * np.exp2(-(fl_x + wfl)))
            return w, b
        w = self._add_tensor(f"{node.name}/weights", data.shape, fb.TensorType.INT8, np.exp2(-wfl), np.zeros_like(wfl),
                             data=data.astype(np.int8), qdim=qdim)
        b = self._add_tensor(f"{node.name}/bias", bias.shape, fb.TensorType.INT32, np.exp2(-(fl_x + wfl)),
                             np.zeros_like(wfl), data=bias.astype(np.int32))
        return w, b

    def _conv(self, node):
        fb, g = self.fb, self.g
        a = node.attrs
        x = g.tensors[node.inputs[0]]
        h, w, c_in = x.shape
        c_out = node.qweight.shape[0]
        groups = int(a.get("groups", 1))
        kernel, stride = tuple(a["kernel"]), tuple(a.get("stride", (1, 1)))
        if self.exact:
            self._check_float_exact(node, x.dtype, node.qweight, node.qbias)
        padding, src = self._padding(node, x.shape, kernel, stride, a.get("pads", (0, 0, 0, 0)))
        depthwise = groups == c_in and groups > 1
        if groups != 1 and not depthwise:
            raise EdgeadaptError(f"node '{node.name}': grouped convolution ({groups} groups of {c_in} channels) has "
                                 f"no TFLite builtin")
        qw = np.asarray(node.qweight)
        if depthwise:  # OHWI with I = 1 -> TFLite's [1, kh, kw, C_out]
            wt, bt = self._weights(node, qw.transpose(3, 1, 2, 0), 3)
            opts = fb.DepthwiseConv2DOptionsT()
            opts.depthMultiplier = c_out // c_in
            name, otype = "DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions"
        else:
            wt, bt = self._weights(node, qw, 0)
            opts = fb.Conv2DOptionsT()
            name, otype = "CONV_2D", "Conv2DOptions"
        opts.padding, opts.strideH, opts.strideW = padding, stride[0], stride[1]
        self._emit_weighted(node, name, otype, opts, [src, wt, bt])

    def _emit_weighted(self, node, name, otype, opts, inputs):
        """The op itself: int8 with the fused activation, or float then our rounding (exact)."""
        g = self.g
        out = g.tensors[node.output]
        if not self.exact:
            opts.fusedActivationFunction = self._act_enum(node.act)
            result = self._act_tensor(node.output, node.output)
            self._op(name, inputs, [result], otype, opts)
            self.index[node.output] = result
            return
        shape = [1, *out.shape]
        acc = self._act_tensor(f"{node.output}/acc", shape=shape)
        self._op(name, inputs, [acc], otype, opts)
        k = _fl(g.tensors[node.inputs[0]]) + np.asarray(node.weight_fl, dtype=np.int64) - _fl(out)
        self._requantize(node, acc, int(np.max(k)), node.output, node.act)

    def _fc(self, node):
        fb, g = self.fb, self.g
        x = g.tensors[node.inputs[0]]
        raw = node.attrs.get("out_dtype", "int8") == "int32"
        if self.exact and not raw:
            self._check_float_exact(node, x.dtype, node.qweight, node.qbias)
        src = self.index[node.inputs[0]]
        opts = fb.FullyConnectedOptionsT()
        if raw:
            self._raw_fc(node, src)
            return
        wt, bt = self._weights(node, np.asarray(node.qweight), 0)
        self._emit_weighted(node, "FULLY_CONNECTED", "FullyConnectedOptions", opts, [src, wt, bt])

    def _raw_fc(self, node, src):
        """The raw int32 last layer (section 1.2), exact in both modes: BATCH_MATMUL of the int8
        codes by the int8 weights into int32 (it ignores zero points, so a uint8 input's +128 goes
        into the bias: sum (c + 128) w = sum c w + 128 sum w), then an int32 ADD of the bias."""
        fb, g = self.fb, self.g
        x = g.tensors[node.inputs[0]]
        qw = np.asarray(node.qweight, dtype=np.int64)
        k = qw.shape[1]
        zero = -128 if x.dtype == "uint8" else 0
        if self.exact:  # float codes * 2^-FL back to int8 codes: exact, they are whole codes
            q = self._add_tensor(f"{node.name}/codes", self.tensors[src].shape, fb.TensorType.INT8,
                                 2.0 ** -_fl(x), zero)
            self._op("QUANTIZE", [src], [q])
            src = q
        if list(self.tensors[src].shape) != [1, k]:
            shape_t = self._add_tensor(f"{node.name}/shape", [2], fb.TensorType.INT32, data=np.array([1, k], np.int32))
            flat = self._add_tensor(f"{node.name}/flat", [1, k], self.tensors[src].type, *self._quant_of(src))
            opts = fb.ReshapeOptionsT()
            opts.newShape = [1, k]
            self._op("RESHAPE", [src, shape_t], [flat], "ReshapeOptions", opts)
            src = flat
        wt = self._add_tensor(f"{node.name}/weights", [k, qw.shape[0]], fb.TensorType.INT8, [1.0], [0],
                              data=np.ascontiguousarray(qw.T).astype(np.int8))
        acc = self._add_tensor(f"{node.name}/acc", [1, qw.shape[0]], fb.TensorType.INT32, [1.0], [0])
        self._op("BATCH_MATMUL", [src, wt], [acc], "BatchMatMulOptions", fb.BatchMatMulOptionsT())
        bias = np.asarray(node.qbias, dtype=np.int64) - zero * qw.sum(axis=1)
        bt = self._add_tensor(f"{node.name}/bias", [qw.shape[0]], fb.TensorType.INT32, data=bias.astype(np.int32))
        result = self._add_tensor(node.output, [1, qw.shape[0]], fb.TensorType.INT32)
        self._op("ADD", [acc, bt], [result], "AddOptions", fb.AddOptionsT())
        self.index[node.output] = result

    def _maxpool(self, node):
        fb, g = self.fb, self.g
        a = node.attrs
        x = g.tensors[node.inputs[0]]
        kernel, stride = tuple(a["kernel"]), tuple(a.get("stride", a["kernel"]))
        lowest = 0 if x.dtype == "uint8" else -128  # padded positions never win (section 4.3)
        padding, src = self._padding(node, x.shape, kernel, stride, a.get("pads", (0, 0, 0, 0)), lowest)
        opts = fb.Pool2DOptionsT()
        opts.padding, opts.strideH, opts.strideW = padding, stride[0], stride[1]
        opts.filterHeight, opts.filterWidth = kernel
        result = self._act_tensor(node.output, node.output)
        self._op("MAX_POOL_2D", [src], [result], "Pool2DOptions", opts)
        self.index[node.output] = result

    def _avgpool(self, node):
        """sum * M >> (16 + FL_x - FL_o) (section 4.4) as a depthwise convolution with weight 1 at
        weight scale M * 2^-16: the same real multiplier, one window sum per channel."""
        fb, g = self.fb, self.g
        x = g.tensors[node.inputs[0]]
        h, w, c = x.shape
        if node.op == "gap":
            kernel, stride, pads = (h, w), (1, 1), (0, 0, 0, 0)
        else:
            kernel, stride = tuple(node.attrs["kernel"]), tuple(node.attrs.get("stride", node.attrs["kernel"]))
            pads = node.attrs.get("pads", (0, 0, 0, 0))
        n = int(kernel[0]) * int(kernel[1])
        m = avgpool_multiplier(n)
        padding, src = self._padding(node, x.shape, kernel, stride, pads)  # zeros, counted (section 4.4)
        ones = np.ones((1, kernel[0], kernel[1], c), dtype=np.int64)
        opts = fb.DepthwiseConv2DOptionsT()
        opts.padding, opts.strideH, opts.strideW, opts.depthMultiplier = padding, stride[0], stride[1], 1
        out = g.tensors[node.output]
        if self.exact:
            if 255 * n * m >= FLOAT_EXACT:
                raise EdgeadaptError(f"node '{node.name}': a window of {n} with multiplier {m} may exceed 2^24, beyond "
                                     f"float32's exact integers: no exact TFLite export (use --tflite-mode int8)")
            wt = self._const_f32(f"{node.name}/weights", ones * m * 2.0 ** -16)
            bt = self._const_f32(f"{node.name}/bias", np.zeros(c))
            acc = self._act_tensor(f"{node.output}/acc", shape=[1, *out.shape])
            self._op("DEPTHWISE_CONV_2D", [src, wt, bt], [acc], "DepthwiseConv2DOptions", opts)
            self._requantize(node, acc, 16 + _fl(x) - _fl(out), node.output, node.act)
            return
        scale = np.full(c, m * 2.0 ** -16)
        wt = self._add_tensor(f"{node.name}/weights", ones.shape, fb.TensorType.INT8, scale, np.zeros(c),
                              data=ones.astype(np.int8), qdim=3)
        bt = self._add_tensor(f"{node.name}/bias", [c], fb.TensorType.INT32, scale * 2.0 ** -_fl(x), np.zeros(c),
                              data=np.zeros(c, np.int32))
        opts.fusedActivationFunction = self._act_enum(node.act)
        result = self._act_tensor(node.output, node.output)
        self._op("DEPTHWISE_CONV_2D", [src, wt, bt], [result], "DepthwiseConv2DOptions", opts)
        self.index[node.output] = result

    def _add(self, node):
        fb, g = self.fb, self.g
        a, b = (self.index[t] for t in node.inputs)
        out = g.tensors[node.output]
        opts = fb.AddOptionsT()
        if self.exact:
            total = self._act_tensor(f"{node.output}/sum", shape=[1, *out.shape])
            self._op("ADD", [a, b], [total], "AddOptions", opts)
            f = max(_fl(g.tensors[t]) for t in node.inputs)
            self._requantize(node, total, f - _fl(out), node.output, node.act)
            return
        opts.fusedActivationFunction = self._act_enum(node.act)
        result = self._act_tensor(node.output, node.output)
        self._op("ADD", [a, b], [result], "AddOptions", opts)
        self.index[node.output] = result

    def _concat(self, node):
        fb, g = self.fb, self.g
        out = g.tensors[node.output]
        inputs = []
        for i, name in enumerate(node.inputs):
            t = g.tensors[name]
            if not self.exact or (_fl(t) == _fl(out) and t.dtype == out.dtype):
                inputs.append(self.index[name])
                continue
            alias = f"{node.output}/in{i}"
            self.g.tensors[alias] = type(out)(alias, t.shape, out.fl, out.dtype)
            try:
                self._requantize(node, self.index[name], _fl(t) - _fl(out), alias, "none")
            finally:
                del self.g.tensors[alias]
            inputs.append(self.index.pop(alias))
        opts = fb.ConcatenationOptionsT()
        opts.axis = 3
        result = self._act_tensor(node.output, node.output)
        self._op("CONCATENATION", inputs, [result], "ConcatenationOptions", opts)
        self.index[node.output] = result

    def _flatten(self, node):
        fb, g = self.fb, self.g
        out = g.tensors[node.output]
        shape = np.array([1, out.size], dtype=np.int32)
        shape_t = self._add_tensor(f"{node.name}/shape", [2], fb.TensorType.INT32, data=shape)
        opts = fb.ReshapeOptionsT()
        opts.newShape = [int(v) for v in shape]
        result = self._act_tensor(node.output, node.output)
        self.tensors[result].shape = [int(v) for v in shape]
        self._op("RESHAPE", [self.index[node.inputs[0]], shape_t], [result], "ReshapeOptions", opts)
        self.index[node.output] = result
