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
