"""Every layer of exported models bit-exact with the integer reference on the Cortex-M4 ports
under QEMU, with the M4 drop-in kernels the ports build (KERNEL_ARCH=arm).

The tiny pair of test_codegen_support has every layer kind the drop-ins serve: a one-channel
first layer with the fused max pool (big) and without it, strided (small), depthwise, pointwise,
dense 3x3 convolutions, the residual add, concat, a zero-padded average pool, a global average
pool and fully connected layers (raw int32 outputs), int8 and uint8 activations; the big model's
weights mix 8, 4 and 2 bits, the small model's are 2-bit. A single model with 8-bit weights adds
int8 inputs to the pools and the add, odd channel counts and a 240-term global pool (past the
average pool's 128-term halfword sums). The firmware reports each layer's CRC-32
(`ea-crc`, docs/hil-protocol.md); edgeadapt.harness.layercheck compares it with the reference's.
"""

import shutil

import numpy as np
import pytest
import torch
from torch import nn

from edgeadapt.codegen import export_pair
from edgeadapt.codegen.bundle import bundle_model_ids, export_single, load_bundle_models, read_manifest
from edgeadapt.codegen.quickquant import quick_quantize
from edgeadapt.codegen.targets import load_target
from edgeadapt.harness.layercheck import validate_on_device
from edgeadapt.harness.profile import open_device
from edgeadapt.ir.onnx_import import import_torch
from test_codegen_support import TINY_HW, frames, tiny_pair

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(600)]

FRAMES = 3
TOOLS = ("make", "arm-none-eabi-gcc", "qemu-system-arm")
WEIGHTS = {"mixed-2": ("mixed", 2)}


def require_tools():
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the Cortex-M4 ports need {', '.join(missing)}")


def kinds(manifest):
    return {(row["kind"], row.get("kernel")) for entry in manifest["models"].values() for row in entry["layers"]}


@pytest.fixture(scope="module")
def pair_bundles(tmp_path_factory):
    """target -> (manifest, bundle folder) of the tiny pair, exported once per target (the firmware
    build then stays in the bundle's folder for the next test)."""
    root, made = tmp_path_factory.mktemp("m4"), {}

    def get(target):
        if target not in made:
            big, small = tiny_pair(*WEIGHTS["mixed-2"])
            made[target] = (export_pair(big, small, target, root / target), root / target)
        return made[target]
    return get


def run_on_qemu(target, bundles, tmp_path, tamper=None):
    manifest, bundle = bundles(target)
    assert load_target(target)["kernels"] == "arm"  # the port builds the drop-ins
    graphs = load_bundle_models(bundle, read_manifest(bundle))
    if tamper:
        tamper(graphs)
    with open_device(load_target(target), bundle, "qemu", log_dir=tmp_path) as dev:
        result = validate_on_device(dev, manifest, graphs, bundle_model_ids(manifest), frames(FRAMES, seed=11))
    return manifest, result


@pytest.mark.parametrize("target", ["stm32", "mps2"])
def test_every_layer_bit_exact_with_the_m4_kernels(target, pair_bundles, tmp_path):
    require_tools()
    manifest, result = run_on_qemu(target, pair_bundles, tmp_path)
    layer_kinds = kinds(manifest)
    kernels = {k for _, k in layer_kinds}
    for kernel in ("ea_conv2d_maxpool_s8", "ea_conv2d_s8", "ea_depthwise_conv2d_s8", "ea_pointwise_conv2d_s8",
                   "ea_add_s8", "ea_avg_pool_s8", "ea_fully_connected_s8_s32"):
        assert kernel in kernels, (kernel, sorted(layer_kinds))
    bits = {row.get("weight_bits") for e in manifest["models"].values() for row in e["layers"]} - {None}
    assert bits == {8, 4, 2}
    dtypes = {row["output_dtype"] for e in manifest["models"].values() for row in e["layers"]}
    assert {"int8", "uint8", "int32"} <= dtypes
    assert result["first_mismatch"] is None, result["first_mismatch"]
    assert result["frames"] == FRAMES and result["bit_exact_frames"] == FRAMES
    layers = sum(len(e["layers"]) for e in manifest["models"].values())
    assert result["layers_compared"] == FRAMES * layers


class SignedPools(nn.Module):
    """No activation before the pools and the add: their inputs are int8 (the pair's are uint8)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 7, 3, 1, 1)
        self.pool = nn.AvgPool2d(2)
        self.dw = nn.Conv2d(7, 7, 3, 1, 1, groups=7)
        self.pw = nn.Conv2d(7, 7, 1)
        self.conv = nn.Conv2d(7, 13, 3, 2, 1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(13, 3)

    def forward(self, x):
        x = self.pool(self.stem(x))
        x = x + self.pw(self.dw(x))
        return self.fc(torch.flatten(self.gap(self.conv(x)), 1))


@pytest.mark.slow
def test_every_layer_bit_exact_8_bit_weights_int8_pools(tmp_path):
    """A single model with every weight at 8 bits (the pixel-pair paths) and int8 average pool,
    global pool (240 terms) and add inputs, 7 and 13 channels (not multiples of 4), on mps2."""
    require_tools()
    torch.manual_seed(3)
    graph = quick_quantize(import_torch(SignedPools().eval(), TINY_HW, "signed-pools"), frames(8, seed=5), 8)
    manifest = export_single(graph, "mps2", tmp_path / "bundle")
    rows = manifest["models"]["model"]["layers"]
    assert {"ea_avg_pool_s8", "ea_add_s8", "ea_depthwise_conv2d_s8", "ea_pointwise_conv2d_s8"} <= {r["kernel"] for r in rows}
    dtypes = [r["output_dtype"] for r in rows]
    assert dtypes[:-1] == ["int8"] * (len(rows) - 1)  # every activation signed: int8 pools and add
    graphs = load_bundle_models(tmp_path / "bundle", read_manifest(tmp_path / "bundle"))
    with open_device(load_target("mps2"), tmp_path / "bundle", "qemu", log_dir=tmp_path) as dev:
        result = validate_on_device(dev, manifest, graphs, bundle_model_ids(manifest), frames(FRAMES, seed=12))
    assert result["first_mismatch"] is None, result["first_mismatch"]
    assert result["bit_exact_frames"] == FRAMES and result["layers_compared"] == FRAMES * len(rows)


def test_a_wrong_layer_is_named(pair_bundles, tmp_path):
    """The comparison can fail: a reference with one weight changed in the big model's depthwise
    layer differs from the device at that layer, on the first frame, and at no earlier layer."""
    require_tools()

    def tamper(graphs):
        node = next(n for n in graphs["big"].nodes if n.op == "conv" and n.attrs.get("groups", 1) > 1)
        node.qweight = node.qweight.copy()
        flat = node.qweight.reshape(-1)
        flat[0] = 1 if flat[0] != 1 else 0
        tamper.name = node.name

    manifest, result = run_on_qemu("mps2", pair_bundles, tmp_path, tamper)
    first = result["first_mismatch"]
    assert first is not None and first["model"] == "big" and first["frame"] == 0
    rows = manifest["models"]["big"]["layers"]
    assert first["layer_name"] in {r["name"] for r in rows}
    dw_index = next(r["index"] for r in rows if r["kernel"] == "ea_depthwise_conv2d_s8")
    assert first["layer"] == dw_index
    assert result["models"]["small"]["bit_exact_frames"] == FRAMES  # small untouched
    assert result["models"]["big"]["bit_exact_frames"] < FRAMES
    assert np.isscalar(result["bit_exact_frames"]) and result["bit_exact_frames"] < FRAMES
