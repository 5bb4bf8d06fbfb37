"""The .eaq artifact: round trip, and every way a damaged or foreign file is refused."""

import json
import zipfile

import numpy as np
import pytest

from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.graph import Graph, Node, Tensor
from edgeadapt.quant.artifact import check_bounds, load_eaq, save_eaq
from edgeadapt.quant.reference import run_int

RNG = np.random.default_rng(5)


def tiny_graph(bits=4, unsigned=False):
    """conv (4-bit, per-channel FL) + maxpool + flatten + raw int32 fc on 8x10 frames; with
    `unsigned` the ReLU conv's output and the tensors derived from it are uint8 (version 2)."""
    lo, hi = {8: (-128, 127), 4: (-8, 7), 2: (-2, 1)}[bits]
    tensors = {
        "input": Tensor("input", (8, 10, 1), 8),
        "conv": Tensor("conv", (8, 10, 3), 5),
        "pool": Tensor("pool", (4, 5, 3), 5),
        "flat": Tensor("flat", (1, 1, 60), 5),
        "fc": Tensor("fc", (1, 1, 4), None, "int32"),
    }
    conv = Node("conv", "conv", ["input"], "conv",
                {"kernel": (3, 3), "stride": (1, 1), "pads": (1, 1, 1, 1), "groups": 1, "act": "relu"},
                weight=RNG.normal(0, 0.3, (3, 3, 3, 1)).astype(np.float32),
                bias=RNG.normal(0, 0.1, 3).astype(np.float32), weight_bits=bits)
    conv.qweight = RNG.integers(lo, hi + 1, (3, 3, 3, 1)).astype(np.int8)
    conv.weight_fl = np.array([4, 5, 6], dtype=np.int32)
    conv.qbias = RNG.integers(-3000, 3000, 3).astype(np.int32)
    pool = Node("pool", "maxpool", ["conv"], "pool", {"kernel": (2, 2), "stride": (2, 2), "pads": (0, 0, 0, 0)})
    flat = Node("flat", "flatten", ["pool"], "flat", {})
    fc = Node("fc", "fc", ["flat"], "fc", {"act": "none", "out_dtype": "int32"},
              weight=RNG.normal(0, 0.1, (4, 60)).astype(np.float32), bias=np.zeros(4, np.float32))
    fc.qweight = RNG.integers(-128, 128, (4, 60)).astype(np.int8)
    fc.weight_fl = np.array([7, 8, 9, 10], dtype=np.int32)
    fc.qbias = RNG.integers(-1000, 1000, 4).astype(np.int32)
    tensors["fc"].fl = (5 + fc.weight_fl).tolist()
    if unsigned:
        for name in ("conv", "pool", "flat"):
            tensors[name].dtype = "uint8"
    return Graph("tiny", "input", ["fc"], tensors, [conv, pool, flat, fc], {"source": "test", "bits": {"conv": bits}})


@pytest.fixture
def saved(tmp_path):
    graph = tiny_graph()
    path = save_eaq(graph, tmp_path / "m.eaq", report={"mae": [0.1, 0.2]})
    return graph, path


@pytest.fixture
def saved_unsigned(tmp_path):
    graph = tiny_graph(unsigned=True)
    path = save_eaq(graph, tmp_path / "u.eaq", report={"mae": [0.1, 0.2]})
    return graph, path


@pytest.mark.parametrize("which", ["saved", "saved_unsigned"])
def test_round_trip_is_exact(which, request):
    graph, path = request.getfixturevalue(which)
    loaded = load_eaq(path)
    assert loaded.name == "tiny" and loaded.outputs == ["fc"]
    assert loaded.meta["report"] == {"mae": [0.1, 0.2]} and loaded.meta["source"] == "test"
    for a, b in zip(graph.nodes, loaded.nodes):
        assert (a.name, a.op, a.inputs, a.output, a.attrs, a.weight_bits) == (
            b.name, b.op, b.inputs, b.output, b.attrs, b.weight_bits)
        for field in ("weight", "bias", "qweight", "weight_fl", "qbias"):
            va, vb = getattr(a, field), getattr(b, field)
            assert (va is None and vb is None) or (np.array_equal(va, vb) and vb.dtype == np.asarray(va).dtype)
    for name, t in graph.tensors.items():
        u = loaded.tensors[name]
        assert (t.shape, t.fl, t.dtype) == (u.shape, u.fl, u.dtype)
    frames = RNG.integers(0, 256, (5, 8, 10), dtype=np.uint8)
    assert np.array_equal(run_int(graph, frames), run_int(loaded, frames))
    _, dump = run_int(loaded, frames, dump=True)
    want = np.uint8 if which == "saved_unsigned" else np.int8
    assert dump["conv"].dtype == dump["pool"].dtype == dump["flat"].dtype == want
    assert dump["input"].dtype == np.int8


def test_uint8_tensors_hold_the_relu_range(saved_unsigned):
    """Same integer weights: the uint8 conv output equals the int8 one where that one is below
    127, and keeps the codes 128..255 the int8 output saturates at 127."""
    import copy

    graph, _ = saved_unsigned
    graph.nodes[0].qbias[0] = 25000  # channel 0 near 25000 / 2^7 = 195 codes (shift 8 + 4 - 5)
    signed_graph = copy.deepcopy(graph)
    for t in signed_graph.tensors.values():
        t.dtype = "int32" if t.dtype == "int32" else "int8"
    frames = RNG.integers(0, 256, (20, 8, 10), dtype=np.uint8)
    _, unsigned = run_int(graph, frames, dump=True)
    _, signed = run_int(signed_graph, frames, dump=True)
    u, s = unsigned["conv"].astype(np.int64), signed["conv"].astype(np.int64)
    assert np.array_equal(np.minimum(u, 127), s)
    assert u.max() > 127


def test_graph_json_is_self_describing(saved):
    _, path = saved
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("graph.json"))
        assert zf.comment == b"edgeadapt-eaq 2"
        assert "arrays/conv.qweight.npy" in zf.namelist()
    assert doc["format"] == "edgeadapt-eaq" and doc["version"] == 2
    assert doc["layout"]["conv_weight"] == "OHWI"
    conv = doc["formats"][0]
    assert conv == {"node": "conv", "op": "conv", "fl_in": [8], "fl_out": 5, "dtype_out": "int8", "weight_bits": 4,
                    "weight_fl": [4, 5, 6]}
    assert [t["dtype"] for t in doc["tensors"]] == ["int8", "int8", "int8", "int8", "int32"]


def test_truncated_file(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 2):
        bad = tmp_path / f"cut{cut}.eaq"
        bad.write_bytes(data[:cut])
        with pytest.raises(EdgeadaptError, match=rf"cut{cut}\.eaq: truncated"):
            load_eaq(bad)


def test_corrupt_member_crc(saved, tmp_path):
    _, path = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("arrays/fc.qweight.npy")
    # flip a byte inside the member's (compressed) payload, after its local header
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    bad = tmp_path / "flip.eaq"
    bad.write_bytes(bytes(data))
    with pytest.raises(EdgeadaptError, match=r"flip\.eaq: corrupt") as err:
        load_eaq(bad)
    assert "\n" not in str(err.value)


def test_wrong_magic_and_foreign_zip(tmp_path):
    onnx_like = tmp_path / "model.onnx"
    onnx_like.write_bytes(b"\x08\x07\x12\x04test" * 20)
    with pytest.raises(EdgeadaptError, match="not an .eaq file"):
        load_eaq(onnx_like)
    other = tmp_path / "other.eaq"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("graph.json", json.dumps({"format": "something-else", "version": 1}))
    with pytest.raises(EdgeadaptError, match="format 'something-else'"):
        load_eaq(other)
    with pytest.raises(EdgeadaptError, match="no such"):
        load_eaq(tmp_path / "nothing.eaq")


def rewrite_doc(path, out, change):
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "graph.json":
                doc = json.loads(data)
                change(doc)
                data = json.dumps(doc)
            dst.writestr(item, data)


def test_newer_version_is_refused(saved, tmp_path):
    _, path = saved
    newer = tmp_path / "newer.eaq"
    rewrite_doc(path, newer, lambda d: d.update(version=3))
    with pytest.raises(EdgeadaptError, match=r"newer\.eaq: .eaq format version 3 is newer"):
        load_eaq(newer)


def test_version_1_files_still_load(saved, tmp_path):
    """Version 1 had int8 and int32 tensors only, which mean the same in version 2."""
    graph, path = saved
    old = tmp_path / "v1.eaq"
    rewrite_doc(path, old, lambda d: d.update(version=1))
    loaded = load_eaq(old)
    assert [t.dtype for t in loaded.tensors.values()] == ["int8", "int8", "int8", "int8", "int32"]
    frames = RNG.integers(0, 256, (5, 8, 10), dtype=np.uint8)
    assert np.array_equal(run_int(graph, frames), run_int(loaded, frames))


def test_uint8_in_a_version_1_file_is_refused(saved_unsigned, tmp_path):
    _, path = saved_unsigned
    old = tmp_path / "v1u.eaq"
    rewrite_doc(path, old, lambda d: d.update(version=1))
    with pytest.raises(EdgeadaptError, match=r"v1u\.eaq: tensor 'conv' has dtype 'uint8', not allowed in .eaq version 1") as err:
        load_eaq(old)
    assert "\n" not in str(err.value)
    odd = tmp_path / "int16.eaq"
    rewrite_doc(path, odd, lambda d: d["tensors"][1].update(dtype="int16"))
    with pytest.raises(EdgeadaptError, match=r"int16\.eaq: tensor 'conv' has dtype 'int16'"):
        load_eaq(odd)


def test_load_checks_bits_and_ranges(saved, tmp_path):
    _, path = saved
    odd = tmp_path / "bits3.eaq"
    rewrite_doc(path, odd, lambda d: d["nodes"][0].update(weight_bits=3))
    with pytest.raises(EdgeadaptError, match="node 'conv': weight bits 3"):
        load_eaq(odd)
    narrow = tmp_path / "bits2.eaq"
    rewrite_doc(path, narrow, lambda d: d["nodes"][0].update(weight_bits=2))  # 4-bit values in a 2-bit layer
    with pytest.raises(EdgeadaptError, match=r"node 'conv': weights -?\d+\.\.\d+ outside the 2-bit range"):
        load_eaq(narrow)


def test_check_bounds_accumulator_and_shifts():
    graph = tiny_graph(bits=8)
    worst = check_bounds(graph)
    fc = graph.nodes[3]
    expect = np.abs(fc.qbias.astype(np.int64)) + 128 * np.abs(fc.qweight.astype(np.int64)).sum(axis=1)
    assert worst["fc"] == expect.max()
    fc.qbias[2] = (1 << 30) - 128 * int(np.abs(fc.qweight[2].astype(np.int64)).sum())
    with pytest.raises(EdgeadaptError, match="node 'fc': channel 2: .* breaks the accumulator bound"):
        check_bounds(graph)
    graph = tiny_graph()
    graph.tensors["conv"].fl = -20  # shift 8 + 6 + 20 = 34
    graph.tensors["pool"].fl = -20
    graph.tensors["flat"].fl = -20
    with pytest.raises(EdgeadaptError, match=r"node 'conv': requantization shift 32\.\.34"):
        check_bounds(graph)
    graph = tiny_graph()
    graph.nodes[3].attrs["act"] = "relu"
    with pytest.raises(EdgeadaptError, match="node 'fc': a raw int32 output cannot have the activation 'relu'"):
        check_bounds(graph)
    graph = tiny_graph()
    graph.tensors["pool"].fl = 4
    with pytest.raises(EdgeadaptError, match=r"node 'pool': maxpool changes the format"):
        check_bounds(graph)


def test_check_bounds_activation_types():
    graph = tiny_graph(bits=8, unsigned=True)
    fc = graph.nodes[3]
    worst = check_bounds(graph)  # a uint8 input: |x| <= 255 in the bound
    expect = np.abs(fc.qbias.astype(np.int64)) + 255 * np.abs(fc.qweight.astype(np.int64)).sum(axis=1)
    assert worst["fc"] == expect.max()
    fc.qbias[1] = (1 << 30) - 255 * int(np.abs(fc.qweight[1].astype(np.int64)).sum())
    with pytest.raises(EdgeadaptError, match=r"node 'fc': channel 1: \|bias\| \+ 255 \* sum\|w\| = \d+ breaks"):
        check_bounds(graph)
    check_bounds(tiny_graph(bits=8))  # the same bias is fine for an int8 input (X = 128)
    graph = tiny_graph(unsigned=True)
    graph.tensors["pool"].dtype = "int8"
    with pytest.raises(EdgeadaptError, match=r"node 'pool': maxpool changes the type uint8 -> int8"):
        check_bounds(graph)
    graph = tiny_graph(unsigned=True)
    graph.tensors["flat"].dtype = "int8"
    with pytest.raises(EdgeadaptError, match=r"node 'flat': flatten changes the type uint8 -> int8"):
        check_bounds(graph)
    graph = tiny_graph()
    graph.tensors["input"].dtype = "uint8"
    with pytest.raises(EdgeadaptError, match=r"input tensor 'input' must be int8"):
        check_bounds(graph)


def test_save_refuses_invalid_graph_and_keeps_old_file(saved):
    graph, path = saved
    before = path.read_bytes()
    graph.nodes[0].qweight[0, 0, 0, 0] = 9  # outside 4 bits
    with pytest.raises(EdgeadaptError, match="outside the 4-bit range"):
        save_eaq(graph, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["m.eaq"]  # no temp file left behind


def test_same_graph_gives_byte_identical_files(tmp_path):
    import time

    graph = tiny_graph()
    first = save_eaq(graph, tmp_path / "a.eaq")
    time.sleep(2.1)  # zip timestamps have a 2 s resolution
    second = save_eaq(graph, tmp_path / "b.eaq")
    assert first.read_bytes() == second.read_bytes()
