"""`edgeadapt quantize` end to end on a tiny synthetic dataset: outputs, report, every error path."""

import json
import zipfile

import numpy as np
import pytest
import torch

from edgeadapt.cli import main
from edgeadapt.data import ensure_synth, load_split
from edgeadapt.models import build, export_onnx
from edgeadapt.quant.artifact import load_eaq
from edgeadapt.quant.reference import predict_eaq

FAST = ["--calib-frames", "24", "--iterations", "10"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("quant_cli")
    data = ensure_synth(root / "data", frames=150, seed=3)
    torch.manual_seed(0)  # the untrained network's weights must not depend on which tests ran before
    model = build("frontnet-160x8")
    onnx_path = export_onnx(model, {"input": (96, 160)}, root / "f8.onnx")
    return root, data, onnx_path


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_quantize_writes_model_and_report(setup, tmp_path, capsys):
    _, data, onnx_path = setup
    out, rep = tmp_path / "m.eaq", tmp_path / "r.json"
    code, stdout, stderr = run(["quantize", str(onnx_path), "--calib", str(data), "--out", str(out), "--report", str(rep), *FAST], capsys)
    assert code == 0, stderr
    report = json.loads(rep.read_text())
    assert set(report["mae_float"]) == set(report["mae_quant"]) == {"x", "y", "z", "phi", "sum"}
    assert report["weight_bytes"] == sum(layer["weight_bytes"] for layer in report["layers"]) > 0
    assert report["seconds"] > 0
    assert "QSNR dB" in stdout and "sum-of-MAE change" in stdout
    # the report's quantized MAE is what the integer reference gives on the test split
    test = load_split(data, "test")
    pred = predict_eaq(out, test)[:, :4]
    assert report["mae_quant"]["sum"] == pytest.approx(float(np.abs(pred - test.labels).mean(axis=0).sum()), rel=1e-5)
    graph = load_eaq(out)
    assert graph.quantized
    assert {k: v for k, v in report.items() if k != "seconds"} == json.loads(zipfile.ZipFile(out).read("graph.json"))["report"]


def test_same_inputs_give_the_same_eaq_and_json_alias(setup, tmp_path, capsys):
    _, data, onnx_path = setup
    members = []
    for i in range(2):
        out = tmp_path / f"m{i}.eaq"
        code, _, stderr = run(["quantize", str(onnx_path), "--calib", str(data), "--out", str(out),
                               "--json", str(tmp_path / f"r{i}.json"), *FAST], capsys)
        assert code == 0, stderr
        with zipfile.ZipFile(out) as zf:
            members.append({name: zf.read(name) for name in zf.namelist()})
    assert members[0] == members[1]
    assert (tmp_path / "r1.json").is_file()


def test_label_tuning_reads_the_calibration_labels_and_can_be_switched_off(setup, tmp_path, capsys):
    _, data, onnx_path = setup
    options = {}
    for flag in ([], ["--no-label-tuning"]):
        rep = tmp_path / f"r{len(flag)}.json"
        code, _, stderr = run(["quantize", str(onnx_path), "--calib", str(data), "--out", str(tmp_path / "m.eaq"),
                               "--report", str(rep), *FAST, *flag], capsys)
        assert code == 0, stderr
        options[bool(flag)] = json.loads(rep.read_text())["options"]["label_tuning"]
    assert options[True] == {"outputs": [], "shifts": [], "skipped": "switched off"}
    # an untrained network's x is far from the labels' (about 2 m): that output moves, by metres
    tuned = options[False]
    assert 0 in tuned["outputs"] and set(tuned["outputs"]) <= {0, 1, 2, 3}
    assert abs(tuned["shifts"][tuned["outputs"].index(0)]) > 0.5
    assert all(s != 0 for s in tuned["shifts"])
    assert tuned["heldout"]["frames"] == len(load_split(data, "val"))  # checked on the val split


def _fails(argv, capsys, pattern):
    code, _, stderr = run(argv, capsys)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr
    assert pattern in lines[0], lines[0]


def test_missing_calibration_data(setup, tmp_path, capsys):
    _, _, onnx_path = setup
    _fails(["quantize", str(onnx_path), "--calib", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.eaq")],
           capsys, "calibration data")
    assert not (tmp_path / "m.eaq").exists()


def test_bad_flash_budget(setup, tmp_path, capsys):
    _, data, onnx_path = setup
    _fails(["quantize", str(onnx_path), "--calib", str(data), "--out", str(tmp_path / "m.eaq"),
            "--weight-bits", "auto", "--flash-budget", "20 furlongs"], capsys, "bad size '20 furlongs'")


def test_infeasible_budget_keeps_the_old_model(setup, tmp_path, capsys):
    _, data, onnx_path = setup
    out = tmp_path / "m.eaq"
    out.write_bytes(b"previous model")
    _fails(["quantize", str(onnx_path), "--calib", str(data), "--out", str(out), "--weight-bits", "auto",
            "--flash-budget", "1KiB", *FAST], capsys, "smallest achievable weight size is")
    assert out.read_bytes() == b"previous model"


def test_unknown_model_type(setup, tmp_path, capsys):
    _, data, _ = setup
    bad = tmp_path / "model.caffemodel"  # .tflite is a model type since the TFLite importer
    bad.write_bytes(b"x")
    _fails(["quantize", str(bad), "--calib", str(data), "--out", str(tmp_path / "m.eaq")], capsys, "unknown model type")
