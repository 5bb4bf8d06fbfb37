"""`export --target tflite` and `validate --tflite`: our models in LiteRT, against the integer reference.

The tiny pair covers every op kind (fused conv + max pool, depthwise, pointwise, residual add,
concat, zero-padded average pool, global average pool, relu6, 8/4/2-bit weights, raw int32
outputs). The exact mode must match the reference on every output with both kernel sets; the
int8 mode's differences must be exactly TFLite's rounding rule where they start.
"""

import json

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from edgeadapt.cli import main  # noqa: E402
from edgeadapt.data import store  # noqa: E402
from edgeadapt.quant.artifact import save_eaq  # noqa: E402
from edgeadapt.quant.reference import output_fls, run_int  # noqa: E402
from edgeadapt.tflite.compare import compare_tflite, tflite_rounding  # noqa: E402
from edgeadapt.tflite.export import export_tflite  # noqa: E402
from edgeadapt.tflite.schema import schema, unpack  # noqa: E402
from test_codegen_support import frames, tiny_pair  # noqa: E402

N = 12


@pytest.fixture(scope="module")
def pair():
    return tiny_pair(big_bits="mixed", small_bits=4)


@pytest.fixture(scope="module")
def images():
    return frames(N, seed=21)


def run(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_int8_file_is_per_channel_int8_with_power_of_two_scales(pair):
    fb = schema()
    model = unpack(export_tflite(pair[0], "int8"))
    sub = model.subgraphs[0]
    for t in sub.tensors:
        t.name = t.name.decode() if isinstance(t.name, bytes) else t.name
    names = {oc.builtinCode for oc in model.operatorCodes}
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "BATCH_MATMUL", "MAX_POOL_2D", "ADD", "CONCATENATION"):
        assert getattr(fb.BuiltinOperator, op) in names, op
    raw_fc = pair[0].outputs[0]  # the raw int32 layer: BATCH_MATMUL of codes, one unit scale
    weights = [t for t in sub.tensors if t.name.endswith("/weights") and t.type == fb.TensorType.INT8
               and not t.name.startswith(raw_fc)]
    assert weights and all(len(t.quantization.scale) == t.shape[t.quantization.quantizedDimension] for t in weights)
    for t in sub.tensors:
        if t.quantization is not None and t.quantization.scale is not None and t.type == fb.TensorType.INT8 \
                and not t.name.endswith("/weights"):
            assert np.all(np.log2(t.quantization.scale) == np.round(np.log2(t.quantization.scale))), t.name
            assert set(t.quantization.zeroPoint) <= {0, -128}
    biases = [t for t in sub.tensors if t.name.endswith("/bias") and t.type == fb.TensorType.INT32]
    assert biases


@pytest.mark.parametrize("which", [0, 1])
def test_exact_mode_matches_the_reference_on_every_output(pair, images, which):
    graph = pair[which]
    result = compare_tflite(graph, export_tflite(graph, "exact"), images)
    for kernels in ("ref", "default"):
        entry = result["kernels"][kernels]
        assert entry["exact_frames"] == N and entry["max_abs_diff_lsb"] == 0, kernels


def test_int8_mode_differs_only_by_the_rounding_rule(pair, images):
    result = compare_tflite(pair[0], export_tflite(pair[0], "int8"), images, ["ref"])
    entry = result["kernels"]["ref"]
    own = [r for r in entry["layers"] if r["own_differing"]]
    assert own, "int8 differences must start somewhere"
    assert sum(r["own_explained"] for r in own) == sum(r["own_differing"] for r in own)
    assert own[0]["max_diff"] == 1


def test_tflite_rounding_rule_against_its_integer_definition():
    acc = np.arange(-5000, 5000)
    for k in (1, 3, 7):
        y = [(a + 1) >> 1 for a in acc]  # half up of acc / 2
        e = k - 1
        want = [(v >> e) + ((v & ((1 << e) - 1)) > (((1 << e) - 1) >> 1) + (v < 0)) for v in y]
        assert tflite_rounding(acc, k).tolist() == want
    ours = (acc + 4) >> 3
    assert np.mean(tflite_rounding(acc, 3) != ours) == pytest.approx(1 / 8, abs=0.01)


def pose_folder(path, images):
    n = len(images)
    store.write_split(path / "test.npz", {"images": images, "labels": np.zeros((n, 4), np.float32),
                                          "sequence": np.zeros(n, np.int32), "subject": np.zeros(n, np.int32)})
    store.write_meta(path, {"format": store.FORMAT_NAME, "format_version": store.FORMAT_VERSION, "size": "80x48"})
    return path


def test_cli_export_then_validate(pair, images, tmp_path, capsys):
    eaq = save_eaq(pair[1], tmp_path / "small.eaq")
    data = pose_folder(tmp_path / "data", images)
    out = tmp_path / "small.tflite"
    code, stdout, err = run(["export", "--target", "tflite", "--model", str(eaq), "--out", str(out),
                             "--tflite-mode", "exact"], capsys)
    assert code == 0, err
    assert out.read_bytes()[4:8] == b"TFL3" and "exact" in stdout
    code, stdout, err = run(["validate", "--tflite", str(out), "--model", str(eaq), "--data", str(data),
                             "--frames", str(N), "--json", str(tmp_path / "v.json")], capsys)
    assert code == 0, err
    v = json.loads((tmp_path / "v.json").read_text())
    assert v["kernels"]["ref"]["exact_frames"] == v["kernels"]["default"]["exact_frames"] == N
    ours = run_int(pair[1], images)
    assert v["outputs"] == ours.shape[1] == len(output_fls(pair[1]))


def test_bad_tflite_inputs_are_one_line_errors(pair, images, tmp_path, capsys):
    eaq = save_eaq(pair[1], tmp_path / "small.eaq")
    data = pose_folder(tmp_path / "data", images)
    good = export_tflite(pair[1], "int8")
    (tmp_path / "cut.tflite").write_bytes(good[: len(good) // 3])
    (tmp_path / "text.tflite").write_bytes(b"hello, not a model")
    for name, why in (("cut.tflite", "truncated"), ("text.tflite", "not a TFLite flatbuffer")):
        code, _, err = run(["validate", "--tflite", str(tmp_path / name), "--model", str(eaq), "--data",
                            str(data), "--frames", "2"], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and why in err, err
    code, _, err = run(["export", "--target", "tflite", "--big", str(eaq), "--small", str(eaq)], capsys)
    assert code == 2 and "give --model" in err
