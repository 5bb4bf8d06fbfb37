"""A small fuzz of the command line: wrong shapes, channels, sizes and broken files must each give
one line on stderr naming the problem and exit code 2, never a traceback or an internal error.

Every case runs in-process through edgeadapt.cli.main, so the whole table takes seconds."""

import json
import shutil
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from test_harness_support import tiny_export, write_dataset


class RGBNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, 2, 1)
        self.fc = nn.Linear(4 * 24 * 40, 4)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Good artifacts (a tiny 80x48 pair, its export, an 80x48 data folder) and broken ones."""
    root = tmp_path_factory.mktemp("fuzz")
    w = {"root": root}
    w["export"] = tiny_export("host", root)
    w["big"], w["small"] = w["export"] / "big.eaq", w["export"] / "small.eaq"
    w["data"] = write_dataset(root / "data", n_test=12, sequences=2)
    # a data folder of another frame size (160x96) and one of RGB frames
    from edgeadapt.data import store

    big_frames = root / "data-160x96"
    arrays = {"images": np.zeros((6, 96, 160), np.uint8), "labels": np.zeros((6, 4), np.float32),
              "sequence": np.zeros(6, np.int32), "subject": np.zeros(6, np.int32)}
    for split in store.SPLITS:
        store.write_split(big_frames / f"{split}.npz", arrays)
    store.write_meta(big_frames, {"format": store.FORMAT_NAME, "format_version": store.FORMAT_VERSION,
                                  "size": "160x96", "width": 160, "height": 96, "frames": 18,
                                  "label_mean_train": [0.0, 0.0, 0.0, 0.0]})
    w["data160"] = big_frames
    # broken files
    (root / "garbage.onnx").write_bytes(b"\x00not an onnx model\xff" * 10)
    (root / "garbage.pt").write_text("not a checkpoint")
    (root / "garbage.eaq").write_bytes(b"PK\x03\x04 truncated")
    (root / "empty.eaq").write_bytes(b"")
    (root / "notjson.json").write_text("{ nope")
    (root / "empty-dir").mkdir()
    bad_meta = root / "bad-meta"
    shutil.copytree(w["data"], bad_meta)
    (bad_meta / "meta.json").write_text("{ broken")
    truncated = root / "truncated"
    shutil.copytree(w["data"], truncated)
    (truncated / "test.npz").write_bytes((w["data"] / "test.npz").read_bytes()[:100])
    bad_manifest = root / "bad-manifest"
    shutil.copytree(w["export"], bad_manifest)
    (bad_manifest / "manifest.json").write_text("[1, 2")
    # an RGB model (ONNX, batch 1 as torch exports it by default)
    torch.manual_seed(0)
    rgb = root / "rgb.onnx"
    torch.onnx.export(RGBNet().eval(), torch.zeros(1, 3, 48, 80), str(rgb), dynamo=False)
    w["rgb"] = rgb
    # a zip that is an .eaq in name only
    with zipfile.ZipFile(root / "wrong.eaq", "w") as z:
        z.writestr("hello.txt", "not a model")
    return w


CASES = [
    ("eval-garbage-onnx", ["eval", "--model", "{root}/garbage.onnx", "--data", "{data}"], "garbage.onnx"),
    ("eval-garbage-pt", ["eval", "--model", "{root}/garbage.pt", "--data", "{data}"], "garbage.pt"),
    ("eval-garbage-eaq", ["eval", "--model", "{root}/garbage.eaq", "--data", "{data}"], "garbage.eaq"),
    ("eval-empty-eaq", ["eval", "--model", "{root}/empty.eaq", "--data", "{data}"], "empty.eaq"),
    ("eval-wrong-zip-eaq", ["eval", "--model", "{root}/wrong.eaq", "--data", "{data}"], "wrong.eaq"),
    ("eval-size-mismatch", ["eval", "--model", "{big}", "--data", "{data160}"], "(96, 160"),
    ("eval-rgb-on-grey", ["eval", "--model", "{rgb}", "--data", "{data}"], "channel"),
    ("eval-data-empty-dir", ["eval", "--model", "{big}", "--data", "{root}/empty-dir"], "empty-dir"),
    ("eval-data-is-a-file", ["eval", "--model", "{big}", "--data", "{root}/garbage.pt"], "garbage.pt"),
    ("eval-bad-meta", ["eval", "--model", "{big}", "--data", "{root}/bad-meta"], "meta.json"),
    ("eval-truncated-split", ["eval", "--model", "{big}", "--data", "{root}/truncated"], "test.npz"),
    ("quantize-garbage", ["quantize", "{root}/garbage.onnx", "--calib", "{data}", "--out", "{root}/q.eaq"],
     "garbage.onnx"),
    ("quantize-size-mismatch", ["quantize", "{big}", "--calib", "{data160}", "--out", "{root}/q.eaq"], ""),
    ("quantize-rgb-on-grey", ["quantize", "{rgb}", "--calib", "{data}", "--out", "{root}/q.eaq"], "channel"),
    ("quantize-bad-budget", ["quantize", "{rgb}", "--calib", "{data}", "--out", "{root}/q.eaq", "--weight-bits",
                             "auto", "--flash-budget", "lots"], "lots"),
    ("quantize-latency-no-target", ["quantize", "{rgb}", "--calib", "{data}", "--out", "{root}/q.eaq",
                                    "--weight-bits", "auto", "--flash-budget", "50%", "--latency-budget", "1M"],
     "--target"),
    ("export-garbage-big", ["export", "--target", "host", "--big", "{root}/garbage.eaq", "--small", "{small}",
                            "--out", "{root}/x"], "garbage.eaq"),
    ("export-missing-small", ["export", "--target", "host", "--big", "{big}", "--small", "{root}/nothing.eaq",
                              "--out", "{root}/x"], "nothing.eaq"),
    ("export-bad-policy", ["export", "--target", "host", "--big", "{big}", "--small", "{small}", "--policy",
                           "{root}/notjson.json", "--out", "{root}/x"], "notjson.json"),
    ("validate-empty-export", ["validate", "--export", "{root}/empty-dir", "--data", "{data}"], "manifest"),
    ("validate-bad-manifest", ["validate", "--export", "{root}/bad-manifest", "--data", "{data}"], "manifest.json"),
    ("validate-size-mismatch", ["validate", "--export", "{export}", "--data", "{data160}", "--frames", "2"], ""),
    ("sweep-garbage-small", ["policy", "sweep", "--big", "{big}", "--small", "{root}/garbage.eaq", "--data",
                             "{data}", "--out", "{root}/p.json"], "garbage.eaq"),
    ("sweep-size-mismatch", ["policy", "sweep", "--big", "{big}", "--small", "{small}", "--data", "{data160}",
                             "--out", "{root}/p.json"], ""),
    ("predict-bad-policy", ["policy", "predict", "--policy", "{root}/notjson.json", "--big", "{big}", "--small",
                            "{small}", "--data", "{data}"], "notjson.json"),
    ("hil-no-export", ["hil", "run", "--target", "host", "--emulator", "host", "--export", "{root}/empty-dir",
                       "--data", "{data}", "--out", "{root}/run"], "manifest"),
    ("hil-size-mismatch", ["hil", "run", "--target", "host", "--emulator", "host", "--export", "{export}",
                           "--data", "{data160}", "--frames", "2", "--out", "{root}/run2"], ""),
    ("hil-report-not-a-run", ["hil", "report", "--run", "{root}/empty-dir"], "results.jsonl"),
    ("profile-no-export", ["profile", "--export", "{root}/empty-dir", "--target", "host", "--emulator", "host"],
     "manifest"),
    ("profile-wrong-target", ["profile", "--export", "{export}", "--target", "stm32", "--emulator", "qemu"],
     "exported for target 'host'"),
    ("profile-no-link", ["profile", "--export", "{export}", "--target", "host"], "--port"),
    ("dataset-info-file", ["dataset", "info", "--data", "{root}/garbage.pt"], "garbage.pt"),
    ("json-into-a-folder", ["models", "--json", "{root}/empty-dir"], "empty-dir"),
]


@pytest.mark.parametrize("name, args, names", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_exit_2(world, name, args, names, capsys):
    from edgeadapt.cli import main

    argv = [a.format(**{k: str(v) for k, v in world.items()}) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert exit_info.value.code == 2, f"{name}: exit {exit_info.value.code}: {err[-1500:]}"
    assert "Traceback" not in err and "internal error" not in err, err[-1500:]
    assert len(lines) == 1 and lines[0].startswith("edgeadapt: error:"), err
    assert names.lower() in lines[0].lower(), lines[0]


def test_the_issue_cases_now_run(world, capsys):
    """A batch-1 ONNX file (torch's default export) evaluates; a folder quantize accepts (one without
    label_mean_train in meta.json) is accepted by eval of the .eaq it wrote."""
    from edgeadapt.cli import main
    from test_harness_support import TinyBigPose

    root = world["root"]
    torch.manual_seed(0)
    onnx_path = root / "batch1.onnx"
    torch.onnx.export(TinyBigPose().eval(), torch.zeros(1, 1, 48, 80), str(onnx_path), dynamo=False)
    meta = json.loads((world["data"] / "meta.json").read_text())
    assert "label_mean_train" not in meta
    for argv in (["eval", "--model", str(onnx_path), "--data", str(world["data"]), "--json", str(root / "e1.json")],
                 ["quantize", str(onnx_path), "--calib", str(world["data"]), "--out", str(root / "b1.eaq"),
                  "--iterations", "2", "--calib-frames", "8"],
                 ["eval", "--model", str(root / "b1.eaq"), "--data", str(world["data"]), "--json",
                  str(root / "e2.json")]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0, capsys.readouterr().err[-1500:]
    first, quantized = (json.loads((root / f"e{i}.json").read_text()) for i in (1, 2))
    assert first["frames"] == quantized["frames"] == 12
    assert np.isfinite(first["mae"]["sum"]) and np.isfinite(quantized["mae"]["sum"])
