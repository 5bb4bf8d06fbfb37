"""The HIL report's plots: the selection front from policy.json, siblings redrawn, energy only when
it says more than latency."""

import json
import os

import numpy as np
import pytest

from test_harness_support import blob_sequence, tiny_export


def test_energy_plot_only_when_it_is_not_latency_times_a_constant():
    from edgeadapt.harness.report import energy_is_latency_times_a_constant as constant

    power = {"active_mw": 100.0, "idle_mw": 10.0}
    assert constant({"power": power, "frame_period_s": None}, {"energy_source": "power model"})
    assert not constant({"power": power, "frame_period_s": 0.05}, {"energy_source": "power model"})
    assert constant({"power": {"active_mw": 100.0, "idle_mw": None}, "frame_period_s": 0.05}, {})
    assert not constant({"power": power, "frame_period_s": None}, {"energy_source": "measured trace t.csv"})


def test_selection_front_only_on_the_device_clock():
    from edgeadapt.harness.report import selection_front

    front = [{"big_share": 0.0, "mae_sum": 1.1, "cycles_mean": 100.0}, {"big_share": 1.0, "mae_sum": 1.0,
                                                                         "cycles_mean": 300.0}]
    meta = {"front": front, "random": front, "data": "some/dir (val, first 1500 frames)",
            "predicted": {"cycles_source": "measured (stm32-always-small, stm32-always-big)"}}
    got = selection_front({"policy": {"policy": "temporal", "meta": meta}})
    assert got == (front, front, "val, first 1500 frames")
    meta["predicted"]["cycles_source"] = "manifest manifest.json: MACs (cycles taken proportional to MACs)"
    assert selection_front({"policy": {"policy": "temporal", "meta": meta}}) is None
    assert selection_front({"policy": "always-big"}) is None


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """always-small, then a swept policy (cycles measured on the first run), on the host program."""
    from click.testing import CliRunner

    from edgeadapt.cli import cli
    from test_harness_support import write_dataset

    root = tmp_path_factory.mktemp("report")
    export_dir = tiny_export("host", root)
    data = write_dataset(root / "data", n_test=16, sequences=2)
    runner = CliRunner()
    common = ["--target", "host", "--emulator", "host", "--export", str(export_dir), "--data", str(data),
              "--frames", "16"]
    runs = root / "runs"
    for name in ("always-small", "always-big"):
        r = runner.invoke(cli, ["hil", "run", *common, "--policy", name, "--out", str(runs / name)],
                          catch_exceptions=False)
        assert r.exit_code == 0, r.output
    first_report = (runs / "always-small" / "report.md").stat().st_mtime_ns
    r = runner.invoke(cli, ["policy", "sweep", "--big", str(export_dir / "big.eaq"), "--small",
                            str(export_dir / "small.eaq"), "--data", str(data), "--cycles", "measured",
                            "--runs", str(runs / "always-small"), "--runs", str(runs / "always-big"),
                            "--out", str(root / "policy.json")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["hil", "run", *common, "--policy", str(root / "policy.json"), "--out",
                            str(runs / "adaptive")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return runs, root / "policy.json", first_report


def test_policy_json_carries_the_selection_front(two_runs):
    _, policy, _ = two_runs
    meta = json.loads(policy.read_text())["meta"]
    assert len(meta["front"]) >= 2 and all({"big_share", "mae_sum", "cycles_mean"} <= set(p) for p in meta["front"])
    cycles = [p["cycles_mean"] for p in meta["front"]]
    assert cycles == sorted(cycles)


def test_a_finished_run_redraws_its_siblings(two_runs):
    runs, _, first_report = two_runs
    # the first run's report was rebuilt after the later runs finished, and names the policy
    assert (runs / "always-small" / "report.md").stat().st_mtime_ns > first_report
    for name in ("always-small", "always-big", "adaptive"):
        report = (runs / name / "report.md").read_text()
        assert (runs / name / "plane.png").is_file() and (runs / name / "timeline.png").is_file()
        assert not (runs / name / "energy.png").exists()  # the host has no power figures
        assert "policy" in report.splitlines()[0]
