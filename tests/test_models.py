"""Registry, MAC/parameter counts, memory footprints, checkpoints and ONNX export."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

import edgeadapt.models as models
from edgeadapt.cli import main
from edgeadapt.errors import EdgeadaptError
from edgeadapt.models.cost import layer_costs

# ops the ONNX importer understands (issue "Foundation" item 4 / docs/decisions.md)
IMPORTABLE_OPS = {
    "Conv", "BatchNormalization", "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool",
    "Add", "Concat", "Flatten", "Reshape", "Gemm", "MatMul", "Dropout",
}


def test_frontnet_macs_and_params_match_the_published_counts():
    # 14,138,880 is the MAC count DORY's Frontnet app hard-codes; 304,356 is torchsummary's total
    assert models.info("frontnet-160x32")["macs"] == 14_138_880
    assert models.info("frontnet-160x32")["params"] == 304_356
    assert models.info("frontnet-160x16")["macs"] == 4_304_640
    assert models.info("frontnet-80x32")["macs"] == 4_033_536


def test_mac_counter_on_hand_computed_layers():
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, stride=1, padding=1, bias=False),  # 8*10*6 outputs, 27 MACs each
        nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6, bias=False),  # 4*5*6 outputs, 9 each
        nn.Conv2d(6, 4, 1, groups=2, bias=False),  # 4*5*4 outputs, 3 each
        nn.Flatten(),
        nn.Linear(80, 7),
    )
    layers = layer_costs(_with_input(net, 3), (8, 10))
    assert [l.macs for l in layers] == [8 * 10 * 6 * 27, 4 * 5 * 6 * 9, 4 * 5 * 4 * 3, 80 * 7]
    assert [l.kind for l in layers] == ["conv", "dwconv", "dwconv", "fc"]
    assert models.count_params(net) == 6 * 27 + 6 * 9 + 4 * 3 + 80 * 7 + 7


def _with_input(net, channels):
    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x.expand(-1, channels, -1, -1))

    return Wrap()


def test_conv_followed_by_maxpool_counts_as_one_layer():
    first = layer_costs(models.build("frontnet-160x32"), (96, 160))[0]
    # input 160x96 int8, pooled output 32 x 24 x 40: the 48x80 conv output is never stored
    assert (first.in_bytes, first.out_bytes) == (15_360, 30_720)
    assert "+" in first.name


@pytest.mark.parametrize("name", models.names())
def test_every_model_maps_a_frame_to_the_pose_and_fits_the_layer_budget(name):
    h, w = models.input_hw(name)
    net = models.build(name).eval()
    assert net(torch.zeros(2, 1, h, w)).shape == (2, 4)
    assert models.build(name, outputs=5).eval()(torch.zeros(1, 1, h, w)).shape == (1, 5)
    assert models.info(name)["max_layer_bytes"] <= 96 * 1024


def test_mobilenet_has_more_than_twice_the_small_frontnet_macs_and_the_pair_fits_400kb():
    big, small = models.info("mobilenet-160x16"), models.info("frontnet-160x16")
    assert big["macs"] >= 2 * small["macs"]
    assert big["weight_bytes"] + small["weight_bytes"] <= 400 * 1024
    assert big["max_layer_bytes"] == 24 * 40 * 32 + 24 * 40 * 64  # the 24x40 pointwise 32 -> 64


def test_unknown_model_and_bad_override_are_user_errors():
    with pytest.raises(EdgeadaptError, match="unknown model 'frontnet-999'"):
        models.build("frontnet-999")
    with pytest.raises(EdgeadaptError, match="cannot override 'channels'"):
        models.build("frontnet-160x16", channels=3)
    with pytest.raises(EdgeadaptError, match="outputs must be 4"):
        models.build("frontnet-160x16", outputs=7)


def test_checkpoint_roundtrip_keeps_weights_and_config(tmp_path):
    torch.manual_seed(3)
    net = models.build("frontnet-160x8", outputs=5)
    path = models.save_checkpoint(tmp_path / "m.pt", net, "frontnet-160x8", models.model_config("frontnet-160x8", outputs=5), {"seed": 3})
    loaded, info = models.load_checkpoint(path)
    assert info["name"] == "frontnet-160x8" and info["outputs"] == 5 and info["input"] == (96, 160)
    assert info["train"] == {"seed": 3}
    x = torch.randn(2, 1, 96, 160)
    assert torch.equal(loaded(x), net.eval()(x))
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left nothing behind


def test_bad_checkpoints_are_refused_with_the_file_named(tmp_path):
    name = "frontnet-160x8"
    good = models.save_checkpoint(tmp_path / "good.pt", models.build(name), name, models.model_config(name))
    with pytest.raises(EdgeadaptError, match="checkpoint of model 'frontnet-160x8', expected 'frontnet-160x16'"):
        models.load_checkpoint(good, expect_model="frontnet-160x16")

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(EdgeadaptError, match="corrupt.pt: not a readable checkpoint"):
        models.load_checkpoint(corrupt)

    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(EdgeadaptError, match="foreign.pt: not an edgeadapt checkpoint"):
        models.load_checkpoint(foreign)

    # weights of frontnet-160x16 under the name frontnet-160x8
    ckpt = torch.load(good, weights_only=True)
    ckpt["state_dict"] = models.build("frontnet-160x16").state_dict()
    torch.save(ckpt, tmp_path / "swapped.pt")
    with pytest.raises(EdgeadaptError, match="swapped.pt: weights do not belong to model 'frontnet-160x8'"):
        models.load_checkpoint(tmp_path / "swapped.pt")

    with pytest.raises(EdgeadaptError, match="model file not found"):
        models.load_checkpoint(tmp_path / "absent.pt")
    with pytest.raises(EdgeadaptError, match="unknown zoo model 'zoo:medium'"):
        models.resolve_model_path("zoo:medium")


@pytest.mark.parametrize("name", ["frontnet-160x8", "mobilenet-160x8"])
def test_onnx_export_matches_torch_and_uses_importable_ops(tmp_path, name):
    torch.manual_seed(0)
    net = models.build(name)
    # non-trivial BN statistics so the comparison exercises them
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    info = {"input": models.input_hw(name)}
    path = models.export_onnx(net, info, tmp_path / "m.onnx")
    graph = onnx.load(str(path)).graph
    assert {n.op_type for n in graph.node} <= IMPORTABLE_OPS
    assert onnx.load(str(path)).opset_import[0].version == 17
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (3, 1, *info["input"])).astype(np.float32)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    want = net.eval()(torch.from_numpy(x)).detach().numpy()
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_models_command_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "models.json"
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "--json", str(out)])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "frontnet-160x32" in text and "14138880" in text
    entries = json.loads(out.read_text())
    by_name = {e["name"]: e for e in entries}
    assert by_name["frontnet-160x32"]["macs"] == 14_138_880
    assert by_name["frontnet-160x32"]["input"] == [96, 160]
    assert {"name", "input", "params", "macs"} <= set(entries[0])


def test_cli_reports_a_bad_model_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--model", str(tmp_path / "nothing.pt"), "--data", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgeadapt: error:") and "nothing.pt" in err
    assert "\n" not in err and "Traceback" not in err
