"""`edgeadapt hil`: run a test sequence on a board or QEMU and measure latency, MAE and energy."""

import json
from pathlib import Path

import click

from edgeadapt.errors import EdgeadaptError
from edgeadapt.splits import SPLITS
from edgeadapt.textio import format_table, write_json


@click.group("hil")
def command():
    """Hardware-in-the-loop runs over a serial link (a board, or QEMU with -icount)."""


@command.command("run")
@click.option("--target", required=True, help="Target description (stm32, gap8, host, ...).")
@click.option("--port", help="Serial port of a board (/dev/ttyUSB0) or a pyserial URL.")
@click.option("--baud", default=115200, show_default=True, type=int, help="Baud rate of --port.")
@click.option("--emulator", type=click.Choice(["qemu", "host"]),
              help="Start the firmware under QEMU (or as a host program) instead of using --port.")
@click.option("--export", "export_dir", required=True, type=click.Path(file_okay=False), help="Export bundle.")
@click.option("--data", "data_dir", required=True, type=click.Path(), help="Dataset folder.")
@click.option("--split", default="test", show_default=True, type=click.Choice(list(SPLITS)))
@click.option("--frames", default=60, show_default=True, type=int, help="First N frames of the split.")
@click.option("--sequences", type=click.IntRange(1, None),
              help="Spread the N frames over this many sequences of the split (default: the first N frames).")
@click.option("--policy", help="always-small, always-big or a policy.json (default: the device's baked policy).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Run folder (default results/<target>-<policy>).")
@click.option("--operating-point", help="Operating point of the target (default: its default one).")
@click.option("--frame-period-ms", type=float, help="Frame period for the idle energy (default: back to back).")
@click.option("--resume", is_flag=True, help="Continue the run recorded in --out.")
@click.option("--overwrite", is_flag=True, help="Discard a run recorded in --out and start again.")
@click.option("--timeout", default=5.0, show_default=True, type=float, help="Seconds to wait for a reply.")
@click.option("--chunk", default=128, show_default=True, type=click.IntRange(16, 256),
              help="Bytes per chunk of the frame load (ldc); it shrinks by itself on a noisy link.")
@click.option("--window", type=click.IntRange(1, None),
              help="Chunk records sent before reading their replies (default: a whole pass under an emulator, "
                   "1 on --port).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the summary here ('-': stdout).")
def run_command(target, port, baud, emulator, export_dir, data_dir, split, frames, sequences, policy, out_dir,
                operating_point, frame_period_ms, resume, overwrite, timeout, chunk, window, json_path):
    """Stream frames through the device, check each against the integer reference, write
    results.jsonl, summary.json and report.md. A single-model export (`export --model`) runs
    with no policy and reports pose MAE, accuracy or outputs only, as the data's labels allow."""
    from edgeadapt.data import load_split
    from edgeadapt.harness.runner import RunSpec, run_hil

    if (port is None) == (emulator is None):
        raise EdgeadaptError("give exactly one of --port and --emulator")
    if resume and overwrite:
        raise EdgeadaptError("--resume and --overwrite exclude each other")
    if frames < 1:
        raise EdgeadaptError(f"--frames must be >= 1, got {frames}")
    if frame_period_ms is not None and frame_period_ms <= 0:
        raise EdgeadaptError(f"--frame-period-ms must be > 0, got {frame_period_ms}")
    split_frames = load_split(data_dir, split)
    picked, picked_desc = split_frames.pick(frames, sequences)
    split_frames = split_frames.subset(picked)
    if out_dir is None:
        out_dir = Path("results") / f"{target}-{Path(policy).stem if policy else 'device-policy'}"
    if overwrite:
        _discard_run(Path(out_dir))
    spec = RunSpec(
        target=target, export_dir=Path(export_dir), images=split_frames.images,
        labels=split_frames.labels if split_frames.has_labels else None, task=split_frames.task,
        sequence=split_frames.sequence, out_dir=Path(out_dir), link=emulator or port, policy=policy, baud=baud,
        operating_point=operating_point, frame_period_s=None if frame_period_ms is None else frame_period_ms / 1e3,
        resume=resume, data_desc=f"{data_dir} ({split}, {picked_desc})", timeout=timeout, chunk=chunk,
        window=window, echo=lambda text: click.echo(text, err=True),
    )
    summary = run_hil(spec)
    _print_summary(summary, out_dir)
    if json_path:
        write_json(json_path, summary)
    _fail_on_mismatch(summary)


@command.command("report")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False), help="A run folder.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the summary here ('-': stdout).")
def report_command(run_dir, json_path):
    """Rebuild summary.json and report.md of a run folder from its records."""
    summary = _rebuild(Path(run_dir))
    _print_summary(summary, run_dir)
    if json_path:
        write_json(json_path, summary)


@command.command("energy")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False), help="A run folder.")
@click.option("--trace", "trace_path", required=True, type=click.Path(dir_okay=False),
              help="CSV export of the power monitor (Joulescope, PPK2, LPM01A).")
@click.option("--voltage", type=float, help="Supply voltage, for traces with current only.")
@click.option("--offset-s", type=float, help="Trace time at device time 0 (default: found by correlation).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the summary here ('-': stdout).")
def energy_command(run_dir, trace_path, voltage, offset_s, json_path):
    """Energy per frame from a measured power trace aligned to the device's timestamps."""
    from edgeadapt.harness.energy import align_offset, load_power_trace, trace_frame_energies_mj

    run_dir = Path(run_dir)
    log = _read_log(run_dir)
    trace = load_power_trace(trace_path, voltage)
    windows = [(r["device_us"] / 1e6, r["latency_ms"] / 1e3) for r in log.frames]
    if offset_s is None:
        offset_s = align_offset(trace, windows)
    per_frame = trace_frame_energies_mj(trace, windows, offset_s)
    energy = {"per_frame_mj": per_frame.tolist(), "source": f"measured trace {Path(trace_path).name} "
                                                            f"(offset {offset_s:.6f} s)"}
    write_json(run_dir / "energy_trace.json", {"offset_s": offset_s, **energy})
    summary = _rebuild(run_dir)
    _print_summary(summary, run_dir)
    if json_path:
        write_json(json_path, summary)


RUN_FILES = ("results.jsonl", "summary.json", "report.md", "plane.png", "energy.png", "timeline.png",
             "reference.npz", "energy_trace.json", "link.log", "qemu.log", "host.log")


def _discard_run(run_dir: Path):
    """Remove the files of a previous run (only those a run writes; anything else stays)."""
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)


def _read_log(run_dir: Path):
    from edgeadapt.harness.results import ResultsLog

    path = run_dir / "results.jsonl"
    if not path.is_file():
        raise EdgeadaptError(f"{run_dir}: no results.jsonl (not a `hil run` folder)")
    return ResultsLog.read(path)


def _rebuild(run_dir: Path) -> dict:
    from edgeadapt.harness.report import write_report
    from edgeadapt.harness.runner import load_run_arrays
    from edgeadapt.harness.single import summarize_single, write_single_report
    from edgeadapt.harness.summary import summarize

    log = _read_log(run_dir)
    single = log.header.get("bundle") == "single"
    energy = None
    if (run_dir / "energy_trace.json").is_file():
        energy = json.loads((run_dir / "energy_trace.json").read_text())
        if len(energy["per_frame_mj"]) != len(log.frames):
            raise EdgeadaptError(f"{run_dir}/energy_trace.json covers {len(energy['per_frame_mj'])} frames, "
                                 f"the run has {len(log.frames)}: rerun `hil energy`")
    summary = (summarize_single if single else summarize)(log.header, log.frames, log.calibration, energy)
    write_json(run_dir / "summary.json", summary)
    if single:
        write_single_report(run_dir, log.header, summary)
        return summary
    ref = labels = sequence = None
    if (run_dir / "reference.npz").is_file():
        ref, labels, sequence = load_run_arrays(run_dir / "reference.npz")
    write_report(run_dir, log.header, log.frames, summary, ref=ref, labels=labels, sequence=sequence,
                 calibration=log.calibration)
    return summary


def _print_summary(s: dict, out_dir):
    if s.get("bundle") == "single":
        from edgeadapt.harness.single import summary_rows

        return _print_rows(s, summary_rows(s), out_dir)
    lat, mae, en = s["latency_ms"], s["mae"], s["energy_mj"]
    rows = [
        ["frames", s["frames"]],
        ["bit-exact frames", s["bit_exact_frames"]],
        ["policy agreement frames", s["policy_agreement_frames"]],
        ["big share", s["big_share"]],
        ["latency mean [ms]", lat["mean"]],
        ["latency p50 [ms]", lat["p50"]],
        ["latency p99 [ms]", lat["p99"]],
        ["cycles mean", s["cycles"]["mean"]],
        ["MAE x", mae["x"]], ["MAE y", mae["y"]], ["MAE z", mae["z"]], ["MAE phi", mae["phi"]],
        ["MAE sum", mae["sum"]],
        ["energy mean [mJ]", en.get("mean") if en.get("mean") is not None else "n/a"],
        ["operating point", s["operating_point"]],
    ]
    _print_rows(s, rows, out_dir)


def _print_rows(s: dict, rows: list, out_dir):
    click.echo(format_table(["figure", "value"], rows))
    if s["emulated"]:
        click.echo(f"note: {s['latency_label']}")
    click.echo(f"run folder: {out_dir} (results.jsonl, summary.json, report.md)")


def _fail_on_mismatch(s: dict):
    if s.get("bundle") == "single":
        if s["bit_exact_frames"] != s["frames"]:
            click.echo(f"edgeadapt: MISMATCH: {s['frames'] - s['bit_exact_frames']} frame(s) differ from the "
                       f"integer reference (frames {s['mismatch_frames'][:10]})", err=True)
            raise click.exceptions.Exit(1)
        return
    if s["bit_exact_frames"] != s["frames"] or s["policy_agreement_frames"] != s["frames"]:
        click.echo(f"edgeadapt: MISMATCH: {s['frames'] - s['bit_exact_frames']} frame(s) differ from the integer "
                   f"reference (frames {s['mismatch_frames'][:10]}), {s['frames'] - s['policy_agreement_frames']} "
                   f"policy disagreement(s)", err=True)
        raise click.exceptions.Exit(1)
