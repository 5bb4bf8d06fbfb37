"""Bring your own model and data, from the command line only: an RGB 3x32x32 classifier with 10
outputs and a 37x23 greyscale regressor, through dataset import, quantize, export (host, stm32,
gap8), validate and hil run."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from edgeadapt.cli import main
from test_codegen_support import have

CASES = {
    # name: (C, H, W, outputs, task)
    "rgb-classifier": (3, 32, 32, 10, "classification"),
    "grey-regressor": (1, 23, 37, 3, "regression"),
}


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def build_case(root, name):
    c, h, w, k, task = CASES[name]
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(c, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1, dilation=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(16, k)).eval()
    onnx_path = root / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(net, (torch.zeros(1, c, h, w),), str(onnx_path), opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["out"], dynamic_axes={"input": {0: "b"}, "out": {0: "b"}})
    rng = np.random.RandomState(1)
    images = rng.randint(0, 256, (60, h, w, c) if c == 3 else (60, h, w)).astype(np.uint8)
    labels = rng.randint(0, k, 60) if task == "classification" else rng.rand(60, k).astype(np.float32)
    np.savez(root / f"{name}.npz", images=images, labels=labels)
    return onnx_path


@pytest.mark.parametrize("name", list(CASES))
def test_quantize_export_validate_from_the_cli(name, tmp_path, capsys):
    onnx_path = build_case(tmp_path, name)
    data, eaq = tmp_path / "data", tmp_path / "m.eaq"
    code, out, err = run(["dataset", "import", tmp_path / f"{name}.npz", "--out", data], capsys)
    assert code in (0, None), err
    code, out, err = run(["quantize", onnx_path, "--calib", data, "--out", eaq, "--calib-frames", "16",
                          "--iterations", "5", "--report", tmp_path / "r.json"], capsys)
    assert code in (0, None), err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["task"] == CASES[name][4] and "fidelity" in report["metrics_quant"]
    for target in ("host", "stm32", "gap8"):
        code, _, err = run(["export", "--target", target, "--model", eaq, "--out", tmp_path / target], capsys)
        assert code in (0, None), f"{target}: {err}"
    manifest = json.loads((tmp_path / "stm32" / "manifest.json").read_text())
    assert manifest["models"]["model"]["num_outputs"] == CASES[name][3]
    code, out, err = run(["validate", "--export", tmp_path / "host", "--data", data, "--frames", "5",
                          "--json", tmp_path / "v.json"], capsys)
    assert code in (0, None), err
    v = json.loads((tmp_path / "v.json").read_text())
    assert v["bit_exact_frames"] == 5 and v["first_mismatch"] is None


@pytest.mark.qemu
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("target, tools", [("stm32", ("arm-none-eabi-gcc", "qemu-system-arm")),
                                           ("gap8", ("riscv64-unknown-elf-gcc", "qemu-system-riscv32"))])
def test_hil_run_on_qemu_from_the_cli(name, target, tools, tmp_path, capsys):
    if not all(have(t) for t in tools):
        pytest.skip(f"needs {' and '.join(tools)}")
    onnx_path = build_case(tmp_path, name)
    data, eaq = tmp_path / "data", tmp_path / "m.eaq"
    assert run(["dataset", "import", tmp_path / f"{name}.npz", "--out", data], capsys)[0] in (0, None)
    assert run(["quantize", onnx_path, "--calib", data, "--out", eaq, "--calib-frames", "16", "--iterations", "5"],
               capsys)[0] in (0, None)
    assert run(["export", "--target", target, "--model", eaq, "--out", tmp_path / target], capsys)[0] in (0, None)
    code, out, err = run(["hil", "run", "--target", target, "--emulator", "qemu", "--export", tmp_path / target,
                          "--data", data, "--frames", "3", "--out", tmp_path / "run", "--json", tmp_path / "s.json"],
                         capsys)
    assert code in (0, None), err
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["bit_exact_frames"] == 3 == summary["frames"]
