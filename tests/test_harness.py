"""The HIL harness over the firmware's host build: whole runs, bit-exactness and policy checks,
fault injection on the link, resume after a killed device, results log, CLI."""

import json
import os
import signal

import numpy as np
import pytest

from edgeadapt.errors import EdgeadaptError
from edgeadapt.harness.device import LDC_ADAPT_MIN
from edgeadapt.harness.faults import FaultyTransport
from edgeadapt.harness.qemu import live_processes
from edgeadapt.harness.results import ResultsLog
from edgeadapt.harness.runner import RunSpec, run_hil
from edgeadapt.policy import simulate
from edgeadapt.policy.sweep import CycleModel, SweepData, evaluate
from test_harness_support import blob_sequence, tiny_export, write_dataset

pytestmark = pytest.mark.timeout(300)

N = 24
CONTRACT = {"target", "emulated", "policy", "frames", "bit_exact_frames", "big_share", "latency_ms", "cycles",
            "mae", "energy_mj", "operating_point"}


@pytest.fixture(scope="module")
def export_host(tmp_path_factory):
    return tiny_export("host", tmp_path_factory.mktemp("hil"))


@pytest.fixture(scope="module")
def sequence():
    images, labels = blob_sequence(N, seed=3)
    return images, labels, np.repeat([0, 1], N // 2)


@pytest.fixture(scope="module")
def temporal_policy(tmp_path_factory, export_host, sequence):
    """A temporal policy (with rerun) whose threshold makes the big model run on some frames."""
    from edgeadapt.policy.sweep import consecutive_distances

    data = _sweep_data(export_host, sequence)
    threshold = float(np.quantile(consecutive_distances(data, [1, 1, 1, 1]), 0.6))
    path = tmp_path_factory.mktemp("policy") / "temporal.json"
    path.write_text(json.dumps({"policy": "temporal", "weights": [1, 1, 1, 1], "threshold": threshold,
                                "k": 2, "rerun": True}))
    return path


def _sweep_data(export_dir, sequence):
    from edgeadapt.harness.reference import reference_outputs
    from edgeadapt.harness.report import sequences_of

    manifest = json.loads((export_dir / "manifest.json").read_text())
    images, labels, seq = sequence
    ref = {r: reference_outputs(export_dir / f"{r}.eaq", images) for r in ("small", "big")}
    return SweepData(ref["small"], ref["big"], manifest["models"]["small"]["output_fl"],
                     manifest["models"]["big"]["output_fl"], labels, sequences_of(seq),
                     CycleModel(1.0, 3.0))


def _spec(export_dir, sequence, out, policy, **kw):
    images, labels, seq = sequence
    return RunSpec(target="host", export_dir=export_dir, images=images, labels=labels, sequence=seq,
                   out_dir=out, link="host", policy=str(policy), **kw)


def _frames(out):
    return ResultsLog.read(out / "results.jsonl").frames


def _decisions(out):
    return [(r["model"], r["outputs"], r["next"]) for r in _frames(out)]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, export_host, sequence, temporal_policy):
    out = tmp_path_factory.mktemp("clean") / "run"
    return out, run_hil(_spec(export_host, sequence, out, temporal_policy))


def test_run_is_bit_exact_and_follows_the_policy_twin(clean_run, export_host, sequence, temporal_policy):
    out, summary = clean_run
    assert CONTRACT <= set(summary)
    assert summary["frames"] == N and summary["bit_exact_frames"] == N
    assert summary["policy_agreement_frames"] == N and summary["complete"]
    assert summary["target"] == "host" and summary["emulated"] is False
    # the device's model choices are exactly the Python simulation, sequence by sequence
    from edgeadapt.policy import load_policy_config

    data = _sweep_data(export_host, sequence)
    cfg = load_policy_config(temporal_policy)
    expected = []
    for idx in data.sequences:
        expected += simulate(cfg, data.small_int[idx], data.big_int[idx], data.small_fl)
    frames = _frames(out)
    assert [r["model"] for r in frames] == expected
    assert {0, 2} <= set(expected)  # small frames and reruns on big both happened
    # MAE and big share are the sweep's prediction, exactly
    predicted = evaluate(cfg, data)
    assert summary["mae"] == predicted.mae
    assert summary["big_share"] == predicted.big_share
    # latency is cycles / clock of the operating point (host: ns)
    cycles = np.array([r["cycles"] + r["policy_cycles"] for r in frames], dtype=float)
    assert summary["latency_ms"]["mean"] == pytest.approx(cycles.mean() / 1e6)
    assert summary["cycles"]["mean"] == pytest.approx(cycles.mean())
    for name in ("results.jsonl", "summary.json", "report.md", "plane.png", "timeline.png", "reference.npz"):
        assert (out / name).is_file(), name
    assert "bit-exact" in (out / "report.md").read_text()


def test_every_frame_record_holds_outputs_models_and_cycles(clean_run, export_host):
    out, _ = clean_run
    manifest = json.loads((export_host / "manifest.json").read_text())
    r = _frames(out)[5]
    fl = manifest["models"]["big" if r["out_model"] == 1 else "small"]["output_fl"]
    assert r["outputs_real"] == [q * 2.0 ** -f for q, f in zip(r["outputs"], fl)]
    assert r["abs_err"] == [abs(a - b) for a, b in zip(r["outputs_real"][:4], r["label"])]
    assert r["cycles"] > 0 and r["bit_exact"] and r["policy_agrees"] and r["attempts"] == 1


def test_one_percent_of_bytes_damaged_both_ways_still_gives_exact_results(tmp_path, export_host, sequence,
                                                                          temporal_policy):
    """Every byte on the link, both ways, is corrupted or dropped with p = 1%: damaged chunks of
    the frame loads are sent again, damaged replies read again, and the run must still record
    every frame once, in order, bit-exact and with the device's policy decisions matching the
    simulation. Eight frames across the sequence cut keep it short."""
    from edgeadapt.policy import load_policy_config

    images, labels, seq = sequence
    part = slice(8, 16)  # 4 frames of the first sequence, 4 of the second
    sub = (images[part], labels[part], seq[part])
    spec = _spec(export_host, sub, tmp_path / "faulty", temporal_policy, timeout=0.5, step_timeout=1.0,
                 wrap_transport=lambda t: FaultyTransport(t, rate=0.01, seed=1, per="byte"))
    summary = run_hil(spec)
    frames = _frames(tmp_path / "faulty")
    n = part.stop - part.start
    assert [r["frame"] for r in frames] == list(range(n))  # none skipped, none twice
    assert summary["frames"] == n and summary["bit_exact_frames"] == n
    assert summary["policy_agreement_frames"] == n and summary["complete"]
    data = _sweep_data(export_host, sub)
    cfg = load_policy_config(temporal_policy)
    expected = []
    for idx in data.sequences:
        expected += simulate(cfg, data.small_int[idx], data.big_int[idx], data.small_fl)
    assert [r["model"] for r in frames] == expected
    link = spec.transports[0].summary()
    faults = link["faults"]
    assert set(faults) == {"tx_corrupt", "tx_drop", "rx_corrupt", "rx_drop"}, faults
    for direction in ("tx", "rx"):  # about 1% of the bytes of each direction
        hit = faults[f"{direction}_corrupt"] + faults[f"{direction}_drop"]
        assert 0.007 < hit / link["bytes"][direction] < 0.013, (direction, hit, link["bytes"])
    dev = spec.devices[0]
    assert dev.ldc_stats["records"] > (n + 1) * -(-images[0].size // LDC_ADAPT_MIN)  # damaged chunks sent again
    assert dev.chunk == LDC_ADAPT_MIN  # the chunk size came down from 128 to suit the link
    assert dev.resyncs > 10


@pytest.mark.slow
def test_a_much_noisier_link_still_gives_the_same_results(tmp_path, export_host, sequence, temporal_policy,
                                                          clean_run):
    spec = _spec(export_host, sequence, tmp_path / "noisy", temporal_policy, timeout=0.3, step_timeout=2.0,
                 max_attempts=30, wrap_transport=lambda t: FaultyTransport(t, rate=0.04, seed=2))
    summary = run_hil(spec)
    assert sum(spec.transports[0].summary()["faults"].values()) >= 20
    assert _decisions(tmp_path / "noisy") == _decisions(clean_run[0])
    assert summary["mae"] == clean_run[1]["mae"]


def test_killed_device_then_resume_gives_the_same_results(tmp_path, export_host, sequence, temporal_policy,
                                                          clean_run):
    out = tmp_path / "killed"
    spec = _spec(export_host, sequence, out, temporal_policy)

    def kill_after(t):
        if t == 15:  # inside the second sequence, so the resume must replay its policy state
            for pid in live_processes():
                os.kill(pid, signal.SIGKILL)

    spec.frame_hook = kill_after
    with pytest.raises(EdgeadaptError, match="--resume"):
        run_hil(spec)
    assert len(_frames(out)) == 16
    assert live_processes() == []
    summary = run_hil(_spec(export_host, sequence, out, temporal_policy, resume=True))
    assert _decisions(out) == _decisions(clean_run[0])
    assert [r["session"] for r in _frames(out)] == [0] * 16 + [1] * (N - 16)
    for key in ("frames", "bit_exact_frames", "big_share", "mae", "policy_agreement_frames"):
        assert summary[key] == clean_run[1][key], key


def test_a_reference_mismatch_is_reported_and_fails(tmp_path, export_host, sequence, monkeypatch):
    """A device whose outputs differ from the reference on one frame: recorded, not retried away."""
    import edgeadapt.harness.runner as runner

    real = runner.reference_outputs

    def off_by_one(path, images, graph=None, use_cache=True):
        out = real(path, images, graph, use_cache).copy()
        out[7, 1] += 1
        return out

    monkeypatch.setattr(runner, "reference_outputs", off_by_one)
    summary = run_hil(_spec(export_host, sequence, tmp_path / "bad", "always-small"))
    assert summary["bit_exact_frames"] == N - 1 and summary["mismatch_frames"] == [7]
    record = _frames(tmp_path / "bad")[7]
    assert not record["bit_exact"] and "differ from the reference" in record["problem"]
    assert record["attempts"] == 2  # read twice, the same both times: a real mismatch
    assert "MISMATCH" in (tmp_path / "bad" / "report.md").read_text()


def test_without_a_policy_the_firmwares_baked_one_runs(tmp_path, export_host, sequence):
    spec = _spec(export_host, sequence, tmp_path / "baked", None)
    spec.policy = None
    summary = run_hil(spec)
    assert summary["policy"]["baked"]["kind"] == "always-small"  # exported without --policy
    assert summary["big_share"] == 0.0 and summary["bit_exact_frames"] == N
    assert "baked into the firmware" in (tmp_path / "baked" / "report.md").read_text()


def test_existing_run_needs_resume_and_resume_needs_the_same_run(tmp_path, export_host, sequence, clean_run):
    out, _ = clean_run
    with pytest.raises(EdgeadaptError, match="--resume"):
        run_hil(_spec(export_host, sequence, out, "always-big"))
    with pytest.raises(EdgeadaptError, match="policy_int differs"):
        run_hil(_spec(export_host, sequence, out, "always-big", resume=True))


def test_results_log_drops_a_torn_last_line(tmp_path):
    log = ResultsLog.create(tmp_path / "results.jsonl", {"target": "host", "frames": 3})
    log.append({"kind": "frame", "frame": 0, "x": 1})
    log.append({"kind": "frame", "frame": 1, "x": 2})
    log.close()
    with open(tmp_path / "results.jsonl", "a") as f:
        f.write('{"kind": "frame", "frame": 2, "x"')  # the crash came mid-line
    resumed = ResultsLog.resume(tmp_path / "results.jsonl", {"target": "host", "frames": 3})
    assert [r["frame"] for r in resumed.frames] == [0, 1]
    assert (tmp_path / "results.jsonl").read_text().count("\n") == 3
    with pytest.raises(EdgeadaptError, match="frames differs"):
        ResultsLog.resume(tmp_path / "results.jsonl", {"target": "host", "frames": 4})
    (tmp_path / "bad.jsonl").write_text('{"kind": "run", "format": "edgeadapt-hil-results"}\n{"kind": "frame", '
                                        '"frame": 3}\n')
    with pytest.raises(EdgeadaptError, match="frame 3 where 0 was due"):
        ResultsLog.read(tmp_path / "bad.jsonl")


def test_cli_run_report_and_one_line_errors(tmp_path, export_host):
    from click.testing import CliRunner

    from edgeadapt.cli import cli

    data = write_dataset(tmp_path / "data", n_test=10)
    runner = CliRunner()
    out = tmp_path / "cli-run"
    args = ["hil", "run", "--target", "host", "--emulator", "host", "--export", str(export_host), "--data",
            str(data), "--frames", "6", "--policy", "always-big", "--out", str(out), "--json", str(tmp_path / "s.json")]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "bit-exact frames" in result.output
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 6 and summary["big_share"] == 1.0
    result = runner.invoke(cli, ["hil", "report", "--run", str(out), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text()) == summary
    (out / "notes.txt").write_text("mine")
    args[args.index("always-big")] = "always-small"
    result = runner.invoke(cli, args + ["--overwrite"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["big_share"] == 0.0
    assert (out / "notes.txt").read_text() == "mine"

    import subprocess
    import sys

    bad = subprocess.run([sys.executable, "-m", "edgeadapt", "hil", "run", "--target", "host", "--export",
                          str(export_host), "--data", str(data), "--port", "/dev/null-x", "--emulator", "qemu"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "edgeadapt: error: give exactly one of --port and --emulator"
    bad = subprocess.run([sys.executable, "-m", "edgeadapt", "hil", "run", "--target", "stm32", "--export",
                          str(export_host), "--data", str(data), "--emulator", "qemu"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "exported for target 'host', not 'stm32f405'" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.fixture(scope="module")
def single_model_runs(tmp_path_factory, export_host, sequence):
    root = tmp_path_factory.mktemp("single")
    for name in ("always-small", "always-big"):
        run_hil(_spec(export_host, sequence, root / name, name))
    return root


def test_sweep_with_measured_cycles_predicts_the_single_model_runs(tmp_path, export_host, single_model_runs):
    from click.testing import CliRunner

    from edgeadapt.cli import cli

    data = write_dataset(tmp_path / "data", n_test=N, seed=3, sequences=2)  # the frames of `sequence`
    runs = [single_model_runs / "always-small", single_model_runs / "always-big"]
    args = ["policy", "sweep", "--big", str(export_host / "big.eaq"), "--small", str(export_host / "small.eaq"),
            "--data", str(data), "--cycles", "measured", "--runs", str(runs[0]), "--runs", str(runs[1]),
            "--out", str(tmp_path / "p.json"), "--json", str(tmp_path / "s.json")]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["cycles_source"].startswith("measured") and doc["clock_hz"] == 1e9
    records = {run.name: _frames(run) for run in runs}
    overhead = np.mean([r["policy_cycles"] for rs in records.values() for r in rs])
    for name, key in (("always-small", "small"), ("always-big", "big")):
        measured = json.loads((single_model_runs / name / "summary.json").read_text())
        assert doc[key]["mae"] == measured["mae"]  # exact
        model_cycles = np.mean([r["cycles"] for r in records[name]])
        assert doc[key]["cycles_mean"] == pytest.approx(model_cycles + overhead)


def test_energy_from_a_measured_trace(tmp_path, single_model_runs):
    from click.testing import CliRunner

    from edgeadapt.cli import cli

    run = single_model_runs / "always-big"
    frames = _frames(run)
    start = frames[0]["device_us"] / 1e6
    windows = [(r["device_us"] / 1e6 - start, r["latency_ms"] / 1e3) for r in frames]
    rate, offset = 200_000.0, 0.004  # 5 us samples; the monitor started 4 ms before frame 0
    t = np.arange(0, windows[-1][0] + windows[-1][1] + 2 * offset, 1 / rate)
    p = np.full_like(t, 0.01)
    for s, d in windows:
        p[(t >= s + offset) & (t < s + offset + d)] = 0.25
    csv = tmp_path / "trace.csv"
    csv.write_text("time (s),current (mA),voltage (V)\n" + "".join(
        f"{a:.6f},{b / 3.3 * 1e3:.6f},3.3\n" for a, b in zip(t, p)))
    result = CliRunner().invoke(cli, ["hil", "energy", "--run", str(run), "--trace", str(csv), "--offset-s",
                                      str(offset - start)])
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    expected = np.mean([0.25 * d * 1e3 for _, d in windows])
    assert summary["energy_mj"]["mean"] == pytest.approx(expected, rel=0.05)
    assert summary["energy_source"].startswith("measured trace trace.csv")
