"""The golden integer ops against float computations and the hand-worked cases of docs/fixed-point.md."""

import numpy as np
import pytest
import torch

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant import intops

RNG = np.random.default_rng(1234)


def rand_int8(*shape, lo=-128, hi=127):
    return RNG.integers(lo, hi + 1, shape).astype(np.int8)


def torch_conv_nhwc(x, w_ohwi, bias, stride, pads, groups):
    """Float64 convolution (exact on these integers) with independent padding handling."""
    top, left, bottom, right = pads
    xt = torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2)
    xt = torch.nn.functional.pad(xt, (left, right, top, bottom))
    wt = torch.from_numpy(w_ohwi.astype(np.float64)).permute(0, 3, 1, 2)
    bt = None if bias is None else torch.from_numpy(bias.astype(np.float64))
    y = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, groups=groups)
    return y.permute(0, 2, 3, 1).numpy()


def check_within_half_lsb(out, exact_real_in_lsb, act="none", fl_out=0):
    """out must be the activated, saturated value of round(exact) with error <= 0.5 LSB."""
    clipped = np.clip(exact_real_in_lsb, -128, 127)
    if act == "relu":
        clipped = np.maximum(clipped, 0)
    elif act == "relu6":
        clipped = np.clip(clipped, 0, intops.relu6_limit(fl_out))
    assert np.all(np.abs(out.astype(np.float64) - clipped) <= 0.5 + 1e-12)


# ------------------------------------------------------------------ rounding shift


def test_rshift_round_ties_go_up():
    # 2.5 -> 3, -2.5 -> -2, -2.51 -> -3 (section 3), as 5/2, -5/2 and -251/100 ~ -643/256
    assert intops.rshift_round(5, 1) == 3
    assert intops.rshift_round(-5, 1) == -2
    assert intops.rshift_round(-643, 8) == -3  # -2.5117
    assert intops.rshift_round(-640, 8) == -2  # exactly -2.5
    assert intops.rshift_round(-641, 8) == -3
    assert intops.rshift_round(7, 0) == 7
    assert intops.rshift_round(-3, -2) == -12


def test_rshift_round_matches_floor_half_up_everywhere():
    v = RNG.integers(-(1 << 30), 1 << 30, 5000)
    for s in (1, 3, 7, 16, 30):
        expected = np.floor(v / 2.0**s + 0.5).astype(np.int64)
        assert np.array_equal(intops.rshift_round(v, s), expected)


def test_rshift_round_per_channel_array():
    v = np.array([[100, 100, 100, -100]])
    s = np.array([1, 3, -1, 4])
    assert intops.rshift_round(v, s).tolist() == [[50, 13, 200, -6]]


def test_sat8_and_negative_shift_saturate():
    assert intops.sat8(np.array([-1000, -129, -128, 0, 127, 128, 99999])).tolist() == [
        -128, -128, -128, 0, 127, 127, 127]
    out = intops.requantize(np.array([100, -100]), -2, "none", 0)
    assert out.tolist() == [127, -128]


def test_relu6_limit_in_every_format():
    assert intops.relu6_limit(0) == 6
    assert intops.relu6_limit(4) == 96
    assert intops.relu6_limit(5) == 127  # 192 saturates
    assert intops.relu6_limit(-1) == 3
    assert intops.relu6_limit(-2) == 2  # 1.5 rounds up
    assert intops.relu6_limit(-3) == 1  # 0.75 -> 1
    assert intops.relu6_limit(-4) == 0  # 0.375 -> 0


def test_apply_act_relu6_clamps():
    q = np.array([-50, 0, 40, 96, 97, 127], dtype=np.int8)
    assert intops.apply_act(q, "relu6", 4).tolist() == [0, 0, 40, 96, 96, 96]
    assert intops.apply_act(q, "relu", 4).tolist() == [0, 0, 40, 96, 97, 127]
    with pytest.raises(EdgeadaptError):
        intops.apply_act(q, "gelu", 4)


def test_shift_outside_spec_is_refused():
    with pytest.raises(EdgeadaptError, match="shift"):
        intops.requantize(np.array([1]), 31, "none", 0)
    with pytest.raises(EdgeadaptError, match="shift"):
        intops.requantize(np.array([1]), -9, "none", 0)


# ------------------------------------------------------------------ convolution


@pytest.mark.parametrize(
    "c_in,c_out,k,stride,pads,groups",
    [
        (3, 8, (3, 3), (1, 1), (1, 1, 1, 1), 1),
        (4, 6, (5, 3), (2, 1), (2, 0, 1, 1), 1),
        (8, 8, (3, 3), (2, 2), (1, 1, 1, 1), 8),  # depthwise
        (4, 8, (3, 3), (1, 1), (0, 0, 0, 0), 4),  # depthwise, channel multiplier 2
        (8, 6, (3, 3), (1, 2), (1, 1, 0, 0), 2),  # grouped
        (16, 5, (1, 1), (1, 1), (0, 0, 0, 0), 1),  # pointwise
    ],
)
def test_conv2d_accumulator_and_requantization(c_in, c_out, k, stride, pads, groups):
    x = rand_int8(3, 9, 11, c_in)
    w = rand_int8(c_out, k[0], k[1], c_in // groups)
    bias = RNG.integers(-5000, 5000, c_out).astype(np.int32)
    exact = torch_conv_nhwc(x, w, bias, stride, pads, groups)
    acc = intops.conv2d_acc(x, w, bias, stride, pads, groups)
    assert np.array_equal(acc, exact.astype(np.int64))
    # per-channel shifts, including a left shift that saturates
    shift = RNG.integers(-1, 12, c_out)
    for act, fl_out in (("none", 0), ("relu", 2), ("relu6", 3)):
        out = intops.conv2d(x, w, bias, shift, stride, pads, groups, act, fl_out)
        assert out.dtype == np.int8 and out.shape == exact.shape
        check_within_half_lsb(out, exact / 2.0**shift, act, fl_out)


def test_conv2d_per_tensor_equals_uniform_per_channel():
    x = rand_int8(2, 6, 6, 4)
    w = rand_int8(5, 3, 3, 4)
    bias = RNG.integers(-100, 100, 5)
    a = intops.conv2d(x, w, bias, 9, (1, 1), (1, 1, 1, 1), 1, "none", 0)
    b = intops.conv2d(x, w, bias, np.full(5, 9), (1, 1), (1, 1, 1, 1), 1, "none", 0)
    assert np.array_equal(a, b)
    c = intops.conv2d(x, w, bias, np.array([9, 9, 8, 9, 9]), (1, 1), (1, 1, 1, 1), 1, "none", 0)
    assert np.array_equal(a[..., [0, 1, 3, 4]], c[..., [0, 1, 3, 4]])
    assert not np.array_equal(a[..., 2], c[..., 2])


def test_conv2d_float64_path_for_large_weights_is_exact():
    # sum|w| * 128 above 2^24 forces the float64 matmul; compare with an int64 einsum
    x = rand_int8(2, 5, 5, 400)
    w = rand_int8(3, 3, 3, 400)
    x[0] = -128
    w[0] = -128  # worst case: every product +2^14, the sum 3600 * 2^14 needs 26 bits
    assert intops._exact_float_dtype(w) == np.float64
    acc = intops.conv2d_acc(x, w, None, (1, 1), (0, 0, 0, 0), 1)
    cols = np.lib.stride_tricks.sliding_window_view(x.astype(np.int64), (3, 3), axis=(1, 2))
    ref = np.einsum("nhwcij,oijc->nhwo", cols, w.astype(np.int64))
    assert np.array_equal(acc, ref)
    assert acc[0, 0, 0, 0] == 3600 * 16384


def test_conv2d_fused_maxpool_equals_unfused():
    # section 4.3: requantize + act then pool == the fused layer (monotonic requantization)
    x = rand_int8(2, 8, 8, 3)
    w = rand_int8(4, 3, 3, 3)
    acc = intops.conv2d_acc(x, w, None, (1, 1), (1, 1, 1, 1), 1)
    pooled_acc = np.max(acc.reshape(2, 4, 2, 4, 2, 4), axis=(2, 4))
    fused = intops.requantize(pooled_acc, 7, "relu", 0)
    unfused = intops.maxpool2d(intops.conv2d(x, w, None, 7, (1, 1), (1, 1, 1, 1), 1, "relu", 0),
                               (2, 2), (2, 2))
    assert np.array_equal(fused, unfused)


# ------------------------------------------------------------------ fully connected


def test_fully_connected_int8_and_int32():
    x = rand_int8(7, 40)
    w = rand_int8(4, 40)
    bias = RNG.integers(-3000, 3000, 4).astype(np.int32)
    exact = x.astype(np.int64) @ w.astype(np.int64).T + bias
    raw = intops.fully_connected(x, w, bias, None, out_dtype="int32")
    assert raw.dtype == np.int32 and np.array_equal(raw, exact)
    shift = np.array([6, 7, 8, 9])
    out = intops.fully_connected(x, w, bias, shift, "relu", 1)
    check_within_half_lsb(out, exact / 2.0**shift, "relu", 1)
    # HWC input is flattened in place
    assert np.array_equal(intops.fully_connected(x.reshape(7, 2, 5, 4), w, bias, None,
                                                 out_dtype="int32"), raw)


# ------------------------------------------------------------------ pooling


def test_maxpool_ignores_padding():
    x = np.full((1, 3, 3, 1), -120, dtype=np.int8)
    x[0, 1, 1, 0] = -128
    out = intops.maxpool2d(x, (2, 2), (2, 2), (1, 1, 1, 1))
    assert out.shape == (1, 2, 2, 1)
    assert out[..., 0].tolist() == [[[-120, -120], [-120, -120]]]
    y = rand_int8(2, 7, 9, 3)
    ref = torch.nn.functional.max_pool2d(torch.from_numpy(y.astype(np.float32)).permute(0, 3, 1, 2),
                                         3, 2, padding=1).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(intops.maxpool2d(y, (3, 3), (2, 2), (1, 1, 1, 1)), ref.astype(np.int8))


def test_avgpool_multiplier():
    assert intops.avgpool_multiplier(1) == 65536
    assert intops.avgpool_multiplier(4) == 16384
    assert intops.avgpool_multiplier(15) == 4369  # 4369.07
    assert intops.avgpool_multiplier(3) == 21845  # 21845.33
    assert intops.avgpool_multiplier(6) == 10923  # 10922.67


def test_avgpool_window_of_15_against_float_mean():
    x = rand_int8(4, 6, 10, 5)
    fl_in, fl_out = 5, 6
    out = intops.avgpool2d(x, (3, 5), (3, 5), fl_in, fl_out)
    mean = x.astype(np.float64).reshape(4, 2, 3, 2, 5, 5).mean(axis=(2, 4))
    exact = mean * 2.0 ** (fl_out - fl_in)
    # 0.5 LSB of rounding plus the multiplier's error: 15 * 128 * |M/2^16 - 1/15| * 2 < 0.004
    err = np.abs(out - np.clip(exact, -128, 127))
    assert err.max() <= 0.5 + 0.004
    # exact integer formula of section 4.4
    total = x.astype(np.int64).reshape(4, 2, 3, 2, 5, 5).sum(axis=(2, 4))
    assert np.array_equal(out, np.clip(np.floor(total * 4369 / 2.0**15 + 0.5), -128, 127))


def test_avgpool_count_include_pad_and_act():
    x = rand_int8(1, 4, 4, 2)
    out = intops.avgpool2d(x, (3, 3), (1, 1), 4, 4, "relu", pads=(1, 1, 1, 1))
    padded = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    mean = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2)).sum(axis=(-1, -2)) / 9
    assert out.shape == (1, 4, 4, 2)
    assert np.abs(out - np.maximum(mean, 0)).max() <= 0.5 + 0.01


def test_global_avgpool_and_shift_range():
    x = rand_int8(3, 6, 10, 4)
    out = intops.global_avgpool(x, 7, 5, "relu6")
    exact = x.astype(np.float64).mean(axis=(1, 2), keepdims=True) / 4
    assert out.shape == (3, 1, 1, 4)
    want = np.clip(exact, 0, intops.relu6_limit(5))
    assert np.abs(out - want).max() <= 0.5 + 0.01
    with pytest.raises(EdgeadaptError, match="average pool shift"):
        intops.global_avgpool(x, 0, 16)


# ------------------------------------------------------------------ add, concat


def test_add_aligns_formats():
    a = rand_int8(2, 5, 5, 3)
    b = rand_int8(2, 5, 5, 3)
    fl_a, fl_b, fl_o = 6, 3, 4
    out = intops.add(a, fl_a, b, fl_b, fl_o, "none")
    real = a * 2.0**-fl_a + b * 2.0**-fl_b
    check_within_half_lsb(out, real * 2.0**fl_o)
    # worked example: 1.25 (Q2: 5) + 0.5 (Q3: 4) = 1.75 -> Q1: 3.5 -> 4
    assert intops.add(np.array([5]), 2, np.array([4]), 3, 1).tolist() == [4]
    # the output format may be finer than both inputs (left shift)
    assert intops.add(np.array([5]), 2, np.array([4]), 3, 5).tolist() == [56]
    assert intops.add(np.array([-100]), 0, np.array([-100]), 0, 0, "relu").tolist() == [0]


def test_concat_with_different_fls():
    a = np.array([[[[10, -11]]]], dtype=np.int8)  # FL 4
    b = np.array([[[[3, -3, 127]]]], dtype=np.int8)  # FL 1
    out = intops.concat([a, b], [4, 1], 2)
    # a: 10/4 = 2.5 -> 3, -11/4 = -2.75 -> -3; b: 3*2 = 6, -6, 254 -> 127
    assert out.tolist() == [[[[3, -3, 6, -6, 127]]]]
    x = rand_int8(2, 3, 3, 4)
    y = rand_int8(2, 3, 3, 2)
    out = intops.concat([x, y], [5, 2], 3)
    check_within_half_lsb(out[..., :4], x / 4.0)
    check_within_half_lsb(out[..., 4:], y * 2.0)


# ------------------------------------------------------------------ weight packing


@pytest.mark.parametrize("bits", [8, 4, 2])
def test_pack_round_trip(bits):
    lo, hi = intops.weight_range(bits)
    w = RNG.integers(lo, hi + 1, (6, 3, 3, 5)).astype(np.int8)  # row of 45: not a byte multiple
    packed = intops.pack_weights(w, bits)
    assert packed.dtype == np.uint8
    assert packed.shape == (6, (45 * bits + 7) // 8)
    assert np.array_equal(intops.unpack_weights(packed, bits, w.shape), w)


def test_pack_layout_low_bits_first():
    w4 = np.array([[1, -8, 7, -1, 3]])
    assert intops.pack_weights(w4, 4).tolist() == [[0x81, 0xF7, 0x03]]
    w2 = np.array([[1, -2, 0, -1, -2]])
    # fields 01, 10, 00, 11 -> 0b11_00_10_01; then 10
    assert intops.pack_weights(w2, 2).tolist() == [[0b11001001, 0b10]]


def test_pack_refuses_out_of_range():
    with pytest.raises(EdgeadaptError, match="4 bits"):
        intops.pack_weights(np.array([[8, 0]]), 4)
    with pytest.raises(EdgeadaptError, match="bits 3"):
        intops.pack_weights(np.array([[0]]), 3)


# ------------------------------------------------------------------ uint8 activations (section 1.3)


def rand_uint8(*shape, lo=0, hi=255):
    return RNG.integers(lo, hi + 1, shape).astype(np.uint8)


def test_unsigned_saturation_and_types():
    assert intops.satu8(np.array([-1000, -1, 0, 127, 128, 255, 256, 99999])).tolist() == [
        0, 0, 0, 127, 128, 255, 255, 255]
    out = intops.requantize(np.array([100, -100, 40]), -2, "none", 0, out_unsigned=True)
    assert out.dtype == np.uint8 and out.tolist() == [255, 0, 160]
    out = intops.requantize(np.array([100, -100, 40]), -2, "none", 0)
    assert out.dtype == np.int8 and out.tolist() == [127, -128, 127]
    # a uint8 output is never negative, even without an activation
    assert intops.requantize(np.array([-7]), 1, "none", 0, out_unsigned=True).tolist() == [0]


def test_unsigned_rounding_ties_go_up():
    # 254.5 -> 255, 255.5 -> 256 -> saturates to 255, 0.5 -> 1, -0.5 -> 0
    acc = np.array([509, 511, 1, -1, 3])
    assert intops.requantize(acc, 1, "none", 0, out_unsigned=True).tolist() == [255, 255, 1, 0, 2]
    assert intops.requantize(acc, 1, "none", 0).tolist() == [127, 127, 1, 0, 2]


def test_relu6_limit_unsigned():
    assert intops.relu6_limit(4, unsigned=True) == 96
    assert intops.relu6_limit(5, unsigned=True) == 192  # int8 saturates at 127, uint8 holds it
    assert intops.relu6_limit(5) == 127
    assert intops.relu6_limit(6, unsigned=True) == 255  # 384 saturates
    assert intops.relu6_limit(40, unsigned=True) == 255
    assert intops.relu6_limit(-2, unsigned=True) == 2
    assert intops.relu6_limit(-4, unsigned=True) == 0
    q = np.array([0, 100, 192, 193, 255], dtype=np.uint8)
    assert intops.apply_act(q, "relu6", 5).tolist() == [0, 100, 192, 192, 192]
    assert intops.apply_act(q, "relu6", 5).dtype == np.uint8
    acc = np.array([191, 192, 200, 400]) << 2
    assert intops.requantize(acc, 2, "relu6", 5, out_unsigned=True).tolist() == [191, 192, 192, 192]


def test_output_type_rule():
    rule = intops.output_is_unsigned
    assert rule("conv", "relu", [False]) and rule("conv", "relu6", [True]) and rule("fc", "relu", [False])
    assert not rule("conv", "none", [True]) and not rule("fc", "none", [True])
    assert rule("maxpool", "none", [True]) and not rule("maxpool", "none", [False])
    assert rule("flatten", "none", [True]) and not rule("flatten", "none", [False])
    assert rule("gap", "none", [True]) and rule("avgpool", "relu", [False]) and not rule("gap", "none", [False])
    assert rule("add", "none", [True, True]) and not rule("add", "none", [True, False])
    assert rule("add", "relu", [True, False])
    assert rule("concat", "none", [True, True, True]) and not rule("concat", "none", [True, False])


def test_unsigned_conv_matches_float_within_half_lsb():
    x = rand_uint8(3, 9, 11, 4)
    w = rand_int8(6, 3, 3, 4)
    bias = RNG.integers(-5000, 5000, 6).astype(np.int32)
    exact = torch_conv_nhwc(x, w, bias, (1, 2), (1, 1, 1, 1), 1)
    assert exact.max() > 128 * 9 * 4 * 20  # the inputs above 127 matter
    for shift, act in ((9, "none"), (9, "relu"), (8, "relu6")):
        for out_unsigned in (False, True):
            out = intops.conv2d(x, w, bias, shift, (1, 2), (1, 1, 1, 1), 1, act, 5, out_unsigned)
            lo, hi = (0, 255) if out_unsigned else (-128, 127)
            clipped = np.clip(exact / 2.0**shift, lo, hi)
            if act != "none":
                clipped = np.clip(clipped, 0, intops.relu6_limit(5, out_unsigned) if act == "relu6" else hi)
            assert out.dtype == (np.uint8 if out_unsigned else np.int8)
            assert np.all(np.abs(out.astype(np.float64) - clipped) <= 0.5 + 1e-12)


def test_unsigned_depthwise_and_fc_are_exact():
    x = rand_uint8(2, 7, 7, 5)
    w = rand_int8(10, 3, 3, 1)
    acc = intops.conv2d_acc(x, w, None, (1, 1), (1, 1, 1, 1), 5)
    assert np.array_equal(acc, torch_conv_nhwc(x, w, None, (1, 1), (1, 1, 1, 1), 5).astype(np.int64))
    xf = rand_uint8(4, 300)
    wf = rand_int8(3, 300)
    raw = intops.fully_connected(xf, wf, None, None, out_dtype="int32")
    assert np.array_equal(raw, xf.astype(np.int64) @ wf.astype(np.int64).T)
    # 255 * sum|w| can pass 2^24 where 128 * sum|w| does not: the exact dtype must follow the type
    wide = np.full((1, 600), -127, np.int8)
    big = np.full((1, 600), 255, np.uint8)
    assert intops.fully_connected(big, wide, None, None, out_dtype="int32")[0, 0] == -255 * 127 * 600
    out = intops.fully_connected(xf, wf, None, np.array([9, 9, 9]), "relu", 0, out_dtype="uint8")
    assert out.dtype == np.uint8


def test_unsigned_max_pool_ignores_padding():
    x = np.zeros((1, 2, 2, 1), np.uint8)  # all zero: padding with 0 must not matter
    assert intops.maxpool2d(x, (3, 3), (1, 1), (1, 1, 1, 1)).tolist() == [[[[0], [0]], [[0], [0]]]]
    x = np.array([[[[200], [100]], [[255], [3]]]], np.uint8)  # > 127: compared as unsigned values
    out = intops.maxpool2d(x, (2, 2), (1, 1), (1, 1, 0, 0))
    assert out.dtype == np.uint8 and out[..., 0].tolist() == [[[200, 200], [255, 255]]]


def test_unsigned_pooling_add_concat():
    x = rand_uint8(2, 4, 6, 3)
    out = intops.global_avgpool(x, 4, 4, out_unsigned=True)
    mean = x.astype(np.float64).mean(axis=(1, 2), keepdims=True)
    assert out.dtype == np.uint8 and np.all(np.abs(out - mean) <= 0.5 + 1e-3)
    signed = intops.global_avgpool(x, 4, 4)
    assert np.array_equal(signed, np.minimum(mean + 0.5, 127).astype(np.int64))
    a, b = rand_uint8(1, 3, 3, 2), rand_int8(1, 3, 3, 2)
    out = intops.add(a, 3, b, 1, 3, "relu", out_unsigned=True)
    want = np.clip(np.floor(a.astype(np.float64) + b * 4.0 + 0.5), 0, 255)
    assert out.dtype == np.uint8 and np.array_equal(out, want)
    cat = intops.concat([a, b], [3, 1], 2, out_unsigned=True)
    assert cat.dtype == np.uint8
    assert np.array_equal(cat[..., :2], np.floor(a / 2.0 + 0.5)) and np.array_equal(cat[..., 2:], np.clip(b.astype(np.int64) * 2, 0, 255))
