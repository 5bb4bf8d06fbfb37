"""End-to-end HIL runs under QEMU (STM32F405 and the GAP8 emulation) with a tiny exported pair:
bit-exact frames, emulated latency and energy, resume after QEMU is killed, no QEMU left behind."""

import json
import os
import signal

import numpy as np
import pytest

from edgeadapt.errors import EdgeadaptError
from edgeadapt.harness.qemu import live_processes
from edgeadapt.harness.results import ResultsLog
from edgeadapt.harness.runner import RunSpec, run_hil
from test_harness_support import blob_sequence, have, tiny_export

pytestmark = [pytest.mark.qemu, pytest.mark.timeout(600)]
N = 8
SAME = ("target", "emulated", "policy", "frames", "bit_exact_frames", "big_share", "latency_ms", "cycles", "mae",
        "energy_mj", "operating_point", "policy_agreement_frames", "model_frames")


def need(*tools):
    missing = [t for t in tools if not have(t)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("hilq")


@pytest.fixture(scope="module")
def sequence():
    images, labels = blob_sequence(N, seed=5, jump_every=3)
    return images, labels, np.array([0] * 3 + [1] * 5)


@pytest.fixture(scope="module")
def policy(root):
    path = root / "temporal.json"
    path.write_text(json.dumps({"policy": "temporal", "weights": [1, 1, 1, 1], "threshold": 0.02, "k": 1}))
    return path


def spec(target, export_dir, sequence, out, policy, **kw):
    images, labels, seq = sequence
    return RunSpec(target=target, export_dir=export_dir, images=images, labels=labels, sequence=seq,
                   out_dir=out, link="qemu", policy=str(policy), **kw)


def pid_alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def stm32_run(root, sequence, policy):
    need("arm-none-eabi-gcc", "qemu-system-arm")
    export_dir = tiny_export("stm32", root)
    out = root / "stm32"
    return export_dir, out, run_hil(spec("stm32", export_dir, sequence, out, policy))


def test_stm32_run_is_bit_exact_with_emulated_latency_and_energy(stm32_run):
    _, out, s = stm32_run
    assert s["target"] == "stm32f405" and s["emulated"] is True and s["operating_point"] == "run-168mhz"
    assert s["frames"] == N and s["bit_exact_frames"] == N and s["policy_agreement_frames"] == N
    assert "instruction-count estimate" in s["latency_label"]
    frames = ResultsLog.read(out / "results.jsonl").frames
    cycles = np.array([r["cycles"] + r["policy_cycles"] for r in frames], dtype=float)
    assert s["latency_ms"]["mean"] == pytest.approx(cycles.mean() / 168e6 * 1e3, rel=1e-12)
    assert s["latency_ms"]["p99"] <= cycles.max() / 168e6 * 1e3 + 1e-12
    # power model: 40 mA at 3.3 V while computing, frames back to back
    assert s["energy_mj"]["mean"] == pytest.approx(132.0 * cycles.mean() / 168e6, rel=1e-12)
    # instruction counts of a model are (nearly) input independent: the calibration predicts them
    small = [r["cycles"] for r in frames if r["model"] == 0]
    assert small and max(abs(c / s["calibration"]["small"] - 1) for c in small) < 0.02
    assert "Emulated run" in (out / "report.md").read_text()
    assert live_processes() == []


def test_stm32_run_over_a_link_damaging_one_percent_of_bytes(root, stm32_run, sequence, policy):
    """Every byte between the harness and the emulated STM32, both ways, is corrupted or dropped
    with p = 1%. The first five frames (three of the first sequence, two of the second) must come
    out exactly as in the clean run: same models, outputs, decisions and instruction counts, each
    frame once and in order."""
    from edgeadapt.harness.faults import FaultyTransport

    export_dir, clean_out, _ = stm32_run
    n = 5
    short = tuple(a[:n] for a in sequence)
    out = root / "stm32-faulty"
    run = spec("stm32", export_dir, short, out, policy, timeout=1.0, step_timeout=5.0,
               wrap_transport=lambda t: FaultyTransport(t, rate=0.01, seed=4, per="byte"))
    s = run_hil(run)
    assert s["frames"] == n and s["bit_exact_frames"] == n and s["policy_agreement_frames"] == n
    got = ResultsLog.read(out / "results.jsonl").frames
    clean = ResultsLog.read(clean_out / "results.jsonl").frames[:n]
    assert [r["frame"] for r in got] == list(range(n))
    keys = ("model", "outputs", "next", "cycles", "policy_cycles")
    assert [[r[k] for k in keys] for r in got] == [[r[k] for k in keys] for r in clean]
    link = run.transports[0].summary()
    assert set(link["faults"]) == {"tx_corrupt", "tx_drop", "rx_corrupt", "rx_drop"}, link
    assert run.devices[0].resyncs > 5 and run.devices[0].chunk < 128
    assert live_processes() == []


def test_qemu_killed_mid_run_then_resume_gives_the_same_summary(root, stm32_run, sequence, policy):
    export_dir, _, clean = stm32_run
    out = root / "stm32-killed"
    pids = []

    def kill_qemu(t):
        if t == 4:
            pids.extend(live_processes())
            for pid in pids:
                os.kill(pid, signal.SIGKILL)

    run = spec("stm32", export_dir, sequence, out, policy, frame_hook=kill_qemu)
    with pytest.raises(EdgeadaptError, match="device link lost"):
        run_hil(run)
    assert pids and not any(pid_alive(p) for p in pids) and live_processes() == []
    resumed = run_hil(spec("stm32", export_dir, sequence, out, policy, resume=True))
    for key in SAME:
        assert resumed[key] == clean[key], key
    assert resumed["link"]["sessions"] == 2


def test_interrupt_stops_qemu_and_keeps_the_finished_frames(root, stm32_run, sequence, policy):
    export_dir = stm32_run[0]
    out = root / "stm32-ctrl-c"
    seen = []

    def interrupt(t):
        seen.extend(live_processes())
        if t == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_hil(spec("stm32", export_dir, sequence, out, policy, frame_hook=interrupt))
    assert seen and not any(pid_alive(p) for p in seen)
    assert len(ResultsLog.read(out / "results.jsonl").frames) == 2
    assert json.loads((out / "summary.json").read_text())["complete"] is False


def test_gap8_run_is_bit_exact_at_the_cluster_clock(root, sequence, policy):
    need("riscv64-unknown-elf-gcc", "qemu-system-riscv32")
    export_dir = tiny_export("gap8", root)
    short = tuple(a[:5] for a in sequence)
    s = run_hil(spec("gap8", export_dir, short, root / "gap8", "always-big"))
    assert s["target"] == "gap8" and s["emulated"] and s["operating_point"] == "max-performance"
    assert s["bit_exact_frames"] == 5 and s["big_share"] == 1.0
    assert s["latency_ms"]["mean"] == pytest.approx(s["cycles"]["mean"] / 170e6 * 1e3, rel=1e-12)
    assert s["energy_mj"]["mean"] == pytest.approx(88.3 * s["cycles"]["mean"] / 170e6, rel=1e-12)
    assert live_processes() == []


def test_qemu_dies_with_a_killed_harness(root, stm32_run):
    """Even SIGKILL (no finally, no atexit) of the harness takes QEMU down: PR_SET_PDEATHSIG."""
    import subprocess
    import sys
    import time

    export_dir = stm32_run[0]
    code = ("import sys, time\n"
            "from edgeadapt.codegen.targets import load_target\n"
            "from edgeadapt.harness.qemu import FirmwareProcess\n"
            f"fw = FirmwareProcess.qemu(load_target('stm32'), {str(export_dir)!r})\n"
            "print(fw.pid, flush=True)\n"
            "time.sleep(60)\n")
    harness = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        qemu_pid = int(harness.stdout.readline())
        assert pid_alive(qemu_pid)
        harness.kill()
        harness.wait(10)
        deadline = time.monotonic() + 15
        while pid_alive(qemu_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pid_alive(qemu_pid)
    finally:
        if harness.poll() is None:
            harness.kill()
