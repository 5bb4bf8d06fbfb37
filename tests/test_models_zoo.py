"""The shipped pair: loadable, within the deployment budgets, and as accurate as recorded."""

import pytest

import edgeadapt.models as models
from edgeadapt.data import ensure_synth
from edgeadapt.evaluate import evaluate
from edgeadapt.models.checkpoint import ZOO_DIR
from edgeadapt.models.zoo import describe, read_manifest

KIB = 1024


@pytest.fixture(scope="module")
def pair():
    return {key: models.load_checkpoint(f"zoo:{key}") for key in ("big", "small")}


def test_zoo_files_are_small_and_load(pair):
    for key, (model, info) in pair.items():
        assert (ZOO_DIR / f"{key}.pt").stat().st_size < 2 * KIB * KIB
        assert info["outputs"] in (4, 5, 6) and info["input"] == (96, 160)


def test_pair_fits_the_deployment_budgets(pair):
    big, small = describe("big"), describe("small")  # cost figures of the checkpoints as shipped
    assert big["weight_bytes"] + small["weight_bytes"] <= 400 * KIB  # int8 weights of both models
    assert max(big["max_layer_bytes"], small["max_layer_bytes"]) <= 96 * KIB
    assert 2 * small["macs"] <= big["macs"]
    fc_inputs = pair["small"][0].fc.in_features  # each aux row adds one fc output
    assert small["macs"] == models.info(small["model"])["macs"] + fc_inputs * (small["outputs"] - 4)


def test_manifest_is_derived_from_the_checkpoints():
    manifest = read_manifest()
    for key in ("big", "small"):
        assert manifest["models"][key] == _jsonish(describe(key))
    assert manifest["pair"]["weight_bytes"] == describe("big")["weight_bytes"] + describe("small")["weight_bytes"]


def _jsonish(obj):
    import json

    return json.loads(json.dumps(obj))


def test_recorded_metrics_rank_the_pair_and_beat_the_mean_predictor():
    big, small = read_manifest()["models"]["big"], read_manifest()["models"]["small"]
    for entry in (big, small):
        for split in ("val", "test"):  # a wide margin over the mean predictor: at least 25% lower
            assert entry[split]["mae"]["sum"] < 0.75 * entry[split]["trivial_mae"]["sum"]
        assert "edgeadapt train" in entry["command"] and entry["data"] == "datasets/cache/synth-160x96"
    for split in ("val", "test"):  # the gap the adaptive system exploits: big at least 4 % better
        assert big[split]["mae"]["sum"] <= 0.96 * small[split]["mae"]["sum"]
    gap = small["test"]["mae"]["sum"] / big["test"]["mae"]["sum"] - 1  # the real pair's is 10.7 %
    assert 0.07 <= gap <= 0.15


def test_zoo_models_beat_the_mean_predictor_on_fresh_frames(tmp_path):
    # small form of the slow check below: a short set from the same generator and seed
    data = ensure_synth(tmp_path / "d", frames=600, seed=1)
    for key in ("big", "small"):
        result = evaluate(f"zoo:{key}", data, "test")
        assert result["mae"]["sum"] < result["trivial_mae"]["sum"]


@pytest.mark.slow
def test_zoo_metrics_reproduce_on_the_shipped_dataset(shipped_data):
    data = shipped_data
    manifest = read_manifest()["models"]
    for key in ("big", "small"):
        result = evaluate(f"zoo:{key}", data, "test")
        assert result["mae"] == pytest.approx(manifest[key]["test"]["mae"], abs=1e-5)
