"""The input normalization: read from the ONNX graph's leading Sub/Div, given by option, folded
into the first layer (or an input layer), and the quantize / eval CLI on general datasets."""

import io
import json

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from edgeadapt.cli import main
from edgeadapt.data.importers import import_dataset
from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.normalization import fold_input_normalization, resolve_normalization
from edgeadapt.ir.onnx_import import import_onnx
from edgeadapt.quant.pipeline import run_float
from edgeadapt.quant.reference import predict_eaq

MEAN = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)


class Normalize(nn.Module):
    def forward(self, x):
        return (x / 255.0 - MEAN) / STD


def rgb_net(pad, outputs=10):
    torch.manual_seed(0)
    return nn.Sequential(Normalize(), nn.Conv2d(3, 8, 3, padding=pad), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, outputs)).eval()


def to_onnx(net, shape, path=None):
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(net, (torch.zeros(1, *shape),), path or buf, opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["out"],
                          dynamic_axes={"input": {0: "batch"}, "out": {0: "batch"}})
    return path or onnx.load_model_from_string(buf.getvalue())


@pytest.mark.parametrize("pad, how", [(1, "input layer"), (0, "first layer")])
def test_leading_normalization_is_read_and_folded_exactly(pad, how):
    net = rgb_net(pad)
    graph = import_onnx(to_onnx(net, (3, 12, 14)))
    np.testing.assert_allclose(graph.meta["input_norm"]["scale"], (1 / 255 / STD).reshape(-1), rtol=1e-6)
    np.testing.assert_allclose(graph.meta["input_norm"]["offset"], (-MEAN / STD).reshape(-1), rtol=1e-6)
    folded, got = fold_input_normalization(graph, resolve_normalization(graph))
    assert got == how and folded.meta["input_norm"]["folded"] == how
    images = np.random.RandomState(0).randint(0, 256, (6, 12, 14, 3), dtype=np.uint8)
    with torch.no_grad():
        want = net(torch.from_numpy(images.astype(np.float32)).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(run_float(folded, images), want, rtol=1e-4, atol=1e-4)


def test_options_normalize_a_graph_without_its_own_and_may_not_contradict_one():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)).eval()
    graph = import_onnx(to_onnx(net, (1, 8, 8)))
    assert "input_norm" not in graph.meta
    assert resolve_normalization(graph)["source"] == "default"
    _, how = fold_input_normalization(graph, resolve_normalization(graph))
    assert how == "none"
    norm = resolve_normalization(graph, [1 / 255], [0.0])
    folded, how = fold_input_normalization(graph, norm)
    images = np.random.RandomState(1).randint(0, 256, (4, 8, 8), dtype=np.uint8)
    with torch.no_grad():
        want = net(torch.from_numpy(images.astype(np.float32) / 255)[:, None]).numpy()
    np.testing.assert_allclose(run_float(folded, images), want, rtol=1e-4, atol=1e-5)
    with pytest.raises(EdgeadaptError, match="contradict the normalization"):
        resolve_normalization(import_onnx(to_onnx(rgb_net(1), (3, 12, 14))), [1 / 255], [0.0])
    with pytest.raises(EdgeadaptError, match="has 2 values, the model's input has 1 channels"):
        resolve_normalization(graph, [0.1, 0.2], None)


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture(scope="module")
def rgb_classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("norm_cli")
    rng = np.random.RandomState(0)
    labels = rng.randint(0, 10, 120)
    images = rng.randint(0, 256, (120, 12, 14, 3)).astype(np.uint8)
    images[..., 0] = np.clip(images[..., 0] // 4 + 20 * labels[:, None, None], 0, 255)  # learnable-ish
    np.savez(root / "d.npz", images=images, labels=labels)
    import_dataset(root / "d.npz", root / "data")
    return root, to_onnx(rgb_net(1), (3, 12, 14), str(root / "m.onnx"))


def test_quantize_and_eval_a_rgb_classifier_from_the_cli(rgb_classifier, capsys):
    root, onnx_path = rgb_classifier
    code, out, err = run(["quantize", onnx_path, "--calib", str(root / "data"), "--out", str(root / "m.eaq"),
                          "--report", str(root / "r.json"), "--calib-frames", "32", "--iterations", "5"], capsys)
    assert code == 0, err
    report = json.loads((root / "r.json").read_text())
    assert report["task"] == "classification" and report["mae_float"] is None
    assert 0 <= report["metrics_quant"]["top1"] <= 1 and "fidelity" in report["metrics_quant"]
    assert report["options"]["label_tuning"]["skipped"].startswith("classification")
    assert "top-1 accuracy" in out and "sum-of-MAE" not in out and "output deviation from float" in out
    code, out, err = run(["eval", "--model", str(root / "m.eaq"), "--data", str(root / "data"),
                          "--json", str(root / "e.json")], capsys)
    assert code == 0, err
    result = json.loads((root / "e.json").read_text())
    from edgeadapt.data import load_split

    test = load_split(root / "data", "test")
    pred = predict_eaq(root / "m.eaq", test)
    assert result["top1"] == pytest.approx(float((pred.argmax(1) == test.labels).mean()))
    assert result["top1"] == report["metrics_quant"]["top1"]
    assert result["fidelity"]["top1_agreement"] == report["metrics_quant"]["fidelity"]["top1_agreement"]


def test_a_channel_count_the_model_does_not_take_is_one_line(rgb_classifier, tmp_path, capsys):
    root, onnx_path = rgb_classifier
    import_dataset(root / "d.npz", tmp_path / "grey", channels=1)
    code, _, err = run(["quantize", onnx_path, "--calib", str(tmp_path / "grey"), "--out", str(tmp_path / "m.eaq")], capsys)
    assert code == 2 and "have 1 channel, model" in err and "takes 3" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["quantize", onnx_path, "--calib", str(root / "data"), "--out", str(tmp_path / "m.eaq"),
                        "--input-scale", "0.5"], capsys)
    assert code == 2 and "contradict" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.eaq").exists()
