"""The golden integer arithmetic of docs/fixed-point.md, in numpy.

Every function here is the executable form of one section of that page; the C kernels in
firmware/kernels/ must be bit-identical to it. Activations are HWC with a leading batch axis,
(N, H, W, C), int8 or uint8 (section 1.3): an input's type is its numpy dtype, an output's type
is the `out_unsigned` argument (False: int8 [-128, 127], True: uint8 [0, 255]). Intermediates are
int64 (or float64/float32 matmuls that are exact because every partial sum is an integer far below
2^53 / 2^24, see `_matmul_exact`), so the results are exactly the spec's int32 arithmetic whenever
the spec's bounds hold.
"""

import numpy as np

from edgeadapt.errors import EdgeadaptError

ACC_BOUND = 1 << 30  # |bias| + X * sum|w| must stay below this (section 3)
INT8_RANGE, UINT8_RANGE = (-128, 127), (0, 255)
SHIFT_MIN, SHIFT_MAX = -8, 30  # allowed requantization shifts (section 3)
AVGPOOL_FRAC_BITS = 16  # the reciprocal multiplier M is Q16 (section 4.4)
WEIGHT_RANGES = {8: (-128, 127), 4: (-8, 7), 2: (-2, 1)}

# Cap on the im2col buffer so a large batch never allocates gigabytes at once.
_IM2COL_BYTES = 48 << 20


# ----------------------------------------------------------------------------- section 3


def rshift_round(v, s):
    """Round-half-up arithmetic shift: s > 0 -> (v + 2^(s-1)) >> s, s = 0 -> v, s < 0 -> v * 2^-s.

    `s` may be a scalar or an array broadcast against `v` (per output channel on the last axis).
    Returns int64; the caller saturates.
    """
    v = np.asarray(v, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    right = np.maximum(s, 0)
    left = np.maximum(-s, 0)
    half = np.where(right > 0, np.left_shift(np.int64(1), np.maximum(right - 1, 0)), 0)
    return np.left_shift(np.right_shift(v + half, right), left)


def act_range(unsigned: bool) -> tuple:
    """The code range of an activation tensor (section 1): int8 or uint8."""
    return UINT8_RANGE if unsigned else INT8_RANGE


def act_dtype(unsigned: bool):
    return np.uint8 if unsigned else np.int8


def is_unsigned(x) -> bool:
    """True for a uint8 activation array (section 1.3); any other integer array holds signed codes."""
    return np.asarray(x).dtype == np.uint8


def input_peak(unsigned: bool) -> int:
    """X of the accumulator bound (section 3): the largest |x| of an int8 (128) or uint8 (255) input."""
    return 255 if unsigned else 128


def sat8(v):
    """Clamp to [-128, 127] and return int8."""
    return np.clip(v, -128, 127).astype(np.int8)


def satu8(v):
    """Clamp to [0, 255] and return uint8."""
    return np.clip(v, 0, 255).astype(np.uint8)


def saturate(v, unsigned: bool = False):
    """sat of section 3: sat8 for an int8 output, satu8 for a uint8 output."""
    return satu8(v) if unsigned else sat8(v)


def relu6_limit(fl_out: int, unsigned: bool = False) -> int:
    """R6 of section 4.1: the code of 6.0 in format FL_o, saturated to [0, 127] (int8 output)
    or [0, 255] (uint8 output)."""
    fl_out = int(fl_out)
    top = act_range(unsigned)[1]
    if fl_out >= 0:
        return min(6 << min(fl_out, 8), top)
    return int(np.clip(rshift_round(6, -fl_out), 0, top))


def apply_act(q, act: str, fl_out: int):
    """Fused activation on values already saturated to their type (section 4.1); keeps the dtype."""
    q = np.asarray(q)
    unsigned = q.dtype == np.uint8
    if act == "none":
        return q
    if act == "relu":
        return np.maximum(q, 0).astype(q.dtype)
    if act == "relu6":
        return np.clip(q, 0, relu6_limit(fl_out, unsigned)).astype(q.dtype)
    raise EdgeadaptError(f"unknown activation {act!r} (expected none, relu or relu6)")


def requantize(acc, shift, act: str, fl_out: int, out_unsigned: bool = False):
    """act(sat(rshift_round(acc, shift))): the common tail of conv, fc, pooling and add.

    sat is sat8 (int8 result) or, with out_unsigned, satu8 (uint8 result)."""
    _check_shift(shift)
    return apply_act(saturate(rshift_round(acc, shift), out_unsigned), act, fl_out)


def _check_shift(shift):
    s = np.asarray(shift)
    if s.size and (s.min() < SHIFT_MIN or s.max() > SHIFT_MAX):
        raise EdgeadaptError(
            f"requantization shift {int(s.min())}..{int(s.max())} outside [{SHIFT_MIN}, {SHIFT_MAX}]"
        )


# ----------------------------------------------------------------------------- section 4.1


def conv_output_hw(h, w, kernel, stride, pads):
    kh, kw = kernel
    sh, sw = stride
    top, left, bottom, right = pads
    return (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1


def conv2d_acc(x, w_int, bias_int32, stride=(1, 1), pads=(0, 0, 0, 0), groups=1, dilation=(1, 1)):
    """The int accumulators of section 4.1 as int64 (N, Ho, Wo, Co), before requantization; a
    dilation (dh, dw) spaces the kernel taps dh rows / dw columns apart (extent (k - 1) d + 1)."""
    x = np.asarray(x)
    w_int = np.asarray(w_int)
    n, h, w, c_in = x.shape
    c_out, kh, kw, c_per_group = w_int.shape
    if c_in != c_per_group * groups or c_out % groups:
        raise EdgeadaptError(
            f"conv shapes disagree: input {c_in} channels, weight {w_int.shape}, groups {groups}"
        )
    dh, dw = (int(d) for d in dilation)
    ho, wo = conv_output_hw(h, w, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), stride, pads)
    if ho <= 0 or wo <= 0:
        raise EdgeadaptError(f"conv window {kh}x{kw} (dilation {dh}x{dw}) larger than padded input {h}x{w}")
    top, left, bottom, right = pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))  # padding is 0 in both types
    if c_per_group == 1 and groups > 1:
        acc = _depthwise_acc(xp, w_int, stride, ho, wo, groups, (dh, dw))
    else:
        acc = _grouped_acc(xp, w_int, stride, ho, wo, groups, (dh, dw))
    if bias_int32 is not None:
        acc += np.asarray(bias_int32, dtype=np.int64)
    return acc


def _window(xp, ky, kx, stride, ho, wo):
    sh, sw = stride
    return xp[:, ky : ky + sh * (ho - 1) + 1 : sh, kx : kx + sw * (wo - 1) + 1 : sw, :]


def _grouped_acc(xp, w_int, stride, ho, wo, groups, dilation=(1, 1)):
    n = xp.shape[0]
    c_out, kh, kw, cpg = w_int.shape
    opg = c_out // groups
    k = kh * kw * cpg
    dtype = _exact_float_dtype(w_int, xp.dtype == np.uint8)
    acc = np.empty((n, ho, wo, c_out), dtype=np.int64)
    chunk = max(1, _IM2COL_BYTES // max(1, ho * wo * k * np.dtype(dtype).itemsize))
    for g in range(groups):
        wg = w_int[g * opg : (g + 1) * opg].reshape(opg, k).astype(dtype).T
        xg = xp[..., g * cpg : (g + 1) * cpg]
        for n0 in range(0, n, chunk):
            xs = xg[n0 : n0 + chunk]
            cols = np.empty((xs.shape[0], ho, wo, kh, kw, cpg), dtype=dtype)
            for ky in range(kh):
                for kx in range(kw):
                    cols[:, :, :, ky, kx, :] = _window(xs, ky * dilation[0], kx * dilation[1], stride, ho, wo)
            prod = _matmul_exact(cols.reshape(-1, k), wg)
            acc[n0 : n0 + chunk, ..., g * opg : (g + 1) * opg] = prod.reshape(-1, ho, wo, opg)
    return acc


def _depthwise_acc(xp, w_int, stride, ho, wo, groups, dilation=(1, 1)):
    c_out, kh, kw, _ = w_int.shape
    mult = c_out // groups
    # output channel c reads input channel c // mult
    src = xp if mult == 1 else np.repeat(xp, mult, axis=3)
    src = src.astype(np.int32)
    acc = np.zeros((xp.shape[0], ho, wo, c_out), dtype=np.int64)
    w64 = w_int.astype(np.int32)
    for ky in range(kh):
        for kx in range(kw):
            acc += _window(src, ky * dilation[0], kx * dilation[1], stride, ho, wo) * w64[:, ky, kx, 0]
    return acc


def _exact_float_dtype(w_int, unsigned_input=False):
    """float32 if every partial sum stays below 2^24 (exact), else float64 (exact below 2^53)."""
    w = np.abs(np.asarray(w_int, dtype=np.int64)).reshape(w_int.shape[0], -1)
    worst = input_peak(unsigned_input) * int(w.sum(axis=1).max(initial=0))
    return np.float32 if worst < (1 << 24) else np.float64


def _matmul_exact(a, b):
    """Integer matmul through BLAS: exact because all operands and partial sums are small integers."""
    return np.rint(a @ b).astype(np.int64)


def conv2d(x, w_int, bias_int32, shift, stride=(1, 1), pads=(0, 0, 0, 0), groups=1, act="none",
           fl_out=0, out_unsigned=False, dilation=(1, 1)):
    """Section 4.1: int8/uint8 (N, H, W, Ci) -> int8/uint8 (N, Ho, Wo, Co); `shift` scalar or per
    channel [Co]."""
    acc = conv2d_acc(x, w_int, bias_int32, stride, pads, groups, dilation)
    return requantize(acc, np.asarray(shift, dtype=np.int64), act, fl_out, out_unsigned)


# ----------------------------------------------------------------------------- section 4.2


def fully_connected_acc(x, w_int, bias_int32):
    """int64 (N, Co) accumulators of x (N, K) against w (Co, K)."""
    x = np.asarray(x).reshape(len(x), -1)
    w_int = np.asarray(w_int)
    if x.shape[1] != w_int.shape[1]:
        raise EdgeadaptError(f"fc input has {x.shape[1]} values, weight expects {w_int.shape[1]}")
    dtype = _exact_float_dtype(w_int, is_unsigned(x))
    acc = _matmul_exact(x.astype(dtype), w_int.astype(dtype).T)
    if bias_int32 is not None:
        acc += np.asarray(bias_int32, dtype=np.int64)
    return acc


def fully_connected(x, w_int, bias_int32, shift, act="none", fl_out=0, out_dtype="int8"):
    """Section 4.2: int8/uint8 (N, K) (or (N, H, W, C), flattened HWC) -> out_dtype (N, Co):
    "int8", "uint8" or "int32" (raw accumulators)."""
    acc = fully_connected_acc(x, w_int, bias_int32)
    if out_dtype == "int32":
        if np.abs(acc).max(initial=0) >= (1 << 31):
            raise EdgeadaptError("fc int32 output overflows: accumulator bound broken")
        return acc.astype(np.int32)
    if out_dtype not in ("int8", "uint8"):
        raise EdgeadaptError(f"fc out_dtype {out_dtype!r} (expected int8, uint8 or int32)")
    return requantize(acc, np.asarray(shift, dtype=np.int64), act, fl_out, out_dtype == "uint8")


# ----------------------------------------------------------------------------- section 4.3


def maxpool2d(x, kernel, stride, pads=(0, 0, 0, 0)):
    """Section 4.3: max of each window; padded positions are never selected. FL and type unchanged."""
    x = np.asarray(x)
    lowest = act_range(is_unsigned(x))[0]
    kh, kw = kernel
    ho, wo = conv_output_hw(x.shape[1], x.shape[2], kernel, stride, pads)
    if ho <= 0 or wo <= 0:
        raise EdgeadaptError(f"max pool window {kh}x{kw} larger than input {x.shape[1:3]}")
    top, left, bottom, right = pads
    # padding with the type's lowest code (-128 or 0) equals "ignored": every window holds at
    # least one real value, and none is below it
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=lowest)
    out = None
    for ky in range(kh):
        for kx in range(kw):
            win = _window(xp, ky, kx, stride, ho, wo)
            out = win.copy() if out is None else np.maximum(out, win)
    return out.astype(x.dtype)


# ----------------------------------------------------------------------------- section 4.4


def avgpool_multiplier(n: int) -> int:
    """M = floor(2^16 / n + 1/2), in integers."""
    n = int(n)
    if n <= 0:
        raise EdgeadaptError(f"average pool window of {n} elements")
    return ((1 << (AVGPOOL_FRAC_BITS + 1)) + n) // (2 * n)


def _avg_requant(window_sum, n, fl_in, fl_out, act, out_unsigned):
    shift = AVGPOOL_FRAC_BITS + int(fl_in) - int(fl_out)
    if not 1 <= shift <= 30:
        raise EdgeadaptError(
            f"average pool shift 16 + FL_in {fl_in} - FL_out {fl_out} = {shift} outside [1, 30]"
        )
    return requantize(window_sum * avgpool_multiplier(n), shift, act, fl_out, out_unsigned)


def avgpool2d(x, kernel, stride, fl_in, fl_out, act="none", pads=(0, 0, 0, 0), out_unsigned=False):
    """Section 4.4: N = kh*kw terms per window (padding counts as zeros, count_include_pad=1)."""
    x = np.asarray(x)
    kh, kw = kernel
    ho, wo = conv_output_hw(x.shape[1], x.shape[2], kernel, stride, pads)
    if ho <= 0 or wo <= 0:
        raise EdgeadaptError(f"average pool window {kh}x{kw} larger than input {x.shape[1:3]}")
    top, left, bottom, right = pads
    xp = np.pad(x.astype(np.int64), ((0, 0), (top, bottom), (left, right), (0, 0)))
    total = np.zeros((x.shape[0], ho, wo, x.shape[3]), dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            total += _window(xp, ky, kx, stride, ho, wo)
    return _avg_requant(total, kh * kw, fl_in, fl_out, act, out_unsigned)


def global_avgpool(x, fl_in, fl_out, act="none", out_unsigned=False):
    """Section 4.4 with one window of N = H*W: (N, H, W, C) -> (N, 1, 1, C)."""
    x = np.asarray(x)
    total = x.astype(np.int64).sum(axis=(1, 2), keepdims=True)
    return _avg_requant(total, x.shape[1] * x.shape[2], fl_in, fl_out, act, out_unsigned)


# ----------------------------------------------------------------------------- sections 4.5, 4.6


def add(a, fl_a, b, fl_b, fl_out, act="none", out_unsigned=False):
    """Section 4.5: align both inputs to F = max(FL_a, FL_b), add, requantize to FL_out."""
    fl_a, fl_b, fl_out = int(fl_a), int(fl_b), int(fl_out)
    f = max(fl_a, fl_b)
    if f - min(fl_a, fl_b) > 16:
        raise EdgeadaptError(f"add inputs FL {fl_a} and {fl_b} differ by more than 16")
    v = np.left_shift(np.asarray(a, np.int64), f - fl_a) + np.left_shift(
        np.asarray(b, np.int64), f - fl_b
    )
    return requantize(v, f - fl_out, act, fl_out, out_unsigned)


def concat(xs, fls, fl_out, out_unsigned=False):
    """Section 4.6: requantize every input to FL_out (and the output type), then stack along
    channels in order."""
    if len(xs) != len(fls):
        raise EdgeadaptError(f"concat of {len(xs)} inputs got {len(fls)} FLs")
    parts = [requantize(np.asarray(x), int(fl) - int(fl_out), "none", fl_out, out_unsigned)
             for x, fl in zip(xs, fls)]
    return np.concatenate(parts, axis=-1)


# ----------------------------------------------------------------------------- section 4.8


LUT_FUNCTIONS = ("sigmoid", "tanh", "hardswish", "hardsigmoid", "leakyrelu", "clip")
UNSIGNED_LUTS = ("sigmoid", "hardsigmoid")  # plus clip with min >= 0


def lut_real(fn: str, attrs, x):
    """The real function an elementwise lookup table samples (float64)."""
    x = np.asarray(x, dtype=np.float64)
    if fn == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + e^-x), without overflow
    if fn == "tanh":
        return np.tanh(x)
    if fn == "hardswish":
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0
    if fn == "hardsigmoid":
        return np.clip(float(attrs.get("alpha", 0.2)) * x + float(attrs.get("beta", 0.5)), 0.0, 1.0)
    if fn == "leakyrelu":
        return np.where(x >= 0, x, float(attrs.get("alpha", 0.01)) * x)
    if fn == "clip":
        return np.clip(x, float(attrs.get("min", -np.inf)), float(attrs.get("max", np.inf)))
    raise EdgeadaptError(f"unknown lookup-table function {fn!r} (expected one of {', '.join(LUT_FUNCTIONS)})")


def lut_is_unsigned(fn: str, attrs) -> bool:
    return fn in UNSIGNED_LUTS or (fn == "clip" and float(attrs.get("min", -np.inf)) >= 0.0)


def lut_table(fn: str, attrs, fl_in: int, in_unsigned: bool, fl_out: int, out_unsigned: bool) -> np.ndarray:
    """Section 4.8: the 256 output codes, indexed by the input byte b (the code's 8 bits, so an int8
    code c sits at c & 0xFF): out[b] = sat(floor(f(code(b) * 2^-FL_in) * 2^FL_out + 1/2)).

    The quantizer stores the table in the node (attrs["table"]); the reference, qsim and the C
    kernel only read it, so they agree bit for bit whatever the platform's libm does."""
    b = np.arange(256)
    codes = b if in_unsigned else np.where(b < 128, b, b - 256)
    y = lut_real(fn, attrs, codes * np.exp2(-float(fl_in)))
    q = np.floor(y * np.exp2(float(fl_out)) + 0.5)
    lo, hi = act_range(out_unsigned)
    return np.clip(np.nan_to_num(q, nan=0.0, posinf=hi, neginf=lo), lo, hi).astype(np.int16)


def lut(x, table, out_unsigned: bool = False):
    """Apply a 256-entry table (section 4.8) to int8 / uint8 codes; returns the output type."""
    x = np.asarray(x)
    table = np.asarray(table, dtype=np.int64)
    if table.shape != (256,):
        raise EdgeadaptError(f"lookup table has {table.size} entries (expected 256)")
    lo, hi = act_range(out_unsigned)
    if table.min() < lo or table.max() > hi:
        raise EdgeadaptError(f"lookup table values {int(table.min())}..{int(table.max())} outside the output type [{lo}, {hi}]")
    return table[x.view(np.uint8) if x.dtype in (np.int8, np.uint8) else (x.astype(np.int64) & 0xFF)].astype(act_dtype(out_unsigned))


# ----------------------------------------------------------------------------- section 4.9


def resize_nearest(x, scale):
    """Section 4.9: nearest-neighbour upsampling by integer factors, out[y][x] = in[y / sh][x / sw]
    (floor); FL and type unchanged."""
    sh, sw = (int(s) for s in scale)
    if sh < 1 or sw < 1:
        raise EdgeadaptError(f"resize factors {scale} (integers >= 1)")
    return np.repeat(np.repeat(np.asarray(x), sh, axis=1), sw, axis=2)


# ----------------------------------------------------------------------------- section 1.3


NONNEGATIVE_ACTS = ("relu", "relu6")


def output_is_unsigned(op: str, act: str, inputs_unsigned) -> bool:
    """Section 1.3: whether the quantizer stores a node's output as uint8.

    An output is uint8 exactly when its value can never be negative: a fused ReLU / ReLU6 (conv,
    fc, average pools, add), or an op that cannot make non-negative inputs negative (max pool,
    flatten and concat of uint8 inputs only; average pools of a uint8 input; add of two uint8
    inputs). Raw int32 outputs are not activations and are not covered here.
    """
    inputs_unsigned = [bool(u) for u in inputs_unsigned]
    if op in ("maxpool", "flatten", "resize"):
        return inputs_unsigned[0]
    if op == "concat":
        return all(inputs_unsigned)
    if act in NONNEGATIVE_ACTS:
        return True
    if op in ("avgpool", "gap"):
        return inputs_unsigned[0]
    if op == "add":
        return all(inputs_unsigned)
    return False


# ----------------------------------------------------------------------------- section 2


def weight_range(bits: int):
    if bits not in WEIGHT_RANGES:
        raise EdgeadaptError(f"weight bits {bits} (expected 8, 4 or 2)")
    return WEIGHT_RANGES[bits]


def packed_row_bytes(row_len: int, bits: int) -> int:
    return (row_len * bits + 7) // 8


def pack_weights(w_int, bits: int):
    """Pack (C_out, ...) integer weights into uint8 rows of ceil(R*bits/8) bytes (section 2).

    Element i of a row sits in bits [(i % (8/bits)) * bits, +bits) of byte i // (8/bits).
    """
    lo, hi = weight_range(bits)
    w = np.asarray(w_int).reshape(len(w_int), -1).astype(np.int64)
    if w.size and (w.min() < lo or w.max() > hi):
        raise EdgeadaptError(f"weights {w.min()}..{w.max()} do not fit {bits} bits [{lo}, {hi}]")
    if bits == 8:
        return w.astype(np.int8).view(np.uint8)
    per_byte = 8 // bits
    rows, r = w.shape
    nbytes = packed_row_bytes(r, bits)
    fields = np.zeros((rows, nbytes * per_byte), dtype=np.uint8)
    fields[:, :r] = (w & ((1 << bits) - 1)).astype(np.uint8)
    fields = fields.reshape(rows, nbytes, per_byte)
    shifts = (np.arange(per_byte) * bits).astype(np.uint8)
    return np.bitwise_or.reduce(np.left_shift(fields, shifts), axis=2).astype(np.uint8)


def unpack_weights(packed, bits: int, shape):
    """Inverse of pack_weights: uint8 rows -> int8 weights of `shape` (C_out first)."""
    weight_range(bits)
    packed = np.asarray(packed, dtype=np.uint8)
    rows = shape[0]
    r = int(np.prod(shape[1:]))
    if packed.shape != (rows, packed_row_bytes(r, bits)):
        raise EdgeadaptError(
            f"packed weights {packed.shape} do not match shape {tuple(shape)} at {bits} bits"
        )
    if bits == 8:
        return packed.view(np.int8).reshape(shape).copy()
    per_byte = 8 // bits
    shifts = (np.arange(per_byte) * bits).astype(np.uint8)
    fields = (packed[:, :, None] >> shifts) & ((1 << bits) - 1)
    fields = fields.reshape(rows, -1)[:, :r].astype(np.int16)
    sign = 1 << (bits - 1)
    values = np.where(fields >= sign, fields - (1 << bits), fields)
    return values.astype(np.int8).reshape(shape)
