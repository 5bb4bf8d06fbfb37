"""A hand-built IR graph for the quantizer tests, and the simulator's bit-exactness with the reference."""

import numpy as np
import pytest
import torch

from edgeadapt.ir.graph import Graph, Node, Tensor
from edgeadapt.quant import formats, intops
from edgeadapt.quant.pipeline import run_quantized
from edgeadapt.quant.artifact import check_bounds
from edgeadapt.quant.reference import dequantize_outputs, run_int
from edgeadapt.quant.calibrate import float_activations
from edgeadapt.quant.qsim import hwc_flat, images_to_input
from edgeadapt.quant.sequential import PassOptions, run_pass


def toy_graph(seed=0, h=12, w=16, c1=4, c2=8, outputs=3):
    """conv 3x3 + relu -> maxpool 2x2 -> conv 3x3/2 + relu -> flatten -> fc (raw int32 outputs)."""
    rng = np.random.default_rng(seed)
    h2, w2 = h // 2, w // 2
    h3, w3 = (h2 - 1) // 2 + 1, (w2 - 1) // 2 + 1
    k = h3 * w3 * c2
    tensors = {
        "image": Tensor("image", (h, w, 1)),
        "c1": Tensor("c1", (h, w, c1)),
        "p1": Tensor("p1", (h2, w2, c1)),
        "c2": Tensor("c2", (h3, w3, c2)),
        "flat": Tensor("flat", (k,)),
        "pose": Tensor("pose", (outputs,)),
    }
    conv = {"stride": (1, 1), "pads": (1, 1, 1, 1), "groups": 1, "act": "relu"}
    nodes = [
        Node("conv1", "conv", ["image"], "c1", {**conv, "kernel": (3, 3)},
             weight=rng.normal(0, 0.6, (c1, 3, 3, 1)).astype(np.float32),
             bias=rng.normal(0.05, 0.05, c1).astype(np.float32)),
        Node("pool1", "maxpool", ["c1"], "p1", {"kernel": (2, 2), "stride": (2, 2), "pads": (0, 0, 0, 0)}),
        Node("conv2", "conv", ["p1"], "c2", {**conv, "kernel": (3, 3), "stride": (2, 2)},
             weight=rng.normal(0, 0.3, (c2, 3, 3, c1)).astype(np.float32),
             bias=rng.normal(0.0, 0.05, c2).astype(np.float32)),
        Node("flatten", "flatten", ["c2"], "flat"),
        Node("fc", "fc", ["flat"], "pose", {"act": "none", "out_dtype": "int32"},
             weight=rng.normal(0, 0.2, (outputs, k)).astype(np.float32),
             bias=np.array([1.0, -0.5, 0.25][:outputs], np.float32)),
    ]
    return Graph("toy", "image", ["pose"], tensors, nodes)


def toy_images(n=48, h=12, w=16, seed=1):
    """Smooth random frames (a blob on noise), so activations have structure."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for _ in range(n):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        blob = 200 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0)
        frames.append(np.clip(blob + rng.normal(30, 20, (h, w)), 0, 255))
    return np.array(frames, np.uint8)


@pytest.mark.parametrize("adaquant", [False, True])
def test_simulator_is_bit_exact_with_the_integer_reference(adaquant):
    graph = toy_graph()
    images = toy_images()
    acts = float_activations(graph, images)
    bits = {"conv1": 8, "conv2": 4, "fc": 2}
    result = run_pass(graph, acts, bits, PassOptions(adaquant=adaquant, iterations=20), keep=["c1", "p1", "c2"])
    out, golden = run_int(graph, images, dump=True)
    for name in ("c1", "p1", "c2"):
        sim = result.outputs[name]
        sim_codes = torch.round(hwc_flat(sim) * 2.0 ** graph.tensors[name].fl).numpy()
        np.testing.assert_array_equal(sim_codes, golden[name].reshape(len(images), -1))
    fc = graph.node("fc")
    assert graph.tensors["pose"].fl == (graph.tensors["flat"].fl + fc.weight_fl).tolist()
    np.testing.assert_array_equal(result.outputs["pose"].numpy(), dequantize_outputs(graph, out).astype(np.float64))
    np.testing.assert_array_equal(run_quantized(graph, images), dequantize_outputs(graph, out))
    assert graph.tensors["pose"].dtype == "int32"
    assert graph.quantized
    for n in graph.nodes:
        if n.has_weights:
            lo, hi = intops.weight_range(bits[n.name])
            assert n.qweight.dtype == np.int8 and n.qbias.dtype == np.int32
            assert lo <= n.qweight.min() and n.qweight.max() <= hi


def test_float_activations_follow_the_torch_layers():
    graph = toy_graph()
    images = toy_images(4)
    acts = float_activations(graph, images)
    x = images_to_input(images)
    conv1 = graph.node("conv1")
    w = torch.as_tensor(conv1.weight).permute(0, 3, 1, 2)
    ref = torch.relu(torch.nn.functional.conv2d(x, w, torch.as_tensor(conv1.bias), padding=1))
    torch.testing.assert_close(acts["c1"], ref)
    assert acts["flat"].shape == (4, graph.tensors["flat"].size)


def branchy_graph(seed=0, h=12, w=16, c=4, outputs=2):
    """Residual add, concat, padded average pool, global average pool and a depthwise conv."""
    rng = np.random.default_rng(seed)
    conv = {"kernel": (3, 3), "stride": (1, 1), "pads": (1, 1, 1, 1), "groups": 1, "act": "relu"}

    def weights(shape, scale):
        return rng.normal(0, scale, shape).astype(np.float32)

    tensors = {name: Tensor(name, shape) for name, shape in {
        "image": (h, w, 1), "a": (h, w, c), "b": (h, w, c), "s": (h, w, c), "cat": (h, w, 2 * c),
        "dw": (h, w, 2 * c), "avg": (h // 2, w // 2, 2 * c), "g": (1, 1, 2 * c), "pose": (1, 1, outputs)}.items()}
    nodes = [
        Node("conv_a", "conv", ["image"], "a", conv, weight=weights((c, 3, 3, 1), 0.6), bias=weights(c, 0.05)),
        Node("conv_b", "conv", ["a"], "b", conv, weight=weights((c, 3, 3, c), 0.3), bias=weights(c, 0.05)),
        Node("add", "add", ["a", "b"], "s", {"act": "relu"}),
        Node("cat", "concat", ["s", "a"], "cat"),
        Node("dw", "conv", ["cat"], "dw", {**conv, "groups": 2 * c, "act": "relu6"},
             weight=weights((2 * c, 3, 3, 1), 0.5), bias=weights(2 * c, 0.05)),
        Node("avg", "avgpool", ["dw"], "avg", {"kernel": (3, 3), "stride": (2, 2), "pads": (1, 1, 0, 0), "act": "none"}),
        Node("gap", "gap", ["avg"], "g", {"act": "none"}),
        Node("fc", "fc", ["g"], "pose", {"act": "none", "out_dtype": "int32"},
             weight=weights((outputs, 2 * c), 0.5), bias=weights(outputs, 0.1)),
    ]
    return Graph("branchy", "image", ["pose"], tensors, nodes)


def test_activation_types_follow_the_rule_and_use_the_uint8_range():
    """docs/fixed-point.md 1.3: ReLU outputs and what derives from them only are uint8; the
    activation FL search covers [0, 255], so a uint8 tensor gets one FL more than int8 would."""
    graph = branchy_graph()
    images = toy_images()
    acts = float_activations(graph, images)
    run_pass(graph, acts, {"conv_a": 8, "conv_b": 8, "dw": 8, "fc": 8}, PassOptions(adaquant=False))
    dtypes = {name: t.dtype for name, t in graph.tensors.items()}
    assert dtypes == {"image": "int8", "a": "uint8", "b": "uint8", "s": "uint8", "cat": "uint8", "dw": "uint8",
                      "avg": "uint8", "g": "uint8", "pose": "int32"}
    _, golden = run_int(graph, images, dump=True)
    assert golden["a"].dtype == np.uint8 and int(golden["a"].max()) > 127
    peak = float(acts["a"].max())
    assert (formats.activation_fl_minmax(peak, 0.0, unsigned=True)
            == formats.activation_fl_minmax(peak, 0.0) + 1)
    toy = toy_graph()
    run_pass(toy, float_activations(toy, images), {"conv1": 8, "conv2": 8, "fc": 8}, PassOptions(adaquant=False))
    assert [toy.tensors[n].dtype for n in ("image", "c1", "p1", "c2", "flat", "pose")] == [
        "int8", "uint8", "uint8", "uint8", "uint8", "int32"]


def test_every_op_is_bit_exact_with_the_integer_reference():
    graph = branchy_graph()
    images = toy_images()
    acts = float_activations(graph, images)
    keep = ["a", "b", "s", "cat", "dw", "avg", "g"]
    result = run_pass(graph, acts, {"conv_a": 8, "conv_b": 4, "dw": 8, "fc": 8},
                      PassOptions(adaquant=False), keep=keep)
    check_bounds(graph)
    out, golden = run_int(graph, images, dump=True)
    for name in keep:
        sim_codes = torch.round(hwc_flat(result.outputs[name]) * 2.0 ** graph.tensors[name].fl).numpy()
        np.testing.assert_array_equal(sim_codes, golden[name].reshape(len(images), -1), err_msg=name)
        assert result.qsnr_db[graph.producer(name).name] > 15, name
    np.testing.assert_array_equal(result.outputs["pose"].numpy(), dequantize_outputs(graph, out).astype(np.float64))
