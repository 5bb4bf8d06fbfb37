"""`edgeadapt import m.tflite`: a TFLite-converter int8 model (tests/fixtures/tflite/, made by the
script beside it) -> our IR -> power-of-two .eaq, scored against LiteRT; then deployed alone on
QEMU, bit-exact. Bad files are one-line errors."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from edgeadapt.cli import main  # noqa: E402
from edgeadapt.data.general import write_dataset  # noqa: E402
from edgeadapt.tflite.importer import import_tflite  # noqa: E402
from edgeadapt.tflite.schema import pack, schema, unpack  # noqa: E402
from test_codegen_support import have  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tflite"
FIXTURE = FIXTURES / "converter_int8.tflite"
sys.path.insert(0, str(FIXTURES))
from quadrants import CLASSES, quadrant_frames  # noqa: E402


def run(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("quad") / "data"
    splits = {name: quadrant_frames(n, seed) for name, n, seed in (("train", 300, 2), ("val", 60, 3), ("test", 200, 4))}
    write_dataset(root, {k: (v[0], v[1], None) for k, v in splits.items()}, "classification",
                  classes=[f"q{i}" for i in range(CLASSES)])
    return root


def test_the_fixture_is_small_and_reads_as_our_ir():
    assert FIXTURE.stat().st_size < 100_000
    g = import_tflite(FIXTURE)
    ops = [n.op for n in g.nodes]
    assert ops == ["conv", "conv", "conv", "add", "maxpool", "avgpool", "conv", "concat", "gap", "fc"]
    assert [n.attrs["act"] for n in g.nodes if n.op == "conv"] == ["relu", "relu", "none", "relu6"]
    assert g.nodes[1].attrs["groups"] == 8 and g.nodes[6].attrs["pads"] == (0, 0, 1, 1)
    assert g.meta["input_norm"] == {"scale": [1 / 128], "offset": [-1.0]}  # x = (p - 128) / 128
    assert g.tensors[g.outputs[0]].shape == (1, 1, CLASSES)


def test_import_scores_against_litert_then_runs_bit_exact_on_qemu(data, tmp_path, capsys):
    eaq = tmp_path / "quad.eaq"
    code, stdout, err = run(["import", str(FIXTURE), "--calib", str(data), "--out", str(eaq),
                             "--json", str(tmp_path / "i.json")], capsys)
    assert code == 0, err
    r = json.loads((tmp_path / "i.json").read_text())
    litert, ours = r["metrics"]["litert"]["top1"], r["metrics"]["edgeadapt"]["top1"]
    assert litert > 0.9, "the fixture classifies its frames"
    assert r["change_vs_litert"] == pytest.approx(ours - litert)
    assert abs(r["change_vs_litert"]) <= 0.02
    assert r["metrics"]["edgeadapt"]["fidelity"]["top1_agreement"] >= 0.97
    assert "LiteRT, original int8" in stdout

    if not (have("arm-none-eabi-gcc") and have("qemu-system-arm")):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm for the QEMU half")
    export_dir = tmp_path / "stm32"
    assert run(["export", "--target", "stm32", "--model", str(eaq), "--out", str(export_dir)], capsys)[0] == 0
    code, _, err = run(["hil", "run", "--target", "stm32", "--emulator", "qemu", "--export", str(export_dir),
                        "--data", str(data), "--frames", "8", "--out", str(tmp_path / "run"),
                        "--json", str(tmp_path / "s.json")], capsys)
    assert code == 0, err
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["frames"] == s["bit_exact_frames"] == 8 and s["task"] == "classification"


def _with_op(model_bytes, index, builtin_name):
    fb = schema()
    m = unpack(model_bytes)
    code = getattr(fb.BuiltinOperator, builtin_name)
    oc = fb.OperatorCodeT()
    oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
    m.operatorCodes.append(oc)
    m.subgraphs[0].operators[index].opcodeIndex = len(m.operatorCodes) - 1
    m.subgraphs[0].operators[index].builtinOptionsType = 0
    m.subgraphs[0].operators[index].builtinOptions = None
    return pack(m)


def test_bad_tflite_files_are_one_line_errors(data, tmp_path, capsys):
    good = FIXTURE.read_bytes()
    (tmp_path / "cut.tflite").write_bytes(good[: len(good) // 2])
    (tmp_path / "tanh.tflite").write_bytes(_with_op(good, 4, "TANH"))
    from edgeadapt.tflite.export import export_tflite
    from test_codegen_support import tiny_pair

    (tmp_path / "float.tflite").write_bytes(export_tflite(tiny_pair()[1], "exact"))
    cases = {"cut.tflite": "truncated", "tanh.tflite": "unsupported TFLite ops: TANH (1x)", "float.tflite": "float model ("}
    for name, why in cases.items():
        out = tmp_path / f"{name}.eaq"
        code, _, err = run(["import", str(tmp_path / name), "--calib", str(data), "--out", str(out)], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and why in err, (name, err)
        assert not out.exists()
    assert np.frombuffer(good[4:8], np.uint8).tobytes() == b"TFL3"
