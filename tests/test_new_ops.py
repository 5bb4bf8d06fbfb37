"""The ops real tiny models use: Sigmoid, Tanh, HardSwish, HardSigmoid, LeakyReLU and Clip with any
bounds as 256-entry tables on the integer grid, nearest Resize by integer factors, standalone
BatchNormalization, dilated convolution; import, quantize, reference vs qsim, C on the host and on
QEMU."""

import numpy as np
import pytest
import torch
from torch import nn

from edgeadapt.codegen import export_single, validate_export
from edgeadapt.ir.onnx_import import import_torch
from edgeadapt.quant import intops
from edgeadapt.quant.artifact import load_eaq, save_eaq
from edgeadapt.quant.pipeline import QuantizeOptions, quantize_graph, run_float, run_quantized
from edgeadapt.quant.reference import dequantize_outputs, run_int
from test_codegen_support import have

H, W = 12, 16


class OpsNet(nn.Module):
    """Every new op once: sigmoid, standalone BN, leaky ReLU, a dilated conv, tanh, x2 upsampling, hard-swish,
    hard-sigmoid, Clip(-0.5, 1.5), a ReLU after a max pool (no producer to fuse into)."""

    def __init__(self):
        super().__init__()
        self.c1, self.bn = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.c3 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8 * 6 * 8, 5)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-1, 1)
            self.bn.running_var.uniform_(0.5, 2)
            self.bn.weight.uniform_(0.5, 2)

    def forward(self, x):
        x = nn.functional.leaky_relu(self.bn(torch.sigmoid(self.c1(x))), 0.1)
        x = torch.relu(nn.functional.max_pool2d(x, 2))
        x = nn.functional.interpolate(torch.tanh(self.c2(x)), scale_factor=2, mode="nearest")
        x = nn.functional.hardsigmoid(nn.functional.hardswish(self.c3(x)))
        return self.fc(torch.clamp(x, -0.5, 1.5).flatten(1))


def frames(n, seed):
    return np.random.RandomState(seed).randint(0, 256, (n, H, W), dtype=np.uint8)


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    torch.manual_seed(0)
    net = OpsNet().eval()
    graph = import_torch(net, (H, W), "ops")
    result = quantize_graph(graph, frames(40, 0), QuantizeOptions(iterations=10))
    path = tmp_path_factory.mktemp("ops") / "ops.eaq"
    save_eaq(result.graph, path)
    return net, graph, load_eaq(path)


def test_import_maps_every_op(quantized):
    _, graph, _ = quantized
    ops = [(n.op, n.attrs.get("fn")) for n in graph.nodes]
    assert ("lut", "sigmoid") in ops and ("lut", "tanh") in ops and ("lut", "hardswish") in ops
    assert ("lut", "hardsigmoid") in ops and ("lut", "leakyrelu") in ops and ("resize", None) in ops
    assert [n.attrs for n in graph.nodes if n.attrs.get("fn") == "clip"] == [
        {"fn": "clip", "min": 0.0, "max": float("inf")}, {"fn": "clip", "min": -0.5, "max": 1.5}]
    assert graph.node("c2_conv").attrs["dilation"] == (2, 2) and "dilation" not in graph.node("c1_conv").attrs
    bn = graph.node("bn_batchnormalization")
    assert bn.op == "conv" and bn.attrs["groups"] == 8 and bn.weight.shape == (8, 1, 1, 1)


def test_float_and_integer_forms_agree(quantized):
    net, graph, q = quantized
    images = frames(16, 1)
    with torch.no_grad():
        want = net(torch.from_numpy((images.astype(np.float32) - 128) / 256)[:, None]).numpy()
    np.testing.assert_allclose(run_float(graph, images), want, atol=1e-5)
    ref = dequantize_outputs(q, run_int(q, images))
    np.testing.assert_array_equal(run_quantized(q, images), ref)  # qsim is bit-exact with the reference
    assert np.abs(ref - want).max() < 0.1 * np.abs(want).max()
    assert q.tensors["sigmoid"].dtype == "uint8" and q.tensors["tanh"].dtype == "int8"


@pytest.mark.parametrize("fn, params", [("sigmoid", {}), ("tanh", {}), ("hardswish", {}), ("hardsigmoid", {}),
                                        ("leakyrelu", {"alpha": 0.2}), ("clip", {"min": -1.0, "max": 0.5})])
def test_tables_are_the_function_rounded_on_the_grid(fn, params):
    out_u = intops.lut_is_unsigned(fn, params)
    for in_u in (False, True):
        table = intops.lut_table(fn, params, 5, in_u, 7, out_u)
        codes = np.arange(256) if in_u else np.where(np.arange(256) < 128, np.arange(256), np.arange(256) - 256)
        exact = intops.lut_real(fn, params, codes / 32.0) * 128
        lo, hi = intops.act_range(out_u)
        assert np.all(np.abs(table - np.clip(exact, lo, hi)) <= 0.5 + 1e-9)
        x = codes.astype(np.uint8 if in_u else np.int8)
        np.testing.assert_array_equal(intops.lut(x, table, out_u), table)


def test_c_on_the_host_matches_every_layer(quantized, tmp_path):
    _, _, q = quantized
    export_single(q, "host", tmp_path / "host")
    result = validate_export(tmp_path / "host", None, 6, images=frames(6, 2), extra_cflags="-Werror")
    assert result["first_mismatch"] is None and result["bit_exact_frames"] == 6
    kinds = {layer["kind"] for layer in __import__("json").loads((tmp_path / "host" / "manifest.json").read_text())
             ["models"]["model"]["layers"]}
    assert {"lut", "resize"} <= kinds
    kernels = {layer.get("kernel") for layer in __import__("json").loads((tmp_path / "host" / "manifest.json").read_text())
               ["models"]["model"]["layers"]}
    assert {"ea_dilated_conv2d_s8", "ea_lut_s8", "ea_resize_nearest_s8"} <= kernels


@pytest.mark.qemu
@pytest.mark.timeout(900)
@pytest.mark.parametrize("target, tools", [("stm32", ("arm-none-eabi-gcc", "qemu-system-arm")),
                                           ("gap8", ("riscv64-unknown-elf-gcc", "qemu-system-riscv32"))])
def test_the_model_runs_bit_exact_on_qemu(quantized, tmp_path, target, tools):
    if not all(have(t) for t in tools):
        pytest.skip(f"needs {' and '.join(tools)}")
    from edgeadapt.harness.runner import RunSpec, run_hil

    _, _, q = quantized
    export_single(q, target, tmp_path / target)
    images = frames(4, 3)
    summary = run_hil(RunSpec(target=target, export_dir=tmp_path / target, images=images, labels=None,
                              sequence=np.zeros(4), out_dir=tmp_path / "run", link="qemu", task="none"))
    assert summary["bit_exact_frames"] == 4 == summary["frames"]
