"""ONNX import: the imported float graph computes what onnxruntime computes on the same ONNX."""

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.float_exec import run_float
from edgeadapt.ir.onnx_import import clean_name, import_onnx, import_torch
from edgeadapt.ir.torch_exec import GraphModule

RNG = np.random.default_rng(7)


class Residual(nn.Module):
    """conv/bn/relu, maxpool, depthwise + relu6, residual add, concat, avgpool, flatten, fc."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(2, 2))
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.BatchNorm2d(8), nn.ReLU6())
        self.pw = nn.Conv2d(8, 8, 1)
        self.side = nn.Sequential(nn.Conv2d(8, 4, (3, 5), 1, (1, 2)), nn.ReLU())
        self.pool = nn.AvgPool2d(2, 2)
        self.fc1 = nn.Linear(12 * 3 * 5, 16)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        x = self.stem(x)
        y = torch.relu(self.pw(self.dw(x)) + x)
        y = torch.cat([y, self.side(y)], dim=1)
        y = torch.flatten(self.pool(y), 1)
        return self.fc2(self.drop(torch.relu(self.fc1(y))))


class GapNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 6, 5, 2, 2), nn.BatchNorm2d(6), nn.ReLU(),
                                  nn.Conv2d(6, 12, 3, 2, 1, groups=6), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.body(x), 1))


def randomize_bn(model):
    """Non-trivial BN statistics so folding is really exercised."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def to_onnx(model, hw, **kw):
    buf = io.BytesIO()
    torch.onnx.export(model.eval(), (torch.zeros(1, 1, *hw),), buf, opset_version=17, dynamo=False,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, **kw)
    return onnx.load_model_from_string(buf.getvalue())


def ort_run(model_proto, x_nchw):
    sess = ort.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x_nchw.astype(np.float32)})[0]


def compare_with_ort(model_proto, hw, channels=1, n=4):
    x = RNG.uniform(-0.5, 0.5, (n, channels, *hw)).astype(np.float32)
    graph = import_onnx(model_proto, name="t")
    ours = run_float(graph, x.transpose(0, 2, 3, 1))
    ref = ort_run(model_proto, x)
    np.testing.assert_allclose(ours, ref.reshape(n, -1), atol=1e-4, rtol=0)
    return graph


def test_residual_model_matches_onnxruntime():
    torch.manual_seed(0)
    model = randomize_bn(Residual())
    graph = compare_with_ort(to_onnx(model, (24, 40)), (24, 40))
    ops = [n.op for n in graph.nodes]
    assert ops == ["conv", "maxpool", "conv", "conv", "add", "conv", "concat", "avgpool", "flatten",
                   "fc", "fc"]
    acts = {n.name: n.act for n in graph.nodes}
    assert [acts[n.name] for n in graph.nodes if n.op in ("conv", "add", "fc")] == [
        "relu", "relu6", "none", "relu", "relu", "relu", "none"]
    assert graph.tensors[graph.input].shape == (24, 40, 1)
    assert graph.tensors[graph.outputs[0]].shape == (1, 1, 4)
    dw = graph.nodes[2]
    assert dw.attrs["groups"] == 8 and dw.weight.shape == (8, 3, 3, 1)
    side = graph.nodes[5]
    assert side.attrs["kernel"] == (3, 5) and side.attrs["pads"] == (1, 2, 1, 2)
    assert graph.nodes[9].weight.shape == (16, 180)


def test_gap_model_and_bn_folding_match_onnxruntime():
    torch.manual_seed(1)
    model = randomize_bn(GapNet())
    # PRESERVE keeps BatchNormalization nodes in the ONNX, so the importer must fold them
    proto = to_onnx(model, (16, 24), training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    assert "BatchNormalization" in [n.op_type for n in proto.graph.node]
    graph = compare_with_ort(proto, (16, 24))
    assert [n.op for n in graph.nodes] == ["conv", "conv", "gap", "fc"]  # flatten of 1x1 vanishes
    assert graph.nodes[1].weight.shape == (12, 3, 3, 1)  # channel multiplier 2


def test_weight_layouts_ohwi_and_hwc_flatten():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(2, 3, (2, 3), bias=False), nn.Flatten(), nn.Linear(3 * 3 * 2, 2))
    buf = io.BytesIO()
    torch.onnx.export(model.eval(), (torch.zeros(1, 2, 4, 4),), buf, opset_version=17, dynamo=False)
    graph = import_onnx(onnx.load_model_from_string(buf.getvalue()))
    conv, _, fc = graph.nodes
    w = model[0].weight.detach().numpy()
    assert np.array_equal(conv.weight, w.transpose(0, 2, 3, 1))
    # fc column (h, w, c) in HWC order is ONNX column c * 6 + h * 2 + w
    lin = model[2].weight.detach().numpy()
    h, wd, c = graph.tensors[conv.output].shape
    assert (h, wd, c) == (3, 2, 3)
    for hh in range(h):
        for ww in range(wd):
            for cc in range(c):
                assert np.array_equal(fc.weight[:, (hh * wd + ww) * c + cc], lin[:, cc * h * wd + hh * wd + ww])


def test_import_torch_frontnet_shapes():
    from edgeadapt.models.registry import build

    model = build("frontnet-160x8").eval()
    graph = import_torch(model, (96, 160), "frontnet")
    assert graph.name == "frontnet" and graph.meta["input_hw"] == [96, 160]
    assert [n.op for n in graph.nodes] == ["conv", "maxpool"] + ["conv"] * 6 + ["flatten", "fc"]
    assert graph.tensors[graph.nodes[0].output].shape == (48, 80, 8)
    x = RNG.uniform(-0.5, 0.5, (2, 96, 160)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[:, None]).numpy()
    np.testing.assert_allclose(run_float(graph, x), ref, atol=1e-4)


# ------------------------------------------------------------------ hand-built ONNX graphs


def make_model(nodes, inits, in_shape, out_name, out_shape=None):
    graph = helper.make_graph(
        nodes, "hand",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_auto_pad_ceil_mode_clip_and_matmul_bias():
    w = RNG.normal(0, 0.3, (4, 1, 3, 3))
    fc = RNG.normal(0, 0.3, (4 * 3 * 4, 3))
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="clip"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("MatMul", ["f", "fc"], ["m"], name="mm"),
        helper.make_node("Add", ["m", "b"], ["y"], name="bias"),
    ]
    inits = {"w": w, "lo": np.float32(0), "hi": np.float32(6), "fc": fc, "b": RNG.normal(0, 1, 3)}
    proto = make_model(nodes, inits, [None, 1, 15, 12], "y")
    graph = compare_with_ort(proto, (15, 12))
    conv, pool, flat, mm = graph.nodes
    assert conv.act == "relu6" and conv.attrs["pads"] == (1, 0, 1, 1)  # SAME_UPPER: extra at the end
    assert graph.tensors[pool.output].shape == (4, 3, 4)
    assert pool.attrs["pads"][2:] == (1, 1)  # ceil mode became bottom/right padding
    assert mm.op == "fc" and np.allclose(mm.bias, inits["b"])


def test_every_unsupported_node_is_listed_at_once():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c0"], name="conv"),
        helper.make_node("MaxPool", ["c0"], ["c"], name="dilated_pool", kernel_shape=[2, 2], dilations=[2, 2]),
        helper.make_node("LRN", ["c"], ["s"], name="lrn", size=3),
        helper.make_node("Resize", ["s", "", "scales"], ["u"], name="bilinear", mode="linear"),
        helper.make_node("Clip", ["u", "lo", "hi"], ["y"], name="clip_bad", ),
    ]
    inits = {"w": np.ones((2, 1, 3, 3)), "scales": np.array([1, 1, 2, 2], np.float32),
             "lo": np.float32(2), "hi": np.float32(1)}
    proto = make_model(nodes, inits, [1, 1, 9, 9], "y")
    with pytest.raises(EdgeadaptError) as err:
        import_onnx(proto)
    msg = str(err.value)
    assert "\n" not in msg
    assert "dilated_pool (MaxPool): dilation [2, 2] (only 1)" in msg
    assert "lrn (LRN): operator not supported" in msg
    assert "bilinear (Resize): mode 'linear' (only nearest)" in msg
    assert "clip_bad (Clip): clip bounds (2.0, 1.0) (min above max)" in msg
    assert msg.count(";") == 3


def test_once_refused_nodes_now_import():
    """Sigmoid, a ReLU after it, a batch norm with no conv to fold into, Clip(0, 3): lookup tables
    and a 1x1 depthwise conv."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
        helper.make_node("Relu", ["s"], ["r"], name="relu_after_sigmoid"),
        helper.make_node("BatchNormalization", ["r", "g", "b", "m", "v"], ["n"], name="orphan_bn"),
        helper.make_node("Clip", ["n", "lo", "hi"], ["y"], name="clip3"),
    ]
    ones = np.ones(2)
    inits = {"w": np.ones((2, 1, 3, 3)), "g": ones * 2, "b": ones, "m": ones, "v": ones,
             "lo": np.float32(0), "hi": np.float32(3)}
    graph = import_onnx(make_model(nodes, inits, [1, 1, 9, 9], "y"))
    assert [(n.op, n.attrs.get("fn")) for n in graph.nodes] == [
        ("conv", None), ("lut", "sigmoid"), ("lut", "clip"), ("conv", None), ("lut", "clip")]
    bn = graph.nodes[3]
    np.testing.assert_allclose(bn.weight.reshape(-1), 2 / np.sqrt(1 + 1e-5), rtol=1e-6)
    assert graph.nodes[4].attrs == {"fn": "clip", "min": 0.0, "max": 3.0}


def test_reshape_other_than_flatten_is_refused():
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="resh")]
    proto = make_model(nodes, {}, [1, 2, 4, 4], "y")
    proto.graph.initializer.append(numpy_helper.from_array(np.array([1, 8, 4], dtype=np.int64), "shape"))
    with pytest.raises(EdgeadaptError, match=r"resh \(Reshape\): reshape to \[1, 8, 4\]"):
        import_onnx(proto)


def test_bad_files(tmp_path):
    with pytest.raises(EdgeadaptError, match="no such ONNX file"):
        import_onnx(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(EdgeadaptError, match="junk.onnx"):
        import_onnx(junk)


def test_clean_names():
    assert clean_name("/features/features.0/Conv", "x") == "features_0_conv"
    assert clean_name("/fc/Gemm", "x") == "fc_gemm"
    assert clean_name("", "conv3") == "conv3"


# ------------------------------------------------------------------ torch executor


def test_graph_module_collects_every_tensor_and_trains():
    torch.manual_seed(3)
    graph = import_torch(randomize_bn(Residual()), (24, 40), "r")
    module = GraphModule(graph)
    x = torch.from_numpy(RNG.uniform(-0.5, 0.5, (3, 24, 40, 1)).astype(np.float32))
    out, acts = module(x, collect=True)
    assert out.shape == (3, 4)
    for name, t in graph.tensors.items():
        assert tuple(acts[name].shape) == (3, *t.shape), name
    assert torch.equal(acts[graph.outputs[0]].reshape(3, -1), out)
    # gradients reach the IR-layout parameters; write_back stores the update in the graph
    first = graph.nodes[0].name
    before = graph.nodes[0].weight.copy()
    out.sum().backward()
    assert module.weights[first].grad.shape == before.shape
    with torch.no_grad():
        module.weights[first] -= 0.1 * module.weights[first].grad
    module.write_back()
    assert not np.array_equal(graph.nodes[0].weight, before)
    assert graph.nodes[0].weight.shape == before.shape


def test_flattened_map_may_only_feed_a_fully_connected_layer():
    # CHW (ONNX) and HWC (IR) flatten orders differ: anything but an fc reading it would be wrong
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Add", ["f", "f"], ["y"], name="double"),
    ]
    proto = make_model(nodes, {}, [1, 2, 3, 3], "y")
    with pytest.raises(EdgeadaptError, match=r"flat \(Flatten\): the flattened feature map feeds Add 'double'"):
        import_onnx(proto)
    # a 1 x 1 map has one order only: fine
    proto = make_model(nodes, {}, [None, 2, 1, 1], "y")
    graph = compare_with_ort(proto, (1, 1), channels=2)
    assert [n.op for n in graph.nodes] == ["add"]
