"""The policy sweep on constructed outputs (every figure known by hand), then the CLI on a tiny pair."""

import json

import numpy as np
import pytest

from edgeadapt.errors import EdgeadaptError
from edgeadapt.policy import load_policy_config
from edgeadapt.policy.config import PolicyConfig, validate_policy_config
from edgeadapt.policy.engine import BIG, SMALL
from edgeadapt.policy.sweep import (
    CycleModel, PolicyPoint, SweepData, dequantize, evaluate, oracle_at_share, paper_metrics, pareto_front,
    partition_grid, policy_grid, random_at_share, run_sweep, select_point, selected_policy_json,
)

pytestmark = pytest.mark.timeout(300)

# One sequence of 10 frames, all labels 0. Big is exact; small is off by x = 5 on frames 3-5.
# Output FLs are 0, so raw integers are real values.
SMALL_X = [0, 0, 0, 5, 5, 5, 0, 0, 0, 0]


def constructed(small_cycles=1.0, big_cycles=3.0, overhead=0.0, sequences=None):
    n = len(SMALL_X)
    small = np.zeros((n, 4), dtype=np.int64)
    small[:, 0] = SMALL_X
    big = np.zeros((n, 4), dtype=np.int64)
    return SweepData(small, big, [0, 0, 0, 0], [0, 0, 0, 0], np.zeros((n, 4)),
                     sequences or [np.arange(n)], CycleModel(small_cycles, big_cycles, overhead, "test", 1000.0))


def temporal(threshold, k=1, rerun=False):
    return validate_policy_config({"policy": "temporal", "weights": [1, 1, 1, 1], "threshold": threshold,
                                   "k": k, "rerun": rerun})


def test_always_small_and_always_big_by_hand():
    data = constructed()
    small = evaluate(PolicyConfig("always-small"), data)
    big = evaluate(PolicyConfig("always-big"), data)
    assert small.mae == {"x": 1.5, "y": 0.0, "z": 0.0, "phi": 0.0, "sum": 1.5}  # 3 frames off by 5, / 10
    assert small.cycles_mean == 1.0 and small.big_share == 0.0
    assert big.mae["sum"] == 0.0 and big.cycles_mean == 3.0 and big.big_share == 1.0


def test_temporal_policy_by_hand():
    # threshold 2, k 1: frame 3 jumps (5 > 2) -> frame 4 big; frame 5 is compared with frame 3's
    # small output (0 change); frame 6 jumps back -> frame 7 big.
    p = evaluate(temporal(2.0), constructed())
    assert p.used.tolist() == [0, 0, 0, 0, 1, 0, 0, 1, 0, 0]
    assert p.mae["sum"] == pytest.approx(1.0)  # frames 3 and 5 keep the small model's error of 5
    assert p.cycles_mean == pytest.approx((8 * 1 + 2 * 3) / 10)
    assert p.big_share == 0.2
    # rerun: the triggering frame itself is redone on big (small + big cycles), k = 1 more big frame
    r = evaluate(temporal(2.0, k=1, rerun=True), constructed(overhead=0.5))
    # (frame 6's jump back now reruns frame 6 itself)
    assert r.used.tolist() == [0, 0, 0, 2, 1, 0, 2, 1, 0, 0]
    assert r.mae["sum"] == pytest.approx(0.5)  # only frame 5 keeps an error of 5
    # frames: 6 small (1), 2 big (3), 2 both (4); decisions 12 x 0.5 (a rerun frame decides twice)
    assert r.cycles_mean == pytest.approx((6 * 1 + 2 * 3 + 2 * 4 + 12 * 0.5) / 10)


def test_sequences_restart_the_policy():
    # cut before frame 6: the jump back to 0 is now a sequence start, which never triggers
    data = constructed(sequences=[np.arange(6), np.arange(6, 10)])
    assert evaluate(temporal(2.0), data).used.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]


def test_pareto_front_and_selection_rules():
    cfg = PolicyConfig("always-small")

    def pt(cycles, mae):
        return PolicyPoint(cfg, np.zeros(2), {"sum": mae}, cycles)

    a, b, c, d, e = pt(1, 2.0), pt(2, 1.0), pt(2, 1.5), pt(3, 1.2), pt(4, 0.5)
    assert pareto_front([e, d, c, b, a]) == [a, b, e]
    big = pt(4, 1.0)
    assert select_point([a, b, c, d, e, big], big, "iso-mae") is b  # cheapest with MAE <= 1.0
    assert select_point([a, b, c, d, e, big], big, "iso-latency") is e  # best MAE within 4 cycles
    assert select_point([a, b, c, d, e, big], big, "latency-budget", budget_cycles=2.5) is b
    with pytest.raises(EdgeadaptError, match="no policy fits the latency budget"):
        select_point([b, c], big, "latency-budget", budget_cycles=0.5)
    # an adaptive point meeting the rule wins over a cheaper single model
    adaptive = PolicyPoint(temporal(1.0), np.zeros(2), {"sum": 0.9}, 3)
    assert select_point([a, adaptive, pt(1, 0.8), big], big, "iso-mae") is adaptive
    assert select_point([pt(1, 0.8), big], big, "iso-mae").cycles_mean == 1  # no adaptive point: fallback
    costly = PolicyPoint(temporal(2.0), np.zeros(2), {"sum": 0.7}, 9)  # the best MAE, above big's latency
    assert select_point([a, adaptive, costly, big], big, "best-mae") is costly
    assert select_point([a, adaptive, costly, big], big, "iso-latency") is adaptive
    m = paper_metrics([b, c, d, e], big)
    assert m["latency_cut_at_big_mae"]["value"] == pytest.approx(0.5)  # b: 2 cycles vs 4
    assert m["mae_change_at_big_latency"]["value"] == pytest.approx(-0.5)  # e: 0.5 vs 1.0
    assert m["best_mae"]["value"] == 0.5 and m["best_mae"]["point"] is e
    assert paper_metrics([a], big)["latency_cut_at_big_mae"] is None


def test_oracle_and_random_baselines():
    data = constructed()
    oracle = oracle_at_share(data, 0.2)  # big on the two frames that gain most: 3 and 4 (ties: first)
    assert oracle.used.tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert oracle.mae["sum"] == pytest.approx(0.5) and oracle.big_share == 0.2
    assert oracle_at_share(data, 0.3).mae["sum"] == 0.0
    r1, r2 = random_at_share(data, 0.4), random_at_share(data, 0.4)
    assert r1.used.tolist() == r2.used.tolist()  # fixed seed
    plain = evaluate(validate_policy_config({"policy": "random", "p": 0.4, "seed": 1}), data)
    assert abs(r1.big_share - 0.4) <= abs(plain.big_share - 0.4)  # p is searched for the share


def test_grid_covers_both_ends_and_the_selection_is_the_cheapest_at_big_mae():
    rng = np.random.default_rng(0)
    n = 400
    labels = np.cumsum(rng.normal(0, 0.02, (n, 4)), axis=0)
    hard = rng.random(n) < 0.2  # hard frames: the small model is far off, and its output jumps
    small_err = np.where(hard[:, None], rng.normal(0, 0.5, (n, 4)), rng.normal(0, 0.02, (n, 4)))
    small = np.round((labels + small_err) * 2**12).astype(np.int64)
    small = np.concatenate([small, (hard * 100)[:, None]], axis=1)  # an aux output that flags them
    big = np.round((labels + rng.normal(0, 0.03, (n, 4))) * 2**12).astype(np.int64)
    data = SweepData(small, big, [12] * 5, [12] * 4, labels, [np.arange(200), np.arange(200, 400)],
                     CycleModel(1e6, 3e6, 100.0, "test", 170e6))
    configs = policy_grid(data)
    kinds = {c.policy for c in configs}
    assert kinds == {"always-small", "always-big", "temporal", "aux", "partition"}
    result = run_sweep(data, configs=configs)
    front = result.front
    assert front[0].cycles_mean == min(p.cycles_mean for p in result.points)
    assert all(x.mae_sum > y.mae_sum for x, y in zip(front, front[1:]))  # cheaper points are worse
    ok = [p for p in result.points if p.mae_sum <= result.big.mae_sum]
    assert result.selected.cycles_mean == min(p.cycles_mean for p in ok)
    assert result.selected.config.policy in ("temporal", "aux", "partition")
    cut = result.metrics["latency_cut_at_big_mae"]["value"]
    assert cut == pytest.approx(1 - result.selected.cycles_mean / result.big.cycles_mean)
    assert cut > 0.28  # this construction rewards switching on the flagged frames
    doc = result.to_dict()
    assert doc["selected"]["latency_ms"] == pytest.approx(result.selected.cycles_mean / 170e6 * 1e3)
    assert {"policy", "params", "big_share", "mae_sum", "cycles_mean"} <= set(doc["front"][0])
    policy = selected_policy_json(result)
    assert load_policy_config(policy).policy == result.selected.config.policy
    assert policy["meta"]["predicted"]["mae"]["sum"] == result.selected.mae_sum


def test_partition_is_fitted_on_the_next_frames_gain_and_switches_there():
    # the big model helps only on frames that follow a frame with the subject turned away (|phi| > 1)
    n = 600
    phi = np.where((np.arange(n) // 30) % 2 == 1, 1.3, 0.1)  # episodes of 30 frames
    labels = np.stack([np.full(n, 2.0), np.zeros(n), np.zeros(n), phi], 1)
    small_pred = labels + np.where(phi[:, None] > 1, 0.4, 0.01)
    big_pred = labels + 0.02
    q = lambda a: np.round(a * 2**12).astype(np.int64)
    data = SweepData(q(small_pred), q(big_pred), [12] * 4, [12] * 4, labels, [np.arange(300), np.arange(300, 600)],
                     CycleModel(1e6, 3e6, 0.0, "test", None))
    configs = partition_grid(data)
    assert configs and {c.policy for c in configs} == {"partition"}
    # the two best cells are those of a turned-away subject, as either model outputs it (1.7 small, 1.32 big)
    two = next(c for c in configs if c.channels == (3,) and len(c.big_cells) == 2)
    assert set(two.big_cells) == {sum(1 for t in two.cuts[0] if v > t) for v in (1.7, 1.32)}
    point = evaluate(two, data)
    used = point.used
    # after each episode's first frame the next ones run big; the frame after an episode still runs big
    turned, follows = phi > 1, np.arange(1, n) != 300  # frame 300 starts the second sequence: small
    assert (used[1:][turned[:-1] & follows] == BIG).all() and (used[1:][~turned[:-1]] == SMALL).all()
    assert used[300] == SMALL
    assert point.mae_sum < evaluate(PolicyConfig("always-small"), data).mae_sum


def test_dequantize_is_exact():
    q = np.array([[3, -5, 2**30, 1]])
    assert dequantize(q, [1, 2, 30, -3]).tolist() == [[1.5, -1.25, 1.0, 8.0]]


def test_cli_sweep_on_a_tiny_pair(tmp_path):
    from click.testing import CliRunner

    from edgeadapt.cli import cli
    from test_harness_support import tiny_export, write_dataset

    export_dir = tiny_export("host", tmp_path)
    data = write_dataset(tmp_path / "data", n_test=30, sequences=3)
    runner = CliRunner()
    args = ["policy", "sweep", "--big", str(export_dir / "big.eaq"), "--small", str(export_dir / "small.eaq"),
            "--data", str(data), "--out", str(tmp_path / "policy.json"), "--json", str(tmp_path / "s.json")]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Pareto front" in result.output and "latency cut at its MAE" in result.output
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["frames"] == 30 and doc["sequences"] == 3
    assert doc["cycles_source"].startswith("manifest manifest.json: MACs")
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert doc["big"]["cycles_mean"] == manifest["models"]["big"]["macs"]
    assert set(doc["metrics"]) == {"latency_cut_at_big_mae", "mae_change_at_big_latency", "best_mae"}
    assert {"random", "oracle", "big_share"} <= set(doc["baselines"])
    cfg = load_policy_config(str(tmp_path / "policy.json"))
    assert cfg.policy == doc["selected"]["policy"]
    result = runner.invoke(cli, args[:-4] + ["--cycles", "measured", "--out", str(tmp_path / "p2.json")])
    assert result.exit_code != 0 and "--runs" in str(result.exception or result.output)


def test_cli_predict_replays_the_selected_policy(tmp_path):
    """`policy predict` on the sweep's own frames reproduces the sweep's prediction for its choice; on
    other frames it replays the same config (always-big there gives the big model's MACs)."""
    from click.testing import CliRunner

    from edgeadapt.cli import cli
    from test_harness_support import tiny_export, write_dataset

    export_dir = tiny_export("host", tmp_path)
    data = write_dataset(tmp_path / "data", n_test=30, sequences=3)
    models = ["--big", str(export_dir / "big.eaq"), "--small", str(export_dir / "small.eaq"), "--data", str(data)]
    runner = CliRunner()
    result = runner.invoke(cli, ["policy", "sweep", *models, "--out", str(tmp_path / "policy.json"),
                                 "--also", "iso-latency", str(tmp_path / "lat.json"),
                                 "--also", "best-mae", str(tmp_path / "best.json"), "--json", str(tmp_path / "s.json")],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    predicted = json.loads((tmp_path / "policy.json").read_text())["meta"]["predicted"]
    sweep = json.loads((tmp_path / "s.json").read_text())
    for path, rule, metric in (("lat.json", "iso-latency", "mae_change_at_big_latency"),
                               ("best.json", "best-mae", "best_mae")):
        other = json.loads((tmp_path / path).read_text())  # chosen among the same points: the paper's figure
        assert other["meta"]["selected_by"] == rule
        assert other["meta"]["predicted"]["mae"]["sum"] == sweep["metrics"][metric]["point"]["mae_sum"]
        assert other["policy"] == sweep["metrics"][metric]["point"]["policy"]
    result = runner.invoke(cli, ["policy", "predict", "--policy", str(tmp_path / "policy.json"), *models,
                                 "--json", str(tmp_path / "p.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["frames"] == 30
    assert doc["policy"]["mae"] == predicted["mae"]
    assert doc["policy"]["cycles_mean"] == pytest.approx(predicted["cycles_mean"], rel=1e-12)
    assert doc["policy"]["big_share"] == pytest.approx(predicted["big_share"])
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert doc["always_big"]["cycles_mean"] == manifest["models"]["big"]["macs"]
    assert doc["always_big"]["big_share"] == 1.0
    base = doc["baselines"]  # at the policy's big share on these frames
    assert base["big_share"] == doc["policy"]["big_share"]
    assert base["oracle"]["big_share"] == pytest.approx(round(base["big_share"] * 30) / 30)
    assert base["oracle"]["mae_sum"] <= doc["policy"]["mae_sum"] + 1e-12  # nothing beats the oracle at its share
    assert base["random"]["policy"] == "random" and abs(base["random"]["big_share"] - base["big_share"]) <= 0.15
    result = runner.invoke(cli, ["policy", "predict", "--policy", str(tmp_path / "nope.json"), *models])
    assert result.exit_code != 0 and "nope.json: no such file" in str(result.exception or result.output)
