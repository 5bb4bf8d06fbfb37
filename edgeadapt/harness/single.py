"""`hil run` on a single-model export (docs/decisions.md D18): one model, no policy.

The device runs model 0 on every step and decides nothing, so there is no twin and no policy to
install or replay: restoring the device is `ea-reset` alone. Everything else is the pair's
machinery (runner.Session): CRC-checked frame loads, repeatable `ea-step <frame>`, every frame's
outputs checked bit-exact against the integer reference, cycle plausibility under an emulator,
the same reply twice before a mismatch is recorded, resume.

The task figures are edgeadapt.data.task_metrics of the device's outputs for the data's task: pose
MAE, regression MAE and R2, classification top-1 accuracy; data without labels gives outputs only.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.harness.device import LinkError
from edgeadapt.harness.runner import RunState, Session, Suspect, _energy_source, _open_log, _terminate_as_interrupt
from edgeadapt.harness.summary import EMULATED_LABEL, percentiles
from edgeadapt.policy.sweep import POSE, dequantize
from edgeadapt.textio import atomic_write_text, write_json

ROLE = "model"
MODEL = 0


def run_task(task, labels, n: int):
    """The task of the run's labels: the data's own, or pose for (N, 4) labels given without one;
    None when there are no labels (outputs only)."""
    if labels is None or task == "none":
        return None
    labels = np.asarray(labels)
    if task is None:
        if labels.shape != (n, 4):
            raise EdgeadaptError(f"labels of shape {labels.shape} without a task: pass the dataset's task")
        task = "pose"
    if len(labels) != n:
        raise EdgeadaptError(f"{len(labels)} labels for {n} frames")
    return task


def task_figures(task, frames: list, fls: list) -> dict:
    """{"task", ...}: edgeadapt.data.task_metrics of the device's dequantized outputs (pose MAE,
    regression MAE / R2, top-1 accuracy), or {"task": None} for outputs only."""
    from edgeadapt.data import task_metrics

    if task is None or not frames:
        return {"task": task}
    real = np.vstack([dequantize(np.asarray(r["outputs"]), fls) for r in frames])
    labels = np.asarray([r["label"] for r in frames])
    return {"metrics": task_metrics(task, real, labels), "task": task}


def run_single(spec, target, manifest, graphs, op, echo) -> dict:
    """The single-model counterpart of runner.run_hil once the bundle and target are read."""
    from edgeadapt.harness.reference import frames_sha256, reference_outputs

    entry = manifest["models"][ROLE]
    images = spec_images(spec, manifest)
    n = len(images)
    fls = [int(f) for f in entry["output_fl"]]
    task = run_task(spec.task, spec.labels, n)
    labels = None if task is None else np.asarray(spec.labels)
    echo(f"reference outputs of the model on {n} frames")
    ref = {MODEL: reference_outputs(Path(spec.export_dir) / entry["source"]["file"], images, graphs[ROLE])}
    out = Path(spec.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = {
        "target": target["name"],
        "bundle": "single",
        "emulated": spec.link == "qemu",
        "link": spec.link if spec.link in ("qemu", "host") else "serial",
        "export": str(spec.export_dir),
        "models": {ROLE: {"name": entry["name"], "sha256": entry["source"]["sha256"]}},
        "output_fl": {str(MODEL): fls},
        "frames": n,
        "frames_sha256": frames_sha256(images),
        "data": spec.data_desc,
        "task": task,
        "policy": None,
        "policy_int": None,
        "operating_point": op.name,
        "clock_hz": op.clock_hz,
        "power": op.to_dict(),
        "frame_period_s": spec.frame_period_s,
        "energy_source": _energy_source(op, spec.frame_period_s),
    }
    results_path = out / "results.jsonl"
    session = _open_log(results_path, header, spec.resume)
    log = session["log"]
    if len(log.frames) >= n:
        echo(f"{results_path}: all {n} frames already recorded")
    else:
        from edgeadapt.harness.runner import _open_link

        try:
            with _terminate_as_interrupt(), open(out / "link.log", "a") as transcript:
                with _open_link(spec, target, out) as (transport, booting):
                    dev = _device(spec, transport, booting, transcript)
                    SingleSession(spec, dev, RunState(target, images, labels, None, ref, fls, None, log, op, echo,
                                                      session["number"], transcript)).run(booting)
        except BaseException as exc:
            log.close()
            if log.frames:
                write_json(out / "summary.json", summarize_single(log.header, log.frames, log.calibration))
            _reraise_link(exc, log)
            raise
    log.close()
    summary = summarize_single(log.header, log.frames, log.calibration)
    write_json(out / "summary.json", summary)
    write_single_report(out, log.header, summary)
    return summary


def spec_images(spec, manifest) -> np.ndarray:
    from edgeadapt.codegen.bundle import frames_for_input

    images = np.asarray(spec.images, dtype=np.uint8)
    if len(images) == 0:
        raise EdgeadaptError("no frames to run")
    return frames_for_input(images, manifest["input_shape"])


def _device(spec, transport, booting, transcript):
    from edgeadapt.harness.device import Device

    if spec.wrap_transport is not None:
        transport = spec.wrap_transport(transport)
    spec.transports.append(transport)
    window = spec.window if spec.window is not None else (None if booting else 1)
    dev = Device(transport, timeout=spec.timeout, step_timeout=spec.step_timeout, log=transcript,
                 chunk=spec.chunk, window=window)
    spec.devices.append(dev)
    return dev


def _reraise_link(exc, log):
    from edgeadapt.harness.transport import LinkClosed

    if isinstance(exc, LinkClosed):
        raise EdgeadaptError(f"device link lost: {exc} ({len(log.frames)} frames recorded; --resume continues)") from None
    if isinstance(exc, LinkError):
        raise EdgeadaptError(f"device link unusable: {exc} ({len(log.frames)} frames recorded; "
                             f"--resume continues)") from None


class SingleSession(Session):
    """Session without a policy: model 0 on every frame, the device's next model always 0."""

    def __init__(self, spec, dev, state):
        # one sequence (no state to restart), the one model's FLs under its id, no policy
        state = replace(state, sequence=np.zeros(len(state.images), dtype=np.int64), fls={MODEL: state.fls},
                        int_cfg=None)
        super().__init__(spec, dev, state)
        self.frame_bytes = int(np.prod(state.images.shape[1:]))

    def run(self, booting):
        dev = self.dev
        try:
            if not booting:
                raise LinkError("attached to a running device")
            dev.wait_banner(timeout=60.0)
        except LinkError:
            self._retrying("sync", lambda: dev.resync(self.frame_bytes))
        self._check_info(self._retrying("ea-info", dev.confirmed_info))
        self._retrying("ea-select model", lambda: dev.select(ROLE))
        if self.log.calibration is None:
            self.log.append({"kind": "calibration", **self._retrying("calibration", self._calibrate)})
        self.calib = self.log.calibration["cycles"]
        start = len(self.log.frames)
        self.echo(f"{'resuming at' if start else 'streaming from'} frame {start} of {len(self.images)}")
        self._retrying("restore", lambda: self._restore(start), budget=4 * self.spec.max_attempts)
        for t in range(start, len(self.images)):
            record = self._frame(t)
            self.log.append(record)
            if self.spec.frame_hook is not None:
                self.spec.frame_hook(t)
            done = t + 1
            if done == len(self.images) or done % max(1, len(self.images) // 10) == 0:
                self.echo(f"frame {done}/{len(self.images)}: {record['latency_ms']:.3f} ms, "
                          f"retries so far {len(self.retry_reasons)}")
            if not record["bit_exact"]:
                self.echo(f"MISMATCH at frame {t}: {record['problem']}")

    def _check_info(self, info):
        h, w, c = self.images.shape[1:]
        if len(info.models) != 1:
            raise EdgeadaptError(f"the device runs {len(info.models)} models, the export one: flash the firmware "
                                 f"built from this export")
        channels = getattr(info, "channels", None)
        if (info.height, info.width) != (h, w) or (channels is not None and channels != c):
            raise EdgeadaptError(f"the device's model reads {info.height}x{info.width}x{channels} frames, "
                                 f"the export {h}x{w}x{c}")
        if info.models[MODEL]["fl"] != self.fls[MODEL]:
            raise EdgeadaptError(f"the device runs another model (output FLs {info.models[MODEL]['fl']}, export "
                                 f"{self.fls[MODEL]}): flash the firmware built from this export")

    def _calibrate(self) -> dict:
        """Cycles of the model on frame 0, read twice (the readings must agree)."""
        dev = self.dev
        self._retrying("calibration: frame 0", lambda: dev.load_frame(self.images[0].tobytes()))
        self._retrying("calibration: ea-reset", dev.reset)
        a = dev.confirmed_step(0)
        b = dev.confirmed_step(1)
        if a.model != MODEL or b.model != MODEL or a.outputs != b.outputs:
            raise LinkError("calibration: the two readings differ", executed=True)
        if self.emulated and a.cycles != b.cycles:
            raise LinkError(f"calibration: cycles {a.cycles} then {b.cycles}", executed=True)
        exact = list(a.outputs) == [int(v) for v in self.ref[MODEL][0]]
        return {"frame": 0, "cycles": {ROLE: a.cycles}, "bit_exact": {ROLE: exact}}

    def _restore(self, t):
        """A single model keeps no state between frames: the device's frame index back to 0."""
        self._retrying("restore: ea-reset", self.dev.reset)
        self.dev_counter = 0

    def _expected_model(self, twin, t) -> int:
        return MODEL

    def _advance(self, twin, step, t):
        return None, MODEL

    def _check(self, step, t, expected_model):
        problems = []
        if step.frame != self.dev_counter:
            problems.append(f"frame index {step.frame}, expected {self.dev_counter}")
        if step.model != MODEL or step.next_model != MODEL:
            problems.append(f"ran model {step.model} (next {step.next_model}), a single-model export runs 0")
        want = [int(v) for v in self.ref[MODEL][t]]
        if list(step.outputs) != want:
            problems.append(f"outputs {list(step.outputs)} differ from the reference {want}")
        if self.emulated and not problems:
            calib = self.calib[ROLE]
            if abs(step.cycles - calib) > 0.25 * calib:
                problems.append(f"cycles {step.cycles} implausible (calibration {calib})")
            if step.policy_cycles:
                problems.append(f"policy cycles {step.policy_cycles} without a policy")
        if problems:
            key = (step.model, step.outputs, step.next_model) + ((step.cycles,) if self.emulated else ())
            raise Suspect("; ".join(problems), key)

    def _record(self, t, step, stamp, attempts, problem, agrees) -> dict:
        want = [int(v) for v in self.ref[MODEL][t]]
        latency_s = (step.cycles + step.policy_cycles) / self.op.clock_hz
        energy = self.op.frame_energy_mj(latency_s, self.spec.frame_period_s)
        label = None
        if self.labels is not None:
            label = self.labels[t].tolist() if np.ndim(self.labels[t]) else int(self.labels[t])
        return {
            "kind": "frame",
            "frame": t,
            "model": step.model,
            "out_model": MODEL,
            "cycles": step.cycles,
            "policy_cycles": step.policy_cycles,
            "core_cycles": list(step.core_cycles),
            "outputs": list(step.outputs),
            "label": label,
            "bit_exact": list(step.outputs) == want,
            "problem": problem,
            "latency_ms": latency_s * 1e3,
            "energy_mj": None if energy is None else float(energy),
            "device_us": stamp,
            "attempts": attempts,
            "session": self.number,
        }


def summarize_single(header: dict, frames: list, calibration=None, energy=None) -> dict:
    """summary.json of a single-model run: bit-exact frames, latency, cycles, energy, task figures."""
    n = len(frames)
    cycles = np.array([r["cycles"] for r in frames], dtype=np.float64)
    latency_ms = cycles / header["clock_hz"] * 1e3
    if energy is not None:
        per_frame, energy_source = np.asarray(energy["per_frame_mj"], dtype=np.float64), energy["source"]
    else:
        per_frame = np.array([r["energy_mj"] for r in frames if r.get("energy_mj") is not None])
        energy_source = header.get("energy_source")
    mismatches = [r["frame"] for r in frames if not r["bit_exact"]]
    emulated = bool(header["emulated"])
    return {
        "target": header["target"],
        "bundle": "single",
        "emulated": emulated,
        "frames": n,
        "bit_exact_frames": n - len(mismatches),
        "latency_ms": percentiles(latency_ms) if n else {"mean": None, "p50": None, "p99": None},
        "cycles": percentiles(cycles) if n else {"mean": None},
        **task_figures(header.get("task"), frames, header["output_fl"][str(MODEL)]),
        "energy_mj": percentiles(per_frame) if len(per_frame) == n and n else {"mean": None},
        "operating_point": header["operating_point"],
        "clock_mhz": header["clock_hz"] / 1e6,
        "power": header.get("power"),
        "frame_period_ms": header["frame_period_s"] * 1e3 if header.get("frame_period_s") else None,
        "energy_source": energy_source,
        "latency_label": EMULATED_LABEL if emulated else header.get("latency_label", "measured cycles / clock"),
        "mismatch_frames": mismatches[:50],
        "link": {"retries": int(sum(r.get("attempts", 1) - 1 for r in frames)),
                 "sessions": int(len({r.get("session", 0) for r in frames}))},
        "models": header["models"],
        "calibration": None if calibration is None else calibration.get("cycles"),
        "complete": n == header["frames"],
    }


def summary_rows(s: dict) -> list:
    """(figure, value) rows of a single-model summary, for the terminal and report.md."""
    lat, en = s["latency_ms"], s["energy_mj"]
    rows = [["frames", s["frames"]], ["bit-exact frames", s["bit_exact_frames"]],
            ["latency mean [ms]", lat["mean"]], ["latency p50 [ms]", lat["p50"]], ["latency p99 [ms]", lat["p99"]],
            ["cycles mean", s["cycles"]["mean"]]]
    metrics = s.get("metrics") or {}
    if s.get("task") == "pose":
        rows += [[f"MAE {k}", metrics["mae"][k]] for k in (*POSE, "sum")]
    elif s.get("task") == "regression":
        rows += [[f"MAE {k}", v] for k, v in metrics["mae"].items()]
    elif s.get("task") == "classification":
        rows.append(["accuracy (top-1)", metrics["top1"]])
    else:
        rows.append(["task figure", "none (the data has no labels: outputs only)"])
    rows += [["energy mean [mJ]", en.get("mean") if en.get("mean") is not None else "n/a"],
             ["operating point", s["operating_point"]]]
    return rows


def write_single_report(out_dir, header, summary) -> None:
    name = header["models"][ROLE]["name"]
    lines = [f"# HIL run: {header['target']}, single model {name}", ""]
    if summary["emulated"]:
        lines += [f"Emulated run. Latency and energy are an {summary['latency_label']}.", ""]
    lines += [f"Data: {header['data']}. Export: {header['export']}.", "", "| figure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary_rows(summary)]
    if summary["mismatch_frames"]:
        lines += ["", f"Frames whose outputs differ from the integer reference: {summary['mismatch_frames']}"]
    atomic_write_text(Path(out_dir) / "report.md", "\n".join(lines) + "\n")
