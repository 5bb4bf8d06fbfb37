"""Single-model deployment (`edgeadapt export --model`): one model of a user's own, no pair, no policy.

The model is a small 3-channel classifier with 12 outputs (more than a pair model may have), so
the bundle, the host validation and a QEMU `hil run` exercise another input shape and task than
the pose pair.
"""

import json
import os
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from edgeadapt.cli import main
from edgeadapt.codegen import export_single, validate_export
from edgeadapt.codegen.quickquant import quick_quantize
from edgeadapt.harness.runner import RunSpec, run_hil
from edgeadapt.ir.onnx_import import import_torch
from edgeadapt.quant.artifact import save_eaq
from edgeadapt.quant.reference import run_int
from test_codegen_support import have

HWC = (24, 32, 3)
CLASSES = 12
BUNDLE = {"ea_models.h", "ea_models.c", "ea_arena.c", "ea_model_single.c", "manifest.json", "model.eaq"}


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.ReLU6(),
            nn.Conv2d(8, 16, 1), nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def colour_frames(n, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : HWC[0], 0 : HWC[1]]
    base = (yy[None, :, :, None] * rng.uniform(1, 8, (n, 1, 1, 3)) + xx[None, :, :, None] * rng.uniform(1, 8, (n, 1, 1, 3)))
    return np.clip(base % 256 + rng.normal(0, 15, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(3)
    graph = quick_quantize(import_torch(Classifier().eval(), HWC[:2], "rgb-classifier", in_channels=3),
                           colour_frames(8, seed=1))
    return save_eaq(graph, tmp_path_factory.mktemp("single") / "classifier.eaq"), graph


def run(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_export_model_writes_a_one_model_bundle(model, tmp_path, capsys):
    out = tmp_path / "bundle"
    code, stdout, err = run(["export", "--target", "stm32", "--model", str(model[0]), "--out", str(out)], capsys)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == BUNDLE
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["models"]) == ["model"] and manifest["policy"] is None
    assert manifest["input_shape"] == list(HWC)
    assert manifest["models"]["model"]["num_outputs"] == CLASSES
    header = (out / "ea_models.h").read_text()
    for define in ("EA_NUM_MODELS  1", "EA_MODEL_SINGLE 0", "EA_INPUT_C     3", f"EA_MAX_OUTPUTS {CLASSES}"):
        assert define in header
    assert "EA_MODEL_BIG" not in header and "single model" in stdout


def test_reexporting_a_pair_folder_as_one_model_drops_the_pair_sources(model, tmp_path, capsys):
    out = tmp_path / "bundle"
    out.mkdir()
    for stale in ("ea_model_big.c", "ea_model_small.c", "ea_policy_default.c"):
        (out / stale).write_text("/* from a pair export */\n")
    (out / "notes.txt").write_text("mine")
    assert run(["export", "--target", "host", "--model", str(model[0]), "--out", str(out)], capsys)[0] == 0
    assert {p.name for p in out.iterdir()} == BUNDLE | {"notes.txt"}


@pytest.mark.parametrize("args, message", [
    (["--big", "b.eaq"], "--model exports one model: do not combine it with --big/--small"),
    (["--policy", "always-big"], "--policy needs a big/small pair"),
])
def test_model_excludes_pair_options(model, tmp_path, capsys, args, message):
    code, _, err = run(["export", "--target", "host", "--model", str(model[0]), "--out", str(tmp_path), *args], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err


def test_neither_model_nor_pair_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run(["export", "--target", "host", "--small", "s.eaq"], capsys)
    assert code == 2 and err.strip() == "edgeadapt: error: give --model, or both --big and --small"


@pytest.mark.skipif(not (have("make") and have("gcc")), reason="needs make and gcc for the host build")
def test_host_validation_of_the_single_model_is_bit_exact(model, tmp_path):
    export_single(model[1], "host", tmp_path / "host", source=model[0])
    images = colour_frames(5, seed=7)
    result = validate_export(tmp_path / "host", None, 5, images=images, extra_cflags="-Werror")
    assert result["first_mismatch"] is None
    assert result["bit_exact_frames"] == 5 and list(result["models"]) == ["model"]
    assert result["layers_compared"] == 5 * result["models"]["model"]["layers"]
    with pytest.raises(Exception, match="frames are 24x32, the models read 24x32x3"):
        validate_export(tmp_path / "host", None, 5, images=images[..., 0])


@pytest.mark.qemu
@pytest.mark.timeout(600)
def test_hil_run_on_qemu_reports_accuracy_and_rebuilds(model, tmp_path, capsys):
    """A user's classifier on a labelled dataset folder through the CLI: export --model, hil run."""
    if not (have("arm-none-eabi-gcc") and have("qemu-system-arm")):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    from edgeadapt.data.general import write_dataset

    export_dir = tmp_path / "stm32"
    code, _, err = run(["export", "--target", "stm32", "--model", str(model[0]), "--out", str(export_dir)], capsys)
    assert code == 0, err
    images = colour_frames(6, seed=9)
    labels = np.argmax(run_int(model[1], images), axis=1).astype(np.int32)
    labels[::3] = (labels[::3] + 1) % CLASSES  # two of six frames wrong: top-1 accuracy 4/6
    data = tmp_path / "data"
    spare = colour_frames(2, seed=10)
    write_dataset(data, {"train": (spare, np.zeros(2, np.int32), None), "val": (spare, np.zeros(2, np.int32), None),
                         "test": (images, labels, None)}, "classification", classes=[f"c{i}" for i in range(CLASSES)])
    out = tmp_path / "run"
    code, stdout, err = run(["hil", "run", "--target", "stm32", "--emulator", "qemu", "--export", str(export_dir),
                             "--data", str(data), "--frames", "6", "--out", str(out), "--json", str(tmp_path / "s.json")],
                            capsys)
    assert code == 0, err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["bundle"] == "single" and summary["frames"] == summary["bit_exact_frames"] == 6
    assert summary["task"] == "classification" and summary["metrics"]["top1"] == pytest.approx(4 / 6)
    assert summary["latency_ms"]["mean"] > 0 and summary["energy_mj"]["mean"] > 0
    assert "accuracy (top-1)" in stdout
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["label"] for r in records if r["kind"] == "frame"] == labels.tolist()
    assert "single model rgb-classifier" in (out / "report.md").read_text()
    code, stdout, err = run(["hil", "report", "--run", str(out)], capsys)
    assert code == 0, err
    assert json.loads((out / "summary.json").read_text()) == summary

    outputs_only = run_hil(RunSpec(target="stm32", export_dir=export_dir, images=images[:2], labels=None,
                                   sequence=np.zeros(2), out_dir=tmp_path / "run2", link="qemu"))
    assert outputs_only["task"] is None and outputs_only["bit_exact_frames"] == 2
    assert "metrics" not in outputs_only


@pytest.mark.skipif(not (have("make") and have("gcc")), reason="needs make and gcc for the host build")
def test_protocol_of_a_single_model_firmware(model, tmp_path):
    from test_protocol_host import ROOT, FirmwareHost, build_host_firmware, parse_fields

    export_single(model[1], "host", tmp_path / "host", source=model[0])
    name = f"test-fw-single-{os.getpid()}"  # its own build folder: the dependency files name the export's path
    try:
        exe = build_host_firmware(tmp_path, name=name, export=tmp_path / "host", kernels=True)
    finally:
        shutil.rmtree(ROOT / "build" / name, ignore_errors=True)
    fw = FirmwareHost(exe)
    try:
        info = fw.command("ea-info")
        head = parse_fields(info[0], "m-info")
        assert (head["models"], head["channels"], head["height"], head["width"]) == ("1", "3", "24", "32")
        assert fw.command("ea-select") == ["m-select-[model]"]
        assert fw.command("ea-select small")[0].startswith("e-[ea-select: single-model export, expected model")
        assert fw.command("ea-policy")[0] == "e-[ea-policy: single-model export, no policy]"
        assert fw.command("ea-decide 0 1,2")[0] == "e-[ea-decide: single-model export, no policy]"
        frame = colour_frames(1, seed=4)[0]
        fw.load_frame(frame.tobytes())
        step = fw.command("ea-step")
        assert step[0].startswith("m-step-[frame=0,model=0,next=0,")
        want = ",".join(str(int(v)) for v in run_int(model[1], frame[None])[0])
        assert step[1] == f"m-outputs-[{want}]"
    finally:
        fw.close()
