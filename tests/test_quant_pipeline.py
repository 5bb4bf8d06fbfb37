"""The quantizer end to end on the toy graph: determinism, budgets, the ablation steps, the report."""

import json
import zipfile

import numpy as np
import pytest
import torch

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant import costmodel
from edgeadapt.quant.artifact import load_eaq, save_eaq
from edgeadapt.quant.calibrate import calibration_frames, float_activations
from edgeadapt.quant.pipeline import QuantizeOptions, output_loss, quantize_graph, run_float, run_quantized, weight_bytes
from edgeadapt.quant.report import build_report, format_report, mae_table
from test_quant_toy import toy_graph, toy_images

FAST = dict(iterations=30)


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_same_inputs_give_identical_artifacts(tmp_path):
    graph, images = toy_graph(), toy_images(40)
    paths = []
    for i in range(2):
        result = quantize_graph(graph, images, QuantizeOptions(weight_bits="auto", flash_budget="70%", **FAST))
        paths.append(save_eaq(result.graph, tmp_path / f"m{i}.eaq"))
    assert _members(paths[0]) == _members(paths[1])
    loaded = load_eaq(paths[0])
    np.testing.assert_array_equal(run_quantized(loaded, images), run_quantized(result.graph, images))


def test_input_graph_is_left_float():
    graph = toy_graph()
    quantize_graph(graph, toy_images(16), QuantizeOptions(adaquant=False))
    assert all(t.fl is None for t in graph.tensors.values())
    assert graph.node("fc").attrs["out_dtype"] == "int32"  # the toy graph was built that way


def test_auto_respects_the_flash_budget_and_spends_bits_where_they_pay():
    graph, images = toy_graph(), toy_images(40)
    int8 = weight_bytes(graph, {n.name: 8 for n in graph.nodes if n.has_weights})
    result = quantize_graph(graph, images, QuantizeOptions(weight_bits="auto", flash_budget="60%", **FAST))
    assert weight_bytes(result.graph, result.bits) <= int(0.6 * int8)
    assert result.allocation["weight_bytes"] == weight_bytes(result.graph, result.bits)
    sens = result.allocation["sensitivity"]
    for name, d in sens.items():
        assert d["8"] == 0.0 and d["2"] >= d["4"] >= 0.0  # fewer bits never measured as better here
    assert any(b < 8 for b in result.bits.values())


def test_infeasible_budget_names_the_smallest_size():
    graph = toy_graph()
    smallest = sum(costmodel.layer_weight_bytes(n, 2) for n in graph.nodes if n.has_weights)
    with pytest.raises(EdgeadaptError, match=rf"smallest achievable weight size is {smallest} B"):
        quantize_graph(graph, toy_images(8), QuantizeOptions(weight_bits="auto", flash_budget=smallest - 1))


def test_auto_without_budget_and_bad_budget_strings_are_errors():
    graph, images = toy_graph(), toy_images(8)
    with pytest.raises(EdgeadaptError, match="needs a --flash-budget"):
        quantize_graph(graph, images, QuantizeOptions(weight_bits="auto"))
    with pytest.raises(EdgeadaptError, match="bad size '12 parsecs'"):
        quantize_graph(graph, images, QuantizeOptions(weight_bits="auto", flash_budget="12 parsecs"))
    with pytest.raises(EdgeadaptError, match="smaller than the 8-bit weights"):
        quantize_graph(graph, images, QuantizeOptions(weight_bits=8, flash_budget=100))


def test_wrong_frame_size_is_an_error():
    with pytest.raises(EdgeadaptError, match="calibration frames are 20x10, model 'toy' expects 16x12"):
        quantize_graph(toy_graph(), np.zeros((4, 10, 20), np.uint8))


def test_each_step_reduces_the_4_bit_error():
    """The ablation ladder on the toy graph at 4 bits: every step lowers the output error."""
    graph, images = toy_graph(seed=3), toy_images(64, seed=5)
    acts = float_activations(graph, images)
    ref = {"pose": acts["pose"]}
    losses = []
    for flags in (dict(adapt=False, adaquant=False, bias_correction=False),
                  dict(adapt=True, adaquant=False, bias_correction=False),
                  dict(adapt=True, adaquant=True, bias_correction=False),
                  dict(adapt=True, adaquant=True, bias_correction=True)):
        result = quantize_graph(graph, images, QuantizeOptions(weight_bits=4, iterations=80, **flags))
        out = torch.as_tensor(run_quantized(result.graph, images))
        losses.append(output_loss({"pose": out}, ref))
    assert losses[1] <= losses[0]
    assert losses[2] < losses[1]
    assert losses[3] <= losses[2] * 1.05  # tuning is guarded per channel: at worst about neutral
    assert losses[3] < 0.7 * losses[0]


def test_report_has_the_contract_fields():
    graph, images = toy_graph(), toy_images(24)
    labels = np.random.default_rng(0).normal(size=(24, 4))
    result = quantize_graph(graph, images, QuantizeOptions(**FAST))
    mae_f = mae_table(np.c_[run_float(graph, images), np.zeros(24)], labels)
    mae_q = mae_table(np.c_[run_quantized(result.graph, images), np.zeros(24)], labels)
    report = build_report(result.graph, result.qsnr_db, mae_f, mae_q, 1.5)
    json.dumps(report, allow_nan=False)
    assert set(mae_f) == {"x", "y", "z", "phi", "sum"}
    assert mae_f["sum"] == pytest.approx(sum(mae_f[k] for k in ("x", "y", "z", "phi")))
    rows = {r["name"]: r for r in report["layers"]}
    conv2 = rows["conv2"]
    assert set(conv2) == {"name", "op", "macs", "weight_bits", "weight_fl", "act_fl", "weight_bytes", "qsnr_db"}
    assert conv2["macs"] == 3 * 4 * 8 * 3 * 3 * 4  # 3x4 outputs x 8 channels x 3x3x4 row
    assert conv2["weight_bytes"] == 8 * (36 + 4 + 1)
    assert conv2["weight_bits"] == 8 and len(conv2["weight_fl"]) == 8
    assert 20 < conv2["qsnr_db"] < 80
    assert rows["pool1"]["weight_bits"] is None and rows["pool1"]["weight_bytes"] == 0
    assert report["weight_bytes"] == sum(r["weight_bytes"] for r in report["layers"])
    text = format_report(report)
    assert "conv2" in text and "sum-of-MAE change" in text


def test_calibration_frames_are_spread_and_deterministic():
    idx = calibration_frames(1000, 5)
    assert idx.tolist() == [0, 250, 500, 749, 999]
    assert calibration_frames(3, 10).tolist() == [0, 1, 2]


@pytest.mark.parametrize("name", ["mobilenet-160x8", "frontnet-160x8"])
def test_imported_models_match_the_integer_reference(name):
    """The real architectures (depthwise, fused pool, flatten + fc) through the importer."""
    from edgeadapt.ir.onnx_import import import_torch
    from edgeadapt.models import build
    from edgeadapt.quant.reference import dequantize_outputs, run_int

    torch.manual_seed(0)
    graph = import_torch(build(name), (96, 160), name)
    images = np.random.default_rng(0).integers(0, 256, (12, 96, 160), dtype=np.uint8)
    result = quantize_graph(graph, images, QuantizeOptions(weight_bits="auto", flash_budget="60%", iterations=5))
    assert weight_bytes(result.graph, result.bits) <= 0.6 * weight_bytes(graph, {k: 8 for k in result.bits})
    golden = dequantize_outputs(result.graph, run_int(result.graph, images))
    np.testing.assert_array_equal(run_quantized(result.graph, images).astype(np.float32), golden)


def test_latency_budget_constrains_the_allocation():
    graph, images = toy_graph(), toy_images(24)
    nodes = [n for n in graph.nodes if n.has_weights]
    from edgeadapt.codegen.targets import load_target

    gap8 = costmodel.CycleModel.from_description(load_target("gap8"))  # the figures of hil/targets/gap8.toml
    assert gap8.cores == 8 and gap8.mac[4] > gap8.mac[8]
    cycles8 = sum(costmodel.layer_cycles(graph, n, 8, gap8) for n in nodes)
    # narrower weights cost more cycles per MAC on gap8: the all-8-bit model is the fastest
    assert all(costmodel.layer_cycles(graph, n, 4, gap8) > costmodel.layer_cycles(graph, n, 8, gap8) for n in nodes)
    int8 = weight_bytes(graph, {n.name: 8 for n in nodes})
    with pytest.raises(EdgeadaptError, match=rf"smallest achievable weight size within {cycles8:.0f} cycles is {int8} B"):
        quantize_graph(graph, images, QuantizeOptions(weight_bits="auto", flash_budget="70%", cycle_budget=cycles8,
                                                      cycle_model=gap8))
    loose = cycles8 * 1.5
    result = quantize_graph(graph, images, QuantizeOptions(weight_bits="auto", flash_budget="70%", cycle_budget=loose,
                                                           cycle_model=gap8, **FAST))
    spent = sum(costmodel.layer_cycles(graph, n, result.bits[n.name], gap8) for n in nodes)
    assert spent <= loose and weight_bytes(result.graph, result.bits) <= 0.7 * int8


def test_a_latency_budget_without_a_cycle_model_is_refused():
    graph, images = toy_graph(), toy_images(8)
    with pytest.raises(EdgeadaptError, match="latency budget needs a target's cycle model"):
        quantize_graph(graph, images, QuantizeOptions(weight_bits="auto", flash_budget="70%", cycle_budget=1e6))


def test_no_quant_module_imports_codegen_or_names_a_target():
    """The quantizer is target-neutral: figures come in as a CycleModel, never by name."""
    import re
    from pathlib import Path

    from edgeadapt.codegen.targets import known_targets, load_target

    names = set(known_targets()) | {a for t in known_targets() for a in load_target(t).get("aliases", [])}
    quant = Path(costmodel.__file__).parent
    for path in quant.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"(from|import)\s+edgeadapt\.codegen", text), path.name
        for name in names:
            assert not re.search(rf"[\"']{re.escape(name)}[\"']", text), (path.name, name)


def _conv_dw_graph(seed=4, h=12, w=16, c=4):
    """conv (one tiny-range channel) -> depthwise conv -> flatten -> fc."""
    from edgeadapt.ir.graph import Graph, Node, Tensor

    rng = np.random.default_rng(seed)
    conv = {"kernel": (3, 3), "stride": (1, 1), "pads": (1, 1, 1, 1), "groups": 1, "act": "relu"}
    w1 = rng.normal(0, 0.6, (c, 3, 3, 1)).astype(np.float32)
    b1 = rng.normal(0.05, 0.05, c).astype(np.float32)
    w1[0] *= 0.05
    b1[0] *= 0.05
    tensors = {n: Tensor(n, s) for n, s in {"image": (h, w, 1), "c1": (h, w, c), "d1": (h, w, c),
                                            "flat": (1, 1, h * w * c), "pose": (1, 1, 2)}.items()}
    nodes = [
        Node("conv1", "conv", ["image"], "c1", conv, weight=w1, bias=b1),
        Node("dw", "conv", ["c1"], "d1", {**conv, "groups": c},
             weight=rng.normal(0, 0.5, (c, 3, 3, 1)).astype(np.float32), bias=np.zeros(c, np.float32)),
        Node("flatten", "flatten", ["d1"], "flat"),
        Node("fc", "fc", ["flat"], "pose", {"act": "none", "out_dtype": "int32"},
             weight=rng.normal(0, 0.05, (2, h * w * c)).astype(np.float32), bias=np.zeros(2, np.float32)),
    ]
    return Graph("convdw", "image", ["pose"], tensors, nodes)


def test_equalization_keeps_the_float_network_and_balances_channels():
    from edgeadapt.quant.equalize import channel_ranges, equalize

    graph = _conv_dw_graph()
    images = toy_images(48, seed=2)
    before = run_float(graph, images)
    acts = float_activations(graph, images)
    spread_before = channel_ranges(acts["c1"])
    work = __import__("copy").deepcopy(graph)
    applied = equalize(work, acts)
    assert "fc" not in applied  # a raw graph output is never rescaled
    np.testing.assert_allclose(run_float(work, images), before, rtol=1e-4, atol=1e-5)
    spread_after = channel_ranges(float_activations(work, images)["c1"])
    ratio = lambda r: r.max() / r.min()
    assert ratio(spread_after) < ratio(spread_before) / 3
    scales = applied["conv1"]
    assert scales.max() == pytest.approx(4.0) and scales.min() == 1.0  # capped, small channels only
    assert set(applied) == {"conv1"}  # the depthwise output feeds a dense fc: left alone
    ref = {"pose": acts["pose"]}
    losses = []
    for eq in (False, True):
        result = quantize_graph(graph, images, QuantizeOptions(equalize=eq, adaquant=False, bias_correction=False))
        losses.append(output_loss({"pose": torch.as_tensor(run_quantized(result.graph, images))}, ref))
    assert losses[1] < losses[0]
