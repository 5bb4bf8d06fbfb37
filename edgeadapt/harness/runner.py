"""`hil run`: stream a test sequence through a device frame by frame and check every frame.

The policy state lives on the device; the harness keeps a twin of it (edgeadapt.policy.Policy)
fed with the device's own outputs, and checks per frame that

- the device ran the model the twin expected, and decided the next model as the twin does;
- the outputs are bit-exact with the integer reference of the model the device says it ran;
- under an emulator, the cycles are plausible for that model (a garbled digit shows up here).

A reply that fails a check may be link damage or a real fault. The harness then restores the
device to the state before the frame (reinstalls nothing: `ea-reset` and a replay of the
sequence's recorded outputs through `ea-decide`) and retries the frame. A reply that passes is
taken; the same failing reply twice is real, recorded as a mismatch, and fails the run. Link
faults (timeouts, garbled lines) resync the link and retry the one exchange that failed: frames
go up in CRC-checked chunks (`ldc`, only damaged chunks are sent again), a step is
`ea-step <frame>`, which the device runs once and reports again when asked again, and it is taken
only when its m-step-crc line matches the three lines before it (from firmware without that line:
when two readings agree), so a damaged digit that still parses is not recorded. Queries whose
values matter later (ea-info, the baked policy) are read until two readings agree as well.
"""

import copy
import signal
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.harness.device import DEFAULT_CHUNK, RUN_BOTH, Device, LinkError, OutOfStep, same_policy
from edgeadapt.harness.energy import operating_point
from edgeadapt.harness.qemu import FirmwareProcess
from edgeadapt.harness.reference import frames_sha256, reference_outputs
from edgeadapt.harness.results import ResultsLog
from edgeadapt.harness.summary import summarize
from edgeadapt.harness.transport import LinkClosed, SerialTransport
from edgeadapt.policy import Policy, load_policy_config, protocol_commands, quantize_policy
from edgeadapt.policy.config import KINDS
from edgeadapt.policy.engine import BIG, SMALL
from edgeadapt.policy.sweep import dequantize
from edgeadapt.textio import write_json

MODEL_IDS = {"small": SMALL, "big": BIG}
HOST_HZ = 1e9  # the host build's cycle counter is CLOCK_MONOTONIC nanoseconds
CYCLE_TOLERANCE = 0.25  # emulated cycles of a model stay within this of its calibration
POLICY_CYCLE_LIMIT = 0.02  # a decision costs far less than this fraction of a small-model run


class Suspect(Exception):
    """A reply that ran on the device but disagrees with the reference or the twin."""

    def __init__(self, reason, reading):
        super().__init__(reason)
        self.reading = reading


@dataclass
class RunSpec:
    """What to run. `link` is "qemu", "host" or a serial port / pyserial URL."""

    target: str
    export_dir: Path
    images: np.ndarray  # uint8 (N, H, W[, C]), the frames in order
    labels: np.ndarray  # (N, 4) pose; a single model takes any task's labels (edgeadapt.data.Frames) or None
    sequence: np.ndarray  # (N,) sequence ids; the policy restarts where it changes
    out_dir: Path
    link: str = "qemu"
    task: str | None = None  # the labels' task (pose, regression, classification, none); None: pose or no labels
    policy: str | None = None  # "always-small", "always-big", a policy.json; None: the device's own
    baud: int = 115200
    operating_point: str | None = None
    frame_period_s: float | None = None
    resume: bool = False
    data_desc: str = ""
    timeout: float = 5.0
    step_timeout: float = 120.0
    max_attempts: int = 12
    chunk: int = DEFAULT_CHUNK  # bytes per chunk of the frame load (ldc)
    window: int | None = None  # ldc records in flight: None = a whole pass on QEMU and the host build, 1 on a port
    wrap_transport: object = None  # callable(transport) -> transport (fault injection in tests)
    echo: object = None  # callable(str) for progress lines
    frame_hook: object = None  # callable(frame index) after each frame is recorded (tests)
    transports: list = field(default_factory=list)  # every transport used (for tests to inspect)
    devices: list = field(default_factory=list)  # every Device used (its link statistics)


def run_hil(spec: RunSpec) -> dict:
    """Run (or resume) a HIL run; returns summary.json's dict. Writes results.jsonl, summary.json,
    report.md (+ PNGs) and link.log into spec.out_dir."""
    from edgeadapt.codegen.targets import load_target
    from edgeadapt.codegen.bundle import load_bundle_models, read_manifest

    echo = spec.echo or (lambda text: None)
    target = load_target(spec.target)
    manifest = read_manifest(spec.export_dir)
    if manifest["target"] != target["name"]:
        raise EdgeadaptError(f"{spec.export_dir} was exported for target '{manifest['target']}', "
                             f"not '{target['name']}'")
    graphs = load_bundle_models(spec.export_dir, manifest)
    if spec.link == "host" and target["name"] != "host":
        raise EdgeadaptError(f"the host build runs exports for target 'host', not '{target['name']}'")
    op = operating_point(target, spec.operating_point, device_hz=HOST_HZ if spec.link == "host" else None)
    if list(graphs) == ["model"]:  # a single-model export: no policy, no twin (D18)
        from edgeadapt.harness.single import run_single

        return run_single(spec, target, manifest, graphs, op, echo)
    images = np.ascontiguousarray(spec.images, dtype=np.uint8)
    h, w = manifest["input_shape"][:2]
    if images.ndim != 3 or images.shape[1:] != (h, w) or len(images) == 0:
        raise EdgeadaptError(f"frames are {images.shape}, the exported models read {h}x{w} (N, {h}, {w})")
    n = len(images)
    labels = np.asarray(spec.labels, dtype=np.float64)
    sequence = np.asarray(spec.sequence)
    if labels.shape != (n, 4) or sequence.shape != (n,):
        raise EdgeadaptError(f"{n} frames need (N, 4) labels and (N,) sequence ids, got {labels.shape} "
                             f"and {sequence.shape}")
    fls = {MODEL_IDS[r]: [int(f) for f in manifest["models"][r]["output_fl"]] for r in MODEL_IDS}
    emulated = spec.link == "qemu"

    echo(f"reference outputs of both models on {n} frames")
    ref = {m: reference_outputs(Path(spec.export_dir) / manifest["models"][r]["source"]["file"], images, graphs[r])
           for r, m in MODEL_IDS.items()}

    int_cfg, policy_desc = None, None
    if spec.policy is not None:
        cfg = load_policy_config(spec.policy)
        int_cfg = quantize_policy(cfg, fls[SMALL], fls[BIG])
        policy_desc = spec.policy if spec.policy in ("always-small", "always-big") else cfg.to_dict()

    out = Path(spec.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = {
        "target": target["name"],
        "emulated": emulated,
        "link": spec.link if spec.link in ("qemu", "host") else "serial",
        "export": str(spec.export_dir),
        "models": {r: {"name": manifest["models"][r]["name"], "sha256": manifest["models"][r]["source"]["sha256"]}
                   for r in MODEL_IDS},
        "output_fl": {str(m): fls[m] for m in fls},
        "frames": n,
        "frames_sha256": frames_sha256(images),
        "data": spec.data_desc,
        "policy": policy_desc,
        "policy_int": None if int_cfg is None else _int_cfg_dict(int_cfg),
        "operating_point": op.name,
        "clock_hz": op.clock_hz,
        "power": op.to_dict(),
        "frame_period_s": spec.frame_period_s,
        "energy_source": _energy_source(op, spec.frame_period_s),
    }
    results_path = out / "results.jsonl"
    session = _open_log(results_path, header, spec.resume)  # refuses a run that is not this one
    log = session["log"]
    save_run_arrays(out / "reference.npz", ref, labels, sequence)
    if len(log.frames) >= n:
        echo(f"{results_path}: all {n} frames already recorded")
    else:
        try:
            with _terminate_as_interrupt(), open(out / "link.log", "a") as transcript:
                state = RunState(target, images, labels, sequence, ref, fls, int_cfg, log, op, echo,
                                 session["number"], transcript)
                _drive(spec, state)
        except BaseException:
            log.close()
            if log.frames:  # what is done is summarized even when the run stops early
                write_json(out / "summary.json", summarize(log.header, log.frames, log.calibration))
            raise
    log.close()
    summary = summarize(log.header, log.frames, log.calibration)
    write_json(out / "summary.json", summary)
    from edgeadapt.harness.report import write_report

    write_report(out, log.header, log.frames, summary, ref=ref, labels=labels, sequence=sequence,
                 calibration=log.calibration)
    return summary


def save_run_arrays(path, ref, labels, sequence) -> None:
    """reference.npz: both models' reference outputs, labels and sequence ids of the run's frames,
    so the report can be rebuilt from the run folder alone."""
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, small=ref[SMALL], big=ref[BIG], labels=labels, sequence=sequence)
    tmp.replace(path)


def load_run_arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return {SMALL: z["small"], BIG: z["big"]}, z["labels"], z["sequence"]


def _open_log(path, header, resume):
    if path.exists() and path.stat().st_size > 0:
        if not resume:
            raise EdgeadaptError(f"{path} exists: pass --resume to continue that run, or choose another --out")
        log = ResultsLog.resume(path, header)
        return {"log": log, "number": 1 + max((r.get("session", 0) for r in log.frames), default=0)}
    return {"log": ResultsLog.create(path, header), "number": 0}


def _energy_source(op, period):
    if op.active_mw is None:
        return None
    text = f"power model: {op.active_mw:g} mW active"
    if period is not None:
        text += f", {op.idle_mw:g} mW idle, frame period {period * 1e3:g} ms"
    else:
        text += ", frames back to back"
    return text + ("" if op.verified else " (figures not verified)")


def _int_cfg_dict(c) -> dict:
    return {"kind": KINDS[c.kind], "num_channels": c.num_channels, "weight": list(c.weight),
            "threshold": c.threshold, "aux_index": c.aux_index, "aux_threshold": c.aux_threshold, "k": c.k,
            "rerun": c.rerun, "seed": c.seed, "p_big": c.p_big,
            **({"part_n": c.part_n, "part_channel": list(c.part_channel), "part_abs": c.part_abs,
                "part_ncut": list(c.part_ncut), "part_cut": [[list(ch) for ch in m] for m in c.part_cut],
                "part_mask": c.part_mask} if c.part_n else {})}


@contextmanager
def _terminate_as_interrupt():
    """SIGTERM unwinds like Ctrl-C, so every `finally` (stopping QEMU) runs."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _open_link(spec, target, out):
    if spec.link == "qemu":
        with FirmwareProcess.qemu(target, spec.export_dir, log_path=out / "qemu.log") as fw:
            yield fw.transport, True
    elif spec.link == "host":
        with FirmwareProcess.host(target, spec.export_dir, log_path=out / "host.log") as fw:
            yield fw.transport, True
    else:
        transport = SerialTransport(spec.link, baudrate=spec.baud)
        try:
            yield transport, False
        finally:
            transport.close()


@dataclass
class RunState:
    """What one run carries from setup into every session on the device: the frames and their
    reference, the policy, the results log and where the link's transcript goes."""

    target: dict
    images: np.ndarray  # uint8 (N, H, W)
    labels: np.ndarray  # (N, 4)
    sequence: np.ndarray  # (N,) sequence ids
    ref: dict  # model id -> the integer reference's raw outputs (N, K)
    fls: dict  # model id -> output FLs
    int_cfg: object  # IntPolicyConfig, or None: the device's baked policy
    log: object  # ResultsLog
    op: object  # the operating point
    echo: object  # callable(str)
    number: int  # session number in results.jsonl
    transcript: object = None  # link.log, open for writing


def _drive(spec, state: RunState):
    out = Path(spec.out_dir)
    log, transcript = state.log, state.transcript
    try:
        with _open_link(spec, state.target, out) as (transport, booting):
            if spec.wrap_transport is not None:
                transport = spec.wrap_transport(transport)
            spec.transports.append(transport)
            window = spec.window if spec.window is not None else (None if booting else 1)
            dev = Device(transport, timeout=spec.timeout, step_timeout=spec.step_timeout, log=transcript,
                         chunk=spec.chunk, window=window)
            spec.devices.append(dev)
            Session(spec, dev, state).run(booting)
    except LinkClosed as exc:
        raise EdgeadaptError(f"device link lost: {exc} ({len(log.frames)} frames recorded; "
                             f"--resume continues)") from None
    except LinkError as exc:  # the link stayed garbled through every resync
        raise EdgeadaptError(f"device link unusable: {exc} ({len(log.frames)} frames recorded; "
                             f"--resume continues)") from None


class Session:
    """One connection to the device: setup, then frames until the run is complete."""

    def __init__(self, spec, dev, state: RunState):
        self.spec, self.dev, self.state = spec, dev, state
        self.images, self.labels, self.sequence = state.images, state.labels, state.sequence
        self.ref, self.fls, self.int_cfg = state.ref, state.fls, state.int_cfg
        self.log, self.op, self.echo, self.number = state.log, state.op, state.echo, state.number
        self.emulated = spec.link == "qemu"
        self.frame_bytes = state.images.shape[1] * state.images.shape[2]
        self.dev_counter = 0  # the device's frame index since its last reset
        self.twin = None
        self.calib = None
        self.retry_reasons = []
        self.lines = []  # the ea-policy commands that install int_cfg

    # ------------------------------------------------------------------ helpers

    def _retrying(self, what, fn, budget=None):
        """fn() with link-fault retries (resync in between); DeviceError and others pass through."""
        last = None
        for _ in range(budget or self.spec.max_attempts):
            try:
                return fn()
            except LinkError as exc:
                last = exc
                self.retry_reasons.append(f"{what}: {exc}")
                self.dev.resync()
        raise EdgeadaptError(f"{what}: the link keeps failing ({last})")

    def _seq_start(self, t) -> int:
        s = t
        while s > 0 and self.sequence[s - 1] == self.sequence[t]:
            s -= 1
        return s

    # ------------------------------------------------------------------ setup

    def run(self, booting):
        dev = self.dev
        try:
            if not booting:
                raise LinkError("attached to a running device")
            dev.wait_banner(timeout=60.0)  # nothing may be sent before the UART is up
        except LinkError:
            self._retrying("sync", lambda: dev.resync(self.frame_bytes))
        info = self._retrying("ea-info", dev.confirmed_info)
        self._check_info(info)
        baked = None
        if self.int_cfg is None:  # no --policy: the one baked into the firmware at export
            self.int_cfg = self._retrying("ea-policy default", lambda: dev.confirmed(dev.baked_policy))
            baked = _int_cfg_dict(self.int_cfg)
            recorded = (self.log.calibration or {}).get("device_policy")
            if recorded is not None and recorded != baked:
                raise EdgeadaptError("cannot resume: the firmware's baked policy differs from the recorded one")
        self.lines = protocol_commands(self.int_cfg, self.fls[SMALL], self.fls[BIG])
        if self.log.calibration is None:
            calibration = self._retrying("calibration", self._calibrate)
            self.log.append({"kind": "calibration", **calibration, "device_policy": baked})
        self.calib = self.log.calibration["cycles"]
        self._install()
        start = len(self.log.frames)
        self.echo(f"{'resuming at' if start else 'streaming from'} frame {start} of {len(self.images)}")
        self._retrying("restore", lambda: self._restore(start), budget=4 * self.spec.max_attempts)
        from edgeadapt.console import progress

        with progress(total=len(self.images), initial=start, desc="hil", unit="frame") as bar:
            for t in range(start, len(self.images)):
                record = self._frame(t)
                bar.update()
                bar.set_postfix_str(f"model {record['model']}, {record['latency_ms']:.3f} ms", refresh=False)
                self.log.append(record)
                if self.spec.frame_hook is not None:
                    self.spec.frame_hook(t)
                if not record["bit_exact"] or not record["policy_agrees"]:
                    self.echo(f"MISMATCH at frame {t}: {record['problem']}")
                if not record["policy_agrees"]:
                    raise EdgeadaptError(f"frame {t}: the device's policy disagrees with the reference twin "
                                         f"({record['problem']}); results up to here are in results.jsonl")
        if self.retry_reasons:
            self.echo(f"{len(self.retry_reasons)} retried exchange(s) on the link")

    def _check_info(self, info):
        h, w = self.images.shape[1:]
        if (info.height, info.width) != (h, w):
            raise EdgeadaptError(f"the device's models read {info.height}x{info.width} frames, the export {h}x{w}")
        for role, m in MODEL_IDS.items():
            if info.models[m]["fl"] != self.fls[m]:
                raise EdgeadaptError(f"the device runs another {role} model (output FLs {info.models[m]['fl']}, "
                                     f"export {self.fls[m]}): flash the firmware built from this export")

    def _install(self):
        """The policy lines one by one (each is idempotent), the last one's read-back checked."""
        for i, text in enumerate(self.lines):
            final = i == len(self.lines) - 1
            self._retrying("policy install", lambda: self.dev.install_policy(self.int_cfg, [text], check=final))
        self._retrying("ea-select policy", lambda: self.dev.select("policy"))
        self.dev_counter = 0

    def _calibrate(self) -> dict:
        """Cycles of each model on frame 0, read twice (the readings must agree; under an emulator
        the cycles too), and whether the outputs are bit-exact."""
        dev = self.dev
        self._retrying("calibration: frame 0", lambda: dev.load_frame(self.images[0].tobytes()))
        self._retrying("calibration: ea-reset", dev.reset)
        cycles, exact, index = {}, {}, 0
        for role, m in MODEL_IDS.items():
            self._retrying(f"calibration: ea-select {role}", lambda: dev.select(role))
            a = dev.confirmed_step(index)
            b = dev.confirmed_step(index + 1)
            index += 2
            if a.model != m or b.model != m or a.outputs != b.outputs:
                raise LinkError(f"calibration of {role}: the two readings differ", executed=True)
            if self.emulated and a.cycles != b.cycles:
                raise LinkError(f"calibration of {role}: cycles {a.cycles} then {b.cycles}", executed=True)
            cycles[role] = a.cycles
            exact[role] = list(a.outputs) == [int(v) for v in self.ref[m][0]]
        self._retrying("calibration: ea-select policy", lambda: dev.select("policy"))
        return {"frame": 0, "cycles": cycles, "bit_exact": exact}

    def _restore(self, t):
        """Device and twin in the state they had after frame t - 1 (replaying its sequence so far)."""
        dev = self.dev
        got = self._retrying("restore: ea-policy", dev.policy)
        if not same_policy(got, self.int_cfg):
            raise LinkError("the device's policy changed", executed=None)
        self._retrying("restore: ea-select", lambda: dev.select("policy"))
        self._retrying("restore: ea-reset", dev.reset)
        self.dev_counter = 0
        self.twin = Policy(self.int_cfg)
        for r in self.log.frames[self._seq_start(t):t]:
            steps = [(SMALL, self.ref[SMALL][r["frame"]]), (BIG, r["outputs"])] if r["model"] == RUN_BOTH else [
                (r["model"], r["outputs"])]
            for model, outputs in steps:
                nxt, rerun = dev.decide(model, self._decide_args(model, outputs))
                tnext = self.twin.decide_next(model, [int(v) for v in outputs])
                if (nxt, bool(rerun)) != (tnext, self.twin.rerun):
                    raise LinkError(f"replay of frame {r['frame']}: device decided {nxt}, twin {tnext}")
            if nxt != r["next"]:
                raise LinkError(f"replay of frame {r['frame']}: next {nxt}, recorded {r['next']}")

    def _decide_args(self, model, outputs):
        """The outputs ea-decide needs, trimmed to fit a command line."""
        values = [int(v) for v in outputs]
        text = ",".join(map(str, values))
        if len(text) + 12 <= 80:
            return values
        c = self.int_cfg
        if KINDS[c.kind] == "partition":  # reads the outputs of either model
            return values[: max(c.part_channel) + 1]
        needed = c.num_channels if KINDS[c.kind] == "temporal" else c.aux_index + 1 if KINDS[c.kind] == "aux" else 1
        return values[: max(1, needed if model == SMALL else 1)]

    # ------------------------------------------------------------------ one frame

    def _expected_model(self, twin, t) -> int:
        """The model(s) the twin expects on frame t: small may turn into small-then-big (rerun)."""
        if twin.next_model == BIG:
            return BIG
        probe = copy.deepcopy(twin)
        probe.decide_next(SMALL, [int(v) for v in self.ref[SMALL][t]])
        return RUN_BOTH if probe.rerun else SMALL

    def _advance(self, twin, step, t):
        """A copy of twin after the frame the device reported; its next decision."""
        nxt_twin = copy.deepcopy(twin)
        if step.model == RUN_BOTH:
            nxt_twin.decide_next(SMALL, [int(v) for v in self.ref[SMALL][t]])
            nxt = nxt_twin.decide_next(BIG, list(step.outputs))
        else:
            nxt = nxt_twin.decide_next(step.model, list(step.outputs))
        return nxt_twin, nxt

    def _check(self, step, t, expected_model):
        """Raise Suspect unless the reply agrees with the reference, the twin and the calibration."""
        problems = []
        if step.frame != self.dev_counter:
            problems.append(f"frame index {step.frame}, expected {self.dev_counter}")
        if step.model != expected_model:
            problems.append(f"ran model {step.model}, twin expected {expected_model}")
        want = [int(v) for v in self.ref[step.out_model][t]]
        if list(step.outputs) != want:
            problems.append(f"outputs {list(step.outputs)} differ from the reference {want}")
        _, twin_next = self._advance(self.twin, step, t)
        if step.next_model != twin_next:
            problems.append(f"next model {step.next_model}, twin decides {twin_next}")
        if self.emulated and not problems:
            calib = self.calib["small"] * (step.model != BIG) + self.calib["big"] * (step.model != SMALL)
            if abs(step.cycles - calib) > CYCLE_TOLERANCE * calib:
                problems.append(f"cycles {step.cycles} implausible (calibration {calib})")
            if step.policy_cycles > POLICY_CYCLE_LIMIT * self.calib["small"]:
                problems.append(f"policy cycles {step.policy_cycles} implausible")
        if problems:
            key = (step.model, step.outputs, step.next_model) + ((step.cycles,) if self.emulated else ())
            raise Suspect("; ".join(problems), key)

    def _frame(self, t) -> dict:
        dev = self.dev
        if t == self._seq_start(t) and t > 0:
            self._retrying("ea-reset", lambda: self._restore(t), budget=4 * self.spec.max_attempts)
        readings, attempts, need_restore = [], 0, False
        while True:
            if attempts == self.spec.max_attempts:
                raise EdgeadaptError(f"frame {t}: no good reply after {attempts} attempts "
                                     f"({self.retry_reasons[-1] if self.retry_reasons else '?'})")
            if need_restore:
                # a replay is long (the sequence so far): it gets its own, larger retry budget
                self._retrying(f"frame {t}: restore", lambda: self._restore(t), budget=4 * self.spec.max_attempts)
                need_restore = False
            attempts += 1
            step_sent = False
            try:
                dev.load_frame(self.images[t].tobytes())
                stamp = self._retrying(f"frame {t}: timestamp", dev.timestamp_us)
                expected = self._expected_model(self.twin, t)
                step_sent = True
                step = dev.confirmed_step(self.dev_counter)
                self._check(step, t, expected)
                problem = None
            except OutOfStep as exc:  # the device is elsewhere in the sequence (a damaged command ran)
                self.retry_reasons.append(f"frame {t}: {exc}")
                need_restore = True
                continue
            except LinkError as exc:
                self.retry_reasons.append(f"frame {t}: {exc}")
                dev.resync()
                need_restore = need_restore or (step_sent and exc.executed is not False)
                continue
            except Suspect as exc:
                self.retry_reasons.append(f"frame {t}: {exc}")
                if exc.reading not in readings:
                    readings.append(exc.reading)
                    need_restore = True
                    continue
                problem = str(exc)  # the same reply twice: the device really does this
            break
        self.dev_counter += 1
        self.twin, twin_next = self._advance(self.twin, step, t)
        agrees = step.model == expected and step.next_model == twin_next
        return self._record(t, step, stamp, attempts, problem, agrees)

    def _record(self, t, step, stamp, attempts, problem, agrees) -> dict:
        m = step.out_model
        want = [int(v) for v in self.ref[m][t]]
        cycles = step.cycles + step.policy_cycles
        latency_s = cycles / self.op.clock_hz
        energy = self.op.frame_energy_mj(latency_s, self.spec.frame_period_s)
        real = dequantize(np.asarray(step.outputs), self.fls[m][: len(step.outputs)])
        return {
            "kind": "frame",
            "frame": t,
            "sequence": int(self.sequence[t]),
            "model": step.model,
            "out_model": m,
            "next": step.next_model,
            "cycles": step.cycles,
            "policy_cycles": step.policy_cycles,
            "core_cycles": list(step.core_cycles),
            "outputs": list(step.outputs),
            "outputs_real": [float(v) for v in real],
            "label": [float(v) for v in self.labels[t]],
            "abs_err": [float(abs(a - b)) for a, b in zip(real[:4], self.labels[t])],
            "bit_exact": list(step.outputs) == want,
            "policy_agrees": agrees,
            "problem": problem,
            "latency_ms": latency_s * 1e3,
            "energy_mj": None if energy is None else float(energy),
            "device_us": stamp,
            "attempts": attempts,
            "session": self.number,
        }

