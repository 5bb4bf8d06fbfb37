"""The integer reference executor on small quantized graphs."""

import time

import numpy as np
import pytest
import torch
from torch import nn

from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.float_exec import run_float
from edgeadapt.ir.onnx_import import import_torch
from edgeadapt.quant import intops, predict_eaq
from edgeadapt.quant.formats import assign_activation_types
from edgeadapt.quant.reference import dequantize_outputs, output_fls, run_int

WEIGHT_RANGE = {8: (-128, 127), 4: (-8, 7), 2: (-2, 1)}


def po2_quantize(graph, calib, bits=8, unsigned=False):
    """A plain max-abs power-of-two quantizer, just enough to give the reference real formats;
    with `unsigned` the tensors that cannot be negative are uint8 (docs/fixed-point.md 1.3)."""
    _, acts = run_float(graph, calib, collect=True)
    if unsigned:
        assign_activation_types(graph)
    for name, t in graph.tensors.items():
        peak = float(np.abs(acts[name]).max()) or 1.0
        t.fl = int(min((8 if t.dtype == "uint8" else 7) - np.ceil(np.log2(peak)), 12))
    graph.tensors[graph.input].fl = 8
    for node in graph.nodes:
        if node.op in ("maxpool", "flatten"):
            graph.tensors[node.output].fl = graph.tensors[node.inputs[0]].fl
    lo, hi = WEIGHT_RANGE[bits]
    for node in graph.nodes:
        if not node.has_weights:
            continue
        fl_in, fl_out = graph.tensors[node.inputs[0]].fl, graph.tensors[node.output].fl
        peak = np.maximum(np.abs(node.weight.reshape(len(node.weight), -1)).max(axis=1), 1e-12)
        fl_w = np.clip((bits - 1) - np.ceil(np.log2(peak)), fl_out - fl_in - 8, fl_out - fl_in + 30)
        node.weight_bits = bits
        node.weight_fl = fl_w.astype(np.int32)
        scale = np.exp2(fl_w).reshape((-1,) + (1,) * (node.weight.ndim - 1))
        node.qweight = np.clip(np.floor(node.weight * scale + 0.5), lo, hi).astype(np.int8)
        node.qbias = np.floor(node.bias * np.exp2(fl_in + fl_w) + 0.5).astype(np.int32)
    last = graph.producer(graph.outputs[0])
    last.attrs["out_dtype"] = "int32"
    graph.tensors[last.output].dtype = "int32"
    graph.tensors[last.output].fl = (graph.tensors[last.inputs[0]].fl + last.weight_fl).tolist()
    return graph


class Mixed(nn.Module):
    """Every IR op: conv + maxpool, depthwise relu6, residual add, concat, avgpool, gap, flat add, fc."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.ReLU6())
        self.pw = nn.Conv2d(8, 8, 1)
        self.side = nn.Sequential(nn.Conv2d(8, 4, 3, 1, 1), nn.ReLU())
        self.pool = nn.AvgPool2d((3, 5), (3, 5))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc_pool = nn.Linear(12 * 3 * 4, 10)
        self.fc_gap = nn.Linear(12, 10)
        self.head = nn.Linear(10, 4)

    def forward(self, x):
        x = self.stem(x)
        y = torch.relu(self.pw(self.dw(x)) + x)
        y = torch.cat([y, self.side(y)], dim=1)
        a = self.fc_pool(torch.flatten(self.pool(y), 1))
        b = self.fc_gap(torch.flatten(self.gap(y), 1))
        return self.head(torch.relu(a + b))


def smooth_frames(n, h, w, seed=0):
    """Blurry random frames (more like camera images than white noise)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, h // 4 + 1, w // 4 + 1)).astype(np.float64)
    img = np.kron(base, np.ones((4, 4)))[:, :h, :w]
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


def normalized(images):
    return (images.astype(np.float32) - 128) / 256


@pytest.fixture(scope="module")
def small_net():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
                          nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.ReLU6(),
                          nn.Conv2d(8, 16, 1), nn.ReLU(),
                          nn.AvgPool2d((3, 5)), nn.Flatten(), nn.Linear(16 * 2 * 2, 4))
    graph = import_torch(model, (24, 40), "small")
    frames = smooth_frames(48, 24, 40)
    po2_quantize(graph, normalized(frames[:32]))
    return graph, frames


def test_input_recentring_and_dump_of_every_tensor(small_net):
    graph, frames = small_net
    out, dump = run_int(graph, frames, dump=True)
    assert out.dtype == np.int32 and out.shape == (48, 4)
    assert set(dump) == set(graph.tensors)
    assert np.array_equal(dump[graph.input][..., 0], frames.astype(np.int16) - 128)
    for name, t in graph.tensors.items():
        assert dump[name].shape == (48, *t.shape), name
        assert dump[name].dtype == (np.int32 if t.dtype == "int32" else np.int8), name
    # int8 NHWC codes give the same result as uint8 pixels
    assert np.array_equal(run_int(graph, (frames.astype(np.int16) - 128).astype(np.int8)[..., None]), out)
    # batching does not change anything
    assert np.array_equal(run_int(graph, frames, batch_size=5), out)


def test_each_layer_is_the_spec_arithmetic(small_net):
    graph, frames = small_net
    out, dump = run_int(graph, frames[:6], dump=True)
    conv, pool, dw, pw, avg, flat, fc = graph.nodes
    t = graph.tensors
    # conv: acc = bias + sum x*w, shift = FL_x + FL_w - FL_o, round half up, relu
    acc = intops.conv2d_acc(dump[graph.input], conv.qweight, conv.qbias, (2, 2), (1, 1, 1, 1), 1)
    shift = t[graph.input].fl + conv.weight_fl.astype(np.int64) - t[conv.output].fl
    expect = np.maximum(np.clip(np.floor(acc / 2.0**shift + 0.5), -128, 127), 0)
    assert np.array_equal(dump[conv.output], expect)
    # fused conv + max pool (section 4.3): pool the accumulators, then requantize -> same bits
    pooled_acc = acc.reshape(6, 6, 2, 10, 2, 8).max(axis=(2, 4))
    assert np.array_equal(intops.requantize(pooled_acc, shift, "relu", t[conv.output].fl), dump[pool.output])
    # depthwise relu6 clamps at R6 of its output format
    assert dump[dw.output].max() <= intops.relu6_limit(t[dw.output].fl)
    # raw int32 output: the fc accumulator, no shift
    x = dump[flat.output].reshape(6, -1).astype(np.int64)
    assert np.array_equal(out, x @ fc.qweight.astype(np.int64).T + fc.qbias)
    assert np.array_equal(output_fls(graph), t[flat.output].fl + fc.weight_fl)


def test_dequantized_outputs_follow_the_float_model(small_net):
    graph, frames = small_net
    ref = run_float(graph, normalized(frames))
    got = dequantize_outputs(graph, run_int(graph, frames))
    assert got.dtype == np.float32
    err = np.abs(got - ref).max()
    assert err < 0.03 * np.abs(ref).max(), (err, np.abs(ref).max())
    # per-channel dequantization: output c is scaled by its own 2^-(FL_in + FL_w[c])
    fls = output_fls(graph)
    raw = run_int(graph, frames[:2])
    assert np.allclose(got[:2], raw * np.exp2(-fls.astype(np.float64)))


def test_all_ops_graph_int_close_to_float():
    torch.manual_seed(1)
    graph = import_torch(Mixed(), (36, 80), "mixed")
    assert sorted({n.op for n in graph.nodes}) == sorted(
        ["conv", "maxpool", "add", "concat", "avgpool", "gap", "flatten", "fc"])
    frames = smooth_frames(40, 36, 80, seed=3)
    po2_quantize(graph, normalized(frames[:24]))
    ref, acts = run_float(graph, normalized(frames), collect=True)
    out, dump = run_int(graph, frames, dump=True)
    got = dequantize_outputs(graph, out)
    assert np.abs(got - ref).max() < 0.05 * np.abs(ref).max()
    # every int8 layer tracks its float activation to within a few of its own LSBs
    for name, t in graph.tensors.items():
        if t.dtype == "int8" and name != graph.input:
            lsb = 2.0 ** -t.fl
            err = np.abs(dump[name] * lsb - np.clip(acts[name], -128 * lsb, 127 * lsb))
            assert err.mean() < 2 * lsb, (name, err.mean() / lsb)


def test_all_ops_graph_unsigned_close_to_float():
    """The same graph with uint8 tensors after every ReLU: the types follow section 1.3, the
    outputs track the float model, and each uint8 layer is within a few of its (finer) LSBs."""
    torch.manual_seed(1)
    graph = import_torch(Mixed(), (36, 80), "mixed")
    frames = smooth_frames(40, 36, 80, seed=3)
    po2_quantize(graph, normalized(frames[:24]), unsigned=True)
    types = {n.op + ":" + n.act: graph.tensors[n.output].dtype for n in graph.nodes}
    assert types["conv:relu"] == types["conv:relu6"] == types["maxpool:none"] == "uint8"
    assert types["conv:none"] == "int8"  # the pointwise conv before the residual add
    unsigned = [name for name, t in graph.tensors.items() if t.dtype == "uint8"]
    assert len(unsigned) >= 8 and graph.tensors[graph.input].dtype == "int8"
    ref, acts = run_float(graph, normalized(frames), collect=True)
    out, dump = run_int(graph, frames, dump=True)
    got = dequantize_outputs(graph, out)
    assert np.abs(got - ref).max() < 0.05 * np.abs(ref).max()
    for name, t in graph.tensors.items():
        if t.dtype in ("int8", "uint8") and name != graph.input:
            assert dump[name].dtype == np.dtype(t.dtype), name
            lo, hi = (0, 255) if t.dtype == "uint8" else (-128, 127)
            lsb = 2.0 ** -t.fl
            err = np.abs(dump[name] * lsb - np.clip(acts[name], lo * lsb, hi * lsb))
            assert err.mean() < 2 * lsb, (name, err.mean() / lsb)
    assert max(int(dump[name].max()) for name in unsigned) > 127  # the extra bit is used


def test_errors_name_the_problem(small_net):
    graph, frames = small_net
    with pytest.raises(EdgeadaptError, match=r"expects frames of HWC shape \(24, 40, 1\)"):
        run_int(graph, frames[:, :20])
    with pytest.raises(EdgeadaptError, match="uint8 pixels or int8"):
        run_int(graph, frames.astype(np.float32))
    with pytest.raises(EdgeadaptError, match="disagree"):
        bad = graph.tensors[graph.outputs[0]].fl
        graph.tensors[graph.outputs[0]].fl = [0, 0, 0, 0]
        try:
            dequantize_outputs(graph, np.zeros((1, 4), np.int32))
        finally:
            graph.tensors[graph.outputs[0]].fl = bad
    fresh = import_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 22 * 38, 1)), (24, 40), "f")
    with pytest.raises(EdgeadaptError, match="not quantized"):
        run_int(fresh, frames)


def test_predict_eaq_accepts_frames_objects(small_net):
    graph, frames = small_net

    class Frames:
        images = frames

    assert np.array_equal(predict_eaq(graph, Frames()), predict_eaq(graph, frames))


@pytest.mark.slow
def test_frontnet_thousand_frames_speed():
    from edgeadapt.models.registry import build

    torch.manual_seed(0)
    graph = import_torch(build("frontnet-160x32").eval(), (96, 160), "frontnet")
    frames = smooth_frames(1000, 96, 160)
    po2_quantize(graph, normalized(frames[:64]))
    start = time.perf_counter()
    out = run_int(graph, frames)
    assert time.perf_counter() - start < 60
    assert out.shape == (1000, 4)
