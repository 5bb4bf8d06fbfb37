"""report.md and its plots for a HIL run folder.

- plane.png: MAE (sum) against mean latency: the run's measured point; every other finished run
  on the same target and frames (each in the legend); the Pareto front and random baseline of the
  frames the policy was chosen on (from policy.json, when its cycles are on this clock) and the
  same replayed on this run's frames (reference outputs, calibrated cycles); always-small and
  always-big. A finished run redraws its siblings' plots too, so every report shows the same runs;
- energy.png: the same against energy per frame, only when energy is more than a constant times
  latency (a frame period with idle power, or a measured trace); otherwise report.md says so;
- timeline.png: which model ran on each frame and the frame's error, with both models' errors.
"""

import json
import re
from pathlib import Path

import numpy as np

from edgeadapt.policy.sweep import CycleModel, SweepData, run_sweep
from edgeadapt.textio import atomic_write_text


def sequences_of(sequence) -> list:
    sequence = np.asarray(sequence)
    if len(sequence) == 0:
        return []
    cuts = np.flatnonzero(np.diff(sequence) != 0) + 1
    return np.split(np.arange(len(sequence)), cuts)


def predicted_sweep(header, ref, labels, sequence, calibration, policy_cycles=0.0):
    """The sweep on the run's frames with the run's calibrated cycles (None without calibration)."""
    if calibration is None:
        return None
    cyc = calibration["cycles"]
    data = SweepData(ref[0], ref[1], header["output_fl"]["0"], header["output_fl"]["1"], labels,
                     sequences_of(sequence),
                     CycleModel(float(cyc["small"]), float(cyc["big"]), policy_cycles,
                                source="calibration (frame 0)", clock_hz=header["clock_hz"]))
    return run_sweep(data)


def sibling_runs(out_dir, header) -> list:
    """(name, summary) of the other finished runs beside this one on the same target and frames."""
    found = []
    for path in sorted(Path(out_dir).resolve().parent.glob("*/results.jsonl")):
        if path.parent == Path(out_dir).resolve():
            continue
        try:
            first = json.loads(path.open().readline())
            summary = json.loads((path.parent / "summary.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if first.get("frames_sha256") == header["frames_sha256"] and first.get("target") == header["target"] \
                and summary.get("complete"):
            found.append((path.parent.name, summary))
    return found


def energy_is_latency_times_a_constant(header, summary) -> bool:
    """Back-to-back frames at one operating point with modelled power: energy = P x latency."""
    measured = str(summary.get("energy_source") or "").startswith("measured")
    idle = header.get("frame_period_s") and (header.get("power") or {}).get("idle_mw") is not None
    return not measured and not idle


def write_report(out_dir, header, frames, summary, ref=None, labels=None, sequence=None, calibration=None,
                 refresh_siblings=True):
    out = Path(out_dir)
    pred = None
    if ref is not None and frames:
        pred = predicted_sweep(header, ref, labels, sequence, calibration,
                               policy_cycles=float(np.mean([r["policy_cycles"] for r in frames])))
    plots = []
    if frames:
        import matplotlib

        matplotlib.use("Agg")
        plots.append(_plane(out, header, summary, pred, "latency"))
        has_energy = summary["energy_mj"].get("mean") is not None and header["power"]["active_mw"] is not None
        if has_energy and not energy_is_latency_times_a_constant(header, summary):
            plots.append(_plane(out, header, summary, pred, "energy"))
        else:
            (out / "energy.png").unlink(missing_ok=True)
        plots.append(_timeline(out, frames, ref, labels, header))
    atomic_write_text(out / "report.md", _markdown(header, summary, pred, [p for p in plots if p]))
    if refresh_siblings and frames:
        redraw_siblings(out, header)


def redraw_siblings(out_dir, header) -> None:
    """Rebuild the reports of the finished runs beside this one, so they show this run too."""
    from edgeadapt.harness.results import ResultsLog
    from edgeadapt.harness.runner import load_run_arrays
    from edgeadapt.harness.summary import summarize

    for name, _ in sibling_runs(out_dir, header):
        folder = Path(out_dir).resolve().parent / name
        try:
            log = ResultsLog.read(folder / "results.jsonl")
            summary = json.loads((folder / "summary.json").read_text())
            if "mae" not in summary or not isinstance(summary["mae"], dict) or "sum" not in summary["mae"]:
                continue  # a single-model run: no pose plane to share
            ref = labels = sequence = None
            if (folder / "reference.npz").is_file():
                ref, labels, sequence = load_run_arrays(folder / "reference.npz")
            write_report(folder, log.header, log.frames, summarize(log.header, log.frames, log.calibration),
                         ref=ref, labels=labels, sequence=sequence, calibration=log.calibration,
                         refresh_siblings=False)
        except (OSError, ValueError, KeyError):
            continue  # a damaged sibling keeps its old report


def _policy_label(policy) -> str:
    if isinstance(policy, dict) and "baked" in policy:
        return f"baked into the firmware ({(policy['baked'] or {}).get('kind', '?')})"
    if isinstance(policy, dict):
        params = {k: v for k, v in policy.items() if k not in ("policy", "meta")}
        short = ", ".join(f"{k}={v}" for k, v in params.items())
        return f"{policy['policy']} ({short})" if short else policy["policy"]
    return str(policy) if policy is not None else "device default"


def _scale(header, value_cycles, axis):
    """Cycles -> ms, or -> mJ with the power model (back-to-back frames or the run's period)."""
    seconds = np.asarray(value_cycles, dtype=np.float64) / header["clock_hz"]
    if axis == "latency":
        return seconds * 1e3
    p = header["power"]
    energy = p["active_mw"] * seconds
    period = header.get("frame_period_s")
    if period and p.get("idle_mw") is not None:
        energy = energy + p["idle_mw"] * np.maximum(period - seconds, 0.0)
    return energy


def selection_front(header):
    """(front, random, frames description) of the sweep that chose this run's policy, from the
    policy.json meta, when its cycles were measured on this device (else None: MAC counts or
    another clock would not share the axis)."""
    policy = header.get("policy")
    meta = policy.get("meta", {}) if isinstance(policy, dict) else {}
    source = str((meta.get("predicted") or {}).get("cycles_source", ""))
    if not meta.get("front") or not source.startswith(("measured", "calibration")):
        return None
    where = str(meta.get("data", "the selection frames"))
    inside = re.search(r"\(([^()]*)\)$", where)  # "DIR (val, first 1500 frames)" -> the split part
    return meta["front"], meta.get("random", []), inside.group(1) if inside else where


SIBLING_STYLE = [("^", "tab:brown"), ("v", "tab:pink"), ("D", "tab:olive"), ("P", "tab:cyan"), ("X", "black"),
                 ("<", "tab:gray"), (">", "tab:purple")]


def _plane(out, header, summary, pred, axis):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    chosen_on = selection_front(header)
    if chosen_on is not None:
        front, rnd, where = chosen_on
        ax.plot(_scale(header, [p["cycles_mean"] for p in front], axis), [p["mae_sum"] for p in front], "--o",
                color="tab:cyan", ms=3, label=f"Pareto front where the policy was chosen ({where})")
        if rnd:
            ax.plot(_scale(header, [p["cycles_mean"] for p in rnd], axis), [p["mae_sum"] for p in rnd], ":",
                    color="tab:cyan", alpha=0.7, label="random baseline there")
    if pred is not None:
        front = sorted(pred.front, key=lambda p: p.cycles_mean)
        ax.plot(_scale(header, [p.cycles_mean for p in front], axis), [p.mae_sum for p in front], "-o",
                color="tab:blue", ms=3, label="Pareto front replayed on this run's frames")
        rnd = sorted(pred.random, key=lambda p: p.cycles_mean)
        ax.plot(_scale(header, [p.cycles_mean for p in rnd], axis), [p.mae_sum for p in rnd], ":",
                color="grey", label="random baseline on this run's frames")
        for p, name, colour in ((pred.small, "always-small", "tab:green"), (pred.big, "always-big", "tab:red")):
            ax.plot(_scale(header, [p.cycles_mean], axis), [p.mae_sum], "s", color=colour, ms=8,
                    label=f"{name} (replayed on these frames)")
    for i, (name, other) in enumerate(sibling_runs(out, header)):
        x = other["latency_ms"]["mean"] if axis == "latency" else other["energy_mj"]["mean"]
        if x is not None:
            marker, colour = SIBLING_STYLE[i % len(SIBLING_STYLE)]
            ax.plot([x], [other["mae"]["sum"]], marker, color=colour, ms=8, ls="none",
                    label=f"{name} (measured)")
    x = summary["latency_ms"]["mean"] if axis == "latency" else summary["energy_mj"]["mean"]
    ax.plot([x], [summary["mae"]["sum"]], "*", color="tab:orange", ms=16, ls="none",
            label=f"this run (measured): {Path(out).resolve().name}")
    unit = "mean latency per frame [ms]" if axis == "latency" else "mean energy per frame [mJ]"
    est = " (instruction-count estimate)" if header["emulated"] else ""
    ax.set_xlabel(unit + est)
    ax.set_ylabel("MAE sum (x + y + z + phi)")
    ax.set_title(f"{header['target']} ({header['operating_point']}): MAE vs {axis}\n"
                 f"policy {_policy_label(summary.get('policy', header.get('policy')))}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    name = "plane.png" if axis == "latency" else "energy.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def _timeline(out, frames, ref, labels, header):
    import matplotlib.pyplot as plt

    from edgeadapt.policy.sweep import dequantize

    t = np.array([r["frame"] for r in frames])
    err = np.array([sum(r["abs_err"]) for r in frames])
    model = np.array([r["model"] for r in frames])
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 4.5), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    a1.step(t, model, where="mid", color="tab:purple")
    a1.set_yticks([0, 1, 2], ["small", "big", "both"])
    a1.set_ylabel("model")
    if ref is not None:
        for m, name, colour in ((0, "small", "tab:green"), (1, "big", "tab:red")):
            pred = dequantize(ref[m][t][:, :4], header["output_fl"][str(m)][:4])
            a2.plot(t, np.abs(pred - labels[t]).sum(axis=1), color=colour, alpha=0.35, lw=0.8,
                    label=f"{name} alone")
    a2.plot(t, err, color="black", lw=1.0, label="this run")
    seq = np.array([r["sequence"] for r in frames])
    for start in t[1:][np.diff(seq) != 0]:  # the policy restarts with every sequence
        for ax in (a1, a2):
            ax.axvline(start - 0.5, color="grey", ls="--", lw=0.6)
    a2.set_ylabel("|error| sum\n(x, y, z [m] + phi [rad])")
    a2.set_xlabel("frame of the run (dashed: a new sequence, the policy restarts)")
    a1.set_title(f"{header['target']}: model per frame and pose error, policy "
                 f"{_policy_label(header.get('policy'))}", fontsize=10)
    a2.legend(fontsize=8, loc="upper right")
    a2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "timeline.png", dpi=110)
    plt.close(fig)
    return "timeline.png"


def _fmt(v, digits=4):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _markdown(header, s, pred, plots) -> str:
    lines = [f"# HIL run: {header['target']}, policy {_policy_label(s['policy'])}", ""]
    if s["emulated"]:
        lines += [f"Emulated run. Latency and energy are an {s['latency_label']}.", ""]
    if s["bit_exact_frames"] != s["frames"]:
        lines += [f"**MISMATCH: {s['frames'] - s['bit_exact_frames']} of {s['frames']} frames differ from the "
                  f"integer reference** (frames {s['mismatch_frames'][:10]}).", ""]
    if s["policy_agreement_frames"] != s["frames"]:
        lines += [f"**POLICY DISAGREEMENT on frames {s['policy_disagreement_frames'][:10]}.**", ""]
    if not s["complete"]:
        lines += [f"Incomplete: {s['frames']} of {header['frames']} frames recorded (`--resume` continues).", ""]
    lat, mae, en = s["latency_ms"], s["mae"], s["energy_mj"]
    rows = [
        ("frames (bit-exact / total)", f"{s['bit_exact_frames']} / {s['frames']}"),
        ("policy decisions as the reference twin", f"{s['policy_agreement_frames']} / {s['frames']}"),
        ("big-model share", _fmt(s["big_share"], 3)),
        ("frames small / big / small-then-big",
         f"{s['model_frames']['small']} / {s['model_frames']['big']} / {s['model_frames']['small_then_big']}"),
        ("latency mean / p50 / p99 [ms]", f"{_fmt(lat['mean'], 3)} / {_fmt(lat['p50'], 3)} / {_fmt(lat['p99'], 3)}"),
        ("cycles mean (model + policy)", _fmt(s["cycles"]["mean"], 0)),
        ("MAE x / y / z / phi", " / ".join(_fmt(mae[k]) for k in ("x", "y", "z", "phi"))),
        ("MAE sum", _fmt(mae["sum"])),
        ("energy per frame mean [mJ]", _fmt(en.get("mean"), 4)),
        ("energy source", s["energy_source"] or "no power figure for this target"),
        ("operating point", f"{s['operating_point']} ({_fmt(s['clock_mhz'], 1)} MHz)"),
        ("link retries", str(s["link"]["retries"])),
    ]
    lines += ["| figure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows] + [""]
    if pred is not None:
        lines += ["## Prediction on these frames (policy sweep, calibrated cycles)", "",
                  "| point | big share | MAE sum | mean latency [ms] |", "|---|---|---|---|"]
        clock = header["clock_hz"]
        points = (("always-small", pred.small), ("always-big", pred.big), ("sweep's iso-MAE choice", pred.selected))
        for name, p in points:
            lines.append(f"| {name} | {p.big_share:.3f} | {p.mae_sum:.4f} | {p.cycles_mean / clock * 1e3:.3f} |")
        lines.append("")
    if en.get("mean") is not None and energy_is_latency_times_a_constant(header, s):
        lines += ["Energy here is the active power times the latency (frames back to back, one operating "
                  "point), so an energy plot would repeat plane.png; `--frame-period-ms` adds idle energy, "
                  "`hil energy` a measured trace.", ""]
    for p in plots:
        lines += [f"![{p}]({p})", ""]
    return "\n".join(lines)
