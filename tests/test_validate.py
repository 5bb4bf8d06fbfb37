"""`edgeadapt validate`: the exported C built for the host, bit for bit against the reference."""

import json
import re

import numpy as np
import pytest

from edgeadapt.cli import main
from edgeadapt.codegen import export_pair, validate_export
from edgeadapt.data import store
from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.artifact import save_eaq
from test_codegen_support import frames, have, tiny_pair

pytestmark = pytest.mark.skipif(not (have("make") and have("gcc")), reason="needs make and gcc for the host build")

N_FRAMES = 6


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """The tiny pair (mixed 8/4/2-bit big, 4-bit small) exported for host (1 core) and gap8 (8 cores)."""
    root = tmp_path_factory.mktemp("bundles")
    big, small = tiny_pair(big_bits="mixed", small_bits=4)
    paths = {"big": save_eaq(big, root / "big.eaq"), "small": save_eaq(small, root / "small.eaq")}
    out = {}
    for target in ("host", "gap8"):
        export_pair(big, small, target, root / target, sources=paths)
        out[target] = root / target
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """An 80x48 dataset folder whose test split holds structured frames."""
    root = tmp_path_factory.mktemp("data")
    images = frames(N_FRAMES, seed=11)
    n = len(images)
    store.write_split(root / "test.npz", {"images": images, "labels": np.zeros((n, 4), np.float32),
                                          "sequence": np.zeros(n, np.int32), "subject": np.zeros(n, np.int32)})
    store.write_meta(root, {"format": store.FORMAT_NAME, "format_version": store.FORMAT_VERSION, "size": "80x48"})
    return root


@pytest.mark.parametrize("target", ["host", "gap8"])
def test_every_layer_of_every_frame_is_bit_exact(bundles, dataset, target):
    result = validate_export(bundles[target], dataset, N_FRAMES)
    assert result["first_mismatch"] is None
    assert result["frames"] == N_FRAMES and result["bit_exact_frames"] == N_FRAMES
    assert result["layers_compared"] == N_FRAMES * (8 + 4)
    assert result["models"]["big"]["layers"] == 8 and result["models"]["small"]["outputs_exact_frames"] == N_FRAMES


def test_the_pair_runs_int8_and_uint8_layers(bundles):
    """The bit-exact comparison above covers both activation types (docs/fixed-point.md 1.3): the
    ReLU layers are uint8 in the manifest and the generated parameters say so."""
    manifest = json.loads((bundles["host"] / "manifest.json").read_text())
    for role in ("big", "small"):
        dtypes = [row["output_dtype"] for row in manifest["models"][role]["layers"]]
        assert "uint8" in dtypes and dtypes[-1] == "int32", (role, dtypes)
    source = (bundles["host"] / "ea_model_big.c").read_text()
    assert ".out_type = EA_UINT8" in source and ".in_type = EA_UINT8" in source and ".in_type = EA_INT8" in source


def test_a_changed_weight_is_caught_at_its_layer(bundles, dataset, tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for f in bundles["host"].iterdir():
        if f.is_file():
            (bundle / f.name).write_bytes(f.read_bytes())
    source = (bundle / "ea_model_small.c").read_text()
    # flip the sign of the second layer's first bias: only that layer (and what follows) changes
    pattern = r"(static const int32_t small_l1_bias\[\d+\] EA_L2_DATA = \{\n    )(-?\d+)"
    value = int(re.search(pattern, source).group(2))
    (bundle / "ea_model_small.c").write_text(re.sub(pattern, lambda m: m.group(1) + str(-value - 4096), source, count=1))
    result = validate_export(bundle, dataset, N_FRAMES)
    mismatch = result["first_mismatch"]
    assert mismatch is not None and result["bit_exact_frames"] < N_FRAMES
    assert (mismatch["model"], mismatch["layer"], mismatch["frame"]) == ("small", 1, 0)
    assert mismatch["index"] % 8 == 0  # output channel 0 of the 8-channel map
    assert mismatch["expected"] != mismatch["got"]


def test_cli_writes_the_contract_json(bundles, dataset, tmp_path, capsys):
    json_path = tmp_path / "v.json"
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--export", str(bundles["host"]), "--data", str(dataset), "--frames", "4", "--json", str(json_path)])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "all 4 frames bit-identical on every layer of both models" in out
    result = json.loads(json_path.read_text())
    assert {"frames": 4, "bit_exact_frames": 4, "layers_compared": 48, "first_mismatch": None}.items() <= result.items()


def test_cli_on_the_device_compares_every_layer_crc(bundles, dataset, tmp_path, capsys):
    """`validate --emulator host`: the firmware serving the protocol reports each layer's CRC-32
    (ea-crc) and the host compares it with the reference's; the same counts as the host batch mode."""
    json_path = tmp_path / "d.json"
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--export", str(bundles["host"]), "--data", str(dataset), "--frames", "2",
              "--emulator", "host", "--json", str(json_path)])
    assert exit_info.value.code == 0
    assert "all 2 frames bit-identical on every layer of both models" in capsys.readouterr().out
    result = json.loads(json_path.read_text())
    assert {"frames": 2, "bit_exact_frames": 2, "layers_compared": 24, "first_mismatch": None}.items() <= result.items()
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--export", str(bundles["host"]), "--data", str(dataset), "--emulator", "host",
              "--port", "/dev/null"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "edgeadapt: error: give at most one of --emulator and --port"


def test_bundle_problems_are_one_line_errors(bundles, dataset, tmp_path, capsys):
    with pytest.raises(EdgeadaptError, match="no manifest.json"):
        validate_export(tmp_path, dataset, 2)
    bundle = tmp_path / "b"
    bundle.mkdir()
    for f in bundles["host"].iterdir():
        if f.is_file():
            (bundle / f.name).write_bytes(f.read_bytes())
    eaq = bundle / "small.eaq"
    eaq.write_bytes(eaq.read_bytes() + b"\0")
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--export", str(bundle), "--data", str(dataset), "--frames", "2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "small.eaq: sha256" in err[0] and "differs from the manifest" in err[0]


@pytest.mark.slow
def test_realistic_size_pair_on_200_frames_8_cores(tmp_path):
    """A pair of realistic size (the shipped big model's architecture, mobilenet-160x16 at 8 bits, and
    frontnet-160x16 at 4 bits as the small one) exported for the GAP8 cluster, validated on 200 frames (the default run keeps the tiny
    pair above)."""
    from edgeadapt.codegen.quickquant import quick_quantize
    from edgeadapt.ir.onnx_import import import_torch
    from edgeadapt.models import registry

    hw = (96, 160)
    big = quick_quantize(import_torch(registry.build("mobilenet-160x16").eval(), hw, "mobilenet-160x16"), frames(8, hw))
    small = quick_quantize(import_torch(registry.build("frontnet-160x16").eval(), hw, "frontnet-160x16"), frames(8, hw), 4)
    paths = {"big": save_eaq(big, tmp_path / "big.eaq"), "small": save_eaq(small, tmp_path / "small.eaq")}
    manifest = export_pair(big, small, "gap8", tmp_path / "gap8", sources=paths)
    assert manifest["arena_bytes"] <= 96 * 1024
    result = validate_export(tmp_path / "gap8", None, 200, images=frames(200, hw, seed=4))
    assert result["first_mismatch"] is None
    assert result["bit_exact_frames"] == 200 and result["layers_compared"] == 200 * (18 + 8)
