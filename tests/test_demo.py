"""The demo's presentation: one verdict sentence per target, side-by-side runs printed in order."""

import sys

import pytest

from edgeadapt import demo


def summary(latency, mae, share):
    return {"latency_ms": {"mean": latency}, "mae": {"sum": mae}, "big_share": share}


def test_verdict_says_better_only_when_faster_at_no_higher_mae(capsys):
    summaries = {}
    for target, (iso, cut) in {"stm32": ((9.9, 1.01, 0.94), (7.0, 1.05, 0.5)),
                               "gap8": ((8.0, 0.99, 0.6), (7.0, 1.02, 0.5))}.items():
        summaries[(target, "always-big")] = summary(10.0, 1.0, 1.0)
        summaries[(target, "adaptive")] = summary(*iso)
        summaries[(target, "iso-latency")] = summary(*cut)
    demo.print_verdicts(summaries)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("verdict (policies chosen on validation, measured on")
    stm32, gap8 = (next(line for line in lines if line.strip().startswith(t + ":")) for t in ("stm32", "gap8"))
    # stm32: 1 % faster at +1 % MAE, 30 % faster at +5 %: trades, not better
    assert "adaptive is not better than always-big" in stm32 and "(-1.0%)" in stm32 and "+1.00%" in stm32
    # gap8: 20 % faster at 1 % lower MAE: better
    assert "adaptive is better than always-big" in gap8 and "(-20.0%)" in gap8 and "-1.00%" in gap8
    assert len([line for line in lines if line.strip()]) == 1 + len(demo.TARGETS)
    assert "Caution" not in stm32 + gap8


def test_verdict_warns_when_always_small_is_as_accurate_on_the_measured_frames(capsys):
    summaries = {}
    for target in demo.TARGETS:
        summaries[(target, "always-big")] = summary(10.0, 1.0, 1.0)
        summaries[(target, "always-small")] = summary(2.0, 0.98 if target == "gap8" else 1.10, 0.0)
        summaries[(target, "adaptive")] = summary(5.0, 0.99, 0.3)
    demo.print_verdicts(summaries)
    lines = capsys.readouterr().out.strip().splitlines()
    stm32, gap8 = (next(line for line in lines if line.strip().startswith(t + ":")) for t in ("stm32", "gap8"))
    assert "Caution" not in stm32
    assert "Caution: on these frames always-small is as accurate (MAE 0.9800)" in gap8


def test_side_by_side_prints_each_output_in_order_and_stops_on_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "WORK", tmp_path)
    slow = [sys.executable, "-c", "import time, sys; time.sleep(0.5); print('first'); sys.stderr.write('a\\rb\\n')"]
    fast = [sys.executable, "-c", "print('second')"]
    demo.side_by_side([slow, fast])
    out = capsys.readouterr().out
    assert out.index("first") < out.index("second") and "a\rb" not in out and "b" in out
    with pytest.raises(SystemExit):
        demo.side_by_side([fast, [sys.executable, "-c", "raise SystemExit(4)"]])


def test_paper_metrics_table_has_every_target_and_split_beside_date24(capsys):
    by_split, predictions = {}, {}
    for split, (lat, mae) in {"test": (7.0, 0.98), "test-unseen": (8.0, 1.03)}.items():
        by_split[split] = {}
        for target in demo.TARGETS:
            by_split[split][(target, "always-big")] = summary(10.0, 1.0, 1.0)
            for name in demo.SYSTEMS:
                by_split[split][(target, name)] = summary(lat, mae, 0.5)
                predictions[(split, target, name)] = {"always_big": {"mae_sum": 1.0},
                                                      "baselines": {"oracle": {"mae_sum": 0.9},
                                                                    "random": {"mae_sum": 1.04}}}
    demo.print_paper_metrics(by_split, predictions)
    out = capsys.readouterr().out
    head = next(line for line in out.splitlines() if "DATE'24" in line)
    assert all(f"{t} {s}" in head for t in demo.TARGETS for s in ("test", "test-unseen"))
    cut = next(line for line in out.splitlines() if line.startswith("latency at always-big's MAE"))
    assert "-28%" in cut and cut.count("-30.0% (MAE -2.0%)") == 2 and cut.count("-20.0% (MAE +3.0%)") == 2
    best = next(line for line in out.splitlines() if line.startswith("best MAE"))
    assert "-6%" in best and best.count("-2.0% (lat -30.0%)") == 2
    assert out.count("oracle at its big share") == 3 and out.count("-10.0% MAE") == 12
    assert out.count("+4.0% MAE") == 12


def replay(latency, mae, share):
    return {"latency_ms": latency, "mae_sum": mae, "big_share": share}


def test_whole_split_replay_is_tabled_and_judged_apart_from_the_qemu_frames(capsys):
    predictions = {}
    for split, (lat, mae) in {"test": (8.2, 1.01), "test-unseen": (8.6, 0.998)}.items():
        for target in demo.TARGETS:
            for name in demo.SYSTEMS:
                predictions[(split, target, name)] = {
                    "policy": replay(lat, mae, 0.4), "always_big": replay(10.0, 1.0, 1.0),
                    "baselines": {"oracle": {"mae_sum": 0.95}, "random": {"mae_sum": 1.03}}}
    whole = demo.replayed_summaries(predictions)
    assert set(whole) == {"test", "test-unseen"}
    assert whole["test"][("gap8", "adaptive")] == {"latency_ms": {"mean": 8.2}, "mae": {"sum": 1.01}, "big_share": 0.4}
    assert whole["test-unseen"][("stm32", "always-big")]["latency_ms"]["mean"] == 10.0
    demo.print_paper_metrics(whole, predictions, where=demo.WHOLE_WHERE)
    for split in ("test", "test-unseen"):
        demo.print_verdicts(whole[split], split, where=demo.WHOLE_WHERE)
    out = capsys.readouterr().out
    assert "every frame of the split, replayed: the integer reference" in out
    cut = next(line for line in out.splitlines() if line.startswith("latency at always-big's MAE"))
    assert cut.count("-18.0% (MAE +1.0%)") == 2 and cut.count("-14.0% (MAE -0.2%)") == 2
    assert out.count("-5.0% MAE") == 12 and out.count("+3.0% MAE") == 12
    verdicts = [line for line in out.splitlines() if line.strip().startswith(("stm32:", "gap8:"))]
    assert len(verdicts) == 2 * len(demo.TARGETS)
    # test: 18 % faster at +1 % MAE is a trade; test-unseen: 14 % faster at -0.2 % is better
    assert all("not better than" in line for line in verdicts[:2])
    assert all("adaptive is better than" in line for line in verdicts[2:])
    assert "Caution" not in out  # no always-small in the replay: the small-sample caution is the QEMU frames' own


def test_predict_all_fills_the_reference_cache_once_per_set_of_frames(monkeypatch, tmp_path):
    batches = []
    monkeypatch.setattr(demo, "side_by_side", lambda commands: batches.append([[str(c) for c in cmd]
                                                                               for cmd in commands]))
    monkeypatch.setattr(demo, "load", lambda path: str(path))
    predictions = demo.predict_all(("--big", "b.eaq", "--small", "s.eaq"))
    firsts, rest = batches
    # one replay per split and per set of frames (the HIL frames, the whole split) before the others
    scopes = sorted((cmd[cmd.index("--split") + 1], "--frames" in cmd) for cmd in firsts)
    assert scopes == [("test", False), ("test", True), ("test-unseen", False), ("test-unseen", True)]
    per_scope = 2 * len(demo.TARGETS) * len(demo.SYSTEMS)
    assert len(rest) == 2 * per_scope - len(firsts)
    assert set(predictions) == {"hil", "whole"}
    assert all(len(p) == per_scope for p in predictions.values())
    assert predictions["whole"][("test", "gap8", "adaptive")].endswith("predict-gap8-adaptive-test-whole.json")
    assert predictions["hil"][("test", "gap8", "adaptive")].endswith("predict-gap8-adaptive-test.json")
