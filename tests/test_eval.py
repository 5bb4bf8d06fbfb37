"""Evaluation: dispatch over model forms, the eval JSON schema, and one-line errors."""

import json
import shutil

import numpy as np
import pytest
import torch

import edgeadapt.models as models
from edgeadapt.cli import main
from edgeadapt.data import compute_metrics, ensure_synth, load_split, normalize, train_label_mean
from edgeadapt.errors import EdgeadaptError
from edgeadapt.evaluate import evaluate, predict, predict_outputs

NAME = "frontnet-160x8"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return ensure_synth(tmp_path_factory.mktemp("synth") / "d", frames=160, seed=21)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(5)
    net = models.build(NAME, outputs=5)
    for m in net.modules():  # non-default BN statistics so eval mode matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.fill_(0.5)
    path = tmp_path_factory.mktemp("ckpt") / "m.pt"
    return models.save_checkpoint(path, net, NAME, models.model_config(NAME, outputs=5))


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err.strip()


def test_evaluate_scores_the_checkpoint_predictions(data, checkpoint):
    frames = load_split(data, "val")
    model, _ = models.load_checkpoint(checkpoint)
    with torch.no_grad():
        want = model(torch.from_numpy(normalize(frames.images))).numpy()
    got = predict_outputs(checkpoint, frames)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert predict(checkpoint, frames).shape == (len(frames), 4)  # the aux logit is dropped
    result = evaluate(checkpoint, data, "val")
    assert result["frames"] == len(frames) and result["split"] == "val"
    expected = compute_metrics(want[:, :4], frames.labels, train_label_mean(data))
    assert result["mae"] == pytest.approx(expected["mae"])
    assert result["trivial_mae"] == pytest.approx(expected["trivial_mae"])


def test_eval_command_prints_the_table_and_writes_the_schema(data, checkpoint, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code, text, _ = run_cli(["eval", "--model", str(checkpoint), "--data", str(data), "--json", str(out)], capsys)
    assert code == 0
    for row in ("x", "y", "z", "phi", "sum"):
        assert any(line.split()[:1] == [row] for line in text.splitlines())
    result = json.loads(out.read_text())
    assert set(result) == {"model", "split", "frames", "task", "mae", "r2", "trivial_mae"}
    assert result["split"] == "test" and result["frames"] == len(load_split(data, "test"))
    assert set(result["mae"]) == set(result["trivial_mae"]) == {"x", "y", "z", "phi", "sum"}
    assert result["mae"]["sum"] == pytest.approx(sum(result["mae"][k] for k in ("x", "y", "z", "phi")))


def test_eaq_models_go_through_the_quantized_executor(data, tmp_path, monkeypatch):
    import edgeadapt.quant

    calls = []

    def fake_predict_eaq(path, frames):
        calls.append(path)
        return np.tile(np.array([1.0, 0.0, 0.5, 0.0, 9.0], np.float32), (len(frames), 1))

    monkeypatch.setattr(edgeadapt.quant, "predict_eaq", fake_predict_eaq, raising=False)
    monkeypatch.setattr("edgeadapt.evaluate.float_reference", lambda spec, frames: None)  # no float weights to read
    artifact = tmp_path / "m.eaq"
    artifact.write_bytes(b"placeholder")
    frames = load_split(data, "test")
    pred = predict(artifact, frames)
    assert calls == [artifact] and pred.shape == (len(frames), 4)
    assert evaluate(artifact, data)["mae"]["x"] == pytest.approx(np.abs(frames.labels[:, 0] - 1.0).mean(), rel=1e-5)


def test_corrupt_dataset_file_is_a_one_line_error(data, checkpoint, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    (broken / "test.npz").write_bytes(b"PK\x03\x04 not really a zip")
    code, _, err = run_cli(["eval", "--model", str(checkpoint), "--data", str(broken)], capsys)
    assert code == 2 and "test.npz" in err and "\n" not in err and "Traceback" not in err


def test_wrong_image_size_is_refused(tmp_path, checkpoint, capsys):
    small = ensure_synth(tmp_path / "small", frames=60, seed=3, size="80x48")
    code, _, err = run_cli(["eval", "--model", str(checkpoint), "--data", str(small)], capsys)
    assert code == 2 and "model expects 160x96 frames, the data has 80x48" in err


def test_unknown_model_forms_are_refused(data, tmp_path):
    with pytest.raises(EdgeadaptError, match="unknown model file type '.h5'"):
        evaluate(tmp_path / "m.h5", data)
    bad_onnx = tmp_path / "m.onnx"
    bad_onnx.write_bytes(b"not onnx")
    with pytest.raises(EdgeadaptError, match="m.onnx: not a loadable ONNX model"):
        evaluate(bad_onnx, data)
