"""`edgeadapt export`: the bundle on disk, its JSON, the default folder, and failures that keep it."""

import copy
import hashlib
import json

import pytest

from edgeadapt.cli import main
from edgeadapt.quant.artifact import save_eaq
from test_codegen_support import tiny_pair

BUNDLE = {"ea_models.h", "ea_models.c", "ea_arena.c", "ea_model_big.c", "ea_model_small.c", "ea_policy_default.c",
          "manifest.json", "big.eaq", "small.eaq"}


@pytest.fixture(scope="module")
def eaqs(tmp_path_factory):
    root = tmp_path_factory.mktemp("eaq")
    big, small = tiny_pair(big_bits=8, small_bits=8)
    return {"big": save_eaq(big, root / "big.eaq"), "small": save_eaq(small, root / "small.eaq"), "graphs": (big, small)}


def run(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_export_writes_the_bundle_and_the_json(eaqs, tmp_path, capsys):
    out = tmp_path / "bundle"
    code, stdout, _ = run(["export", "--target", "stm32", "--big", str(eaqs["big"]), "--small", str(eaqs["small"]),
                           "--out", str(out), "--json", str(tmp_path / "e.json")], capsys)
    assert code == 0
    assert {p.name for p in out.iterdir()} == BUNDLE
    manifest = json.loads((out / "manifest.json").read_text())
    summary = json.loads((tmp_path / "e.json").read_text())
    assert manifest["target"] == summary["target"] == "stm32f405"
    for key in ("arena_bytes", "flash_bytes", "ram_bytes", "memories"):
        assert summary[key] == manifest[key]
    assert summary["models"]["big"]["arena_bytes"] == manifest["models"]["big"]["arena_bytes"]
    assert f"{manifest['arena_bytes']}" in stdout and "sram" in stdout and "flash" in stdout
    for role in ("big", "small"):
        copy_hash = hashlib.sha256((out / f"{role}.eaq").read_bytes()).hexdigest()
        assert manifest["models"][role]["source"]["sha256"] == copy_hash
        assert copy_hash == hashlib.sha256(eaqs[role].read_bytes()).hexdigest()
    assert manifest["ram_bytes"] == manifest["arena_bytes"] == max(m["arena_bytes"] for m in manifest["models"].values())
    assert manifest["memories"]["sram"]["used"] == manifest["memories"]["sram"]["reserved"] + manifest["arena_bytes"]


def test_default_out_folder_and_baked_policy(eaqs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"policy": "temporal", "weights": [1, 1, 1, 1], "threshold": 0.5, "k": 2}))
    code, _, err = run(["export", "--target", "gap8", "--big", str(eaqs["big"]), "--small", str(eaqs["small"]),
                        "--policy", str(policy)], capsys)
    assert code == 0, err
    source = (tmp_path / "export" / "gap8" / "ea_policy_default.c").read_text()
    assert ".kind = EA_POLICY_TEMPORAL" in source and ".k = 2u" in source
    assert json.loads((tmp_path / "export" / "gap8" / "manifest.json").read_text())["policy"]["policy"] == "temporal"


def test_a_failed_export_leaves_the_previous_bundle_untouched(eaqs, tmp_path, capsys):
    out = tmp_path / "bundle"
    args = ["export", "--target", "host", "--big", str(eaqs["big"]), "--small", str(eaqs["small"]), "--out", str(out)]
    assert run(args, capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = copy.deepcopy(eaqs["graphs"][0])
    bad.node("add").op = "softmax"
    bad_path = save_eaq(bad, tmp_path / "bad.eaq")
    code, _, err = run(["export", "--target", "host", "--big", str(bad_path), "--small", str(eaqs["small"]),
                        "--out", str(out)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "node 'add'" in lines[0] and "softmax" in lines[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_unknown_target_is_a_one_line_error(eaqs, tmp_path, capsys):
    code, _, err = run(["export", "--target", "esp32", "--big", str(eaqs["big"]), "--small", str(eaqs["small"]),
                        "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "unknown target 'esp32'" in err and "stm32 (= stm32f405)" in err
    assert not (tmp_path / "x").exists()


def test_memory_table_says_reserved_for_a_memory_no_model_uses():
    from edgeadapt.commands.export import memory_table

    manifest = {"memories": {
        "ccm": {"size": 65536, "reserved": 65536, "placed": 0, "used": 65536, "free": 0},
        "sram": {"size": 131072, "reserved": 4096, "placed": 61440, "used": 65536, "free": 65536},
    }}
    _, rows = memory_table(manifest)
    assert rows[0][-1] == "reserved" and rows[1][-1] == "50.0"
