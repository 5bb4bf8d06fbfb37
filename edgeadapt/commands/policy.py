"""`edgeadapt policy`: choose a switching policy by simulating them all on the integer reference."""

import json
from pathlib import Path

import click
import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.splits import SPLITS
from edgeadapt.textio import format_table, write_json


def _replay_options(default_split):
    """The options of every command that replays policies on a pair's integer outputs."""
    return lambda fn: _add_replay_options(fn, default_split)


def _add_replay_options(fn, default_split):
    options = [
        click.option("--big", "big_path", required=True, type=click.Path(dir_okay=False), help="Big model (.eaq)."),
        click.option("--small", "small_path", required=True, type=click.Path(dir_okay=False),
                     help="Small model (.eaq)."),
        click.option("--data", "data_dir", required=True, type=click.Path(), help="Dataset folder."),
        click.option("--split", default=default_split, show_default=True,
                     type=click.Choice(list(SPLITS))),
        click.option("--frames", type=click.IntRange(2, None), help="First N frames of the split (default: all)."),
        click.option("--sequences", type=click.IntRange(1, None),
                     help="Spread the N frames over this many sequences (as `hil run --sequences`)."),
        click.option("--cycles", "cycles_source", default=None,
                     help="A manifest.json (cycles ~ MACs), or 'measured' with --runs "
                          "(default: manifest.json beside --big)."),
        click.option("--runs", "run_dirs", multiple=True, type=click.Path(file_okay=False),
                     help="HIL run folders (always-small and always-big) for --cycles measured."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group("policy")
def command():
    """Model-switching policies: sweep (simulate and select), predict (replay one on other frames)."""


@command.command("sweep")
@_replay_options("val")
@click.option("--select", "rule", default="iso-mae", show_default=True,
              type=click.Choice(["iso-mae", "iso-latency", "best-mae"]),
              help="Operating point: cheapest at always-big's MAE, best MAE at its latency, or best MAE.")
@click.option("--latency-budget", type=float, help="Instead: the best MAE within this mean latency [ms].")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="policy.json to write.")
@click.option("--also", "also", multiple=True, nargs=2, type=(click.Choice(["iso-mae", "iso-latency", "best-mae"]),
              click.Path(dir_okay=False)), metavar="RULE FILE",
              help="Also write the operating point of another rule, chosen among the same points (repeatable).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="The front, selection and metrics ('-': stdout).")
def sweep_command(big_path, small_path, data_dir, split, frames, sequences, cycles_source, run_dirs, rule,
                  latency_budget, out_path, also, json_path):
    """Simulate every policy of the grid, print the Pareto front, pick the operating point."""
    from dataclasses import replace

    from edgeadapt.policy.sweep import run_sweep, selected_policy_json

    data, desc = sweep_data(big_path, small_path, data_dir, split, frames, sequences, cycles_source, run_dirs)
    rule = "latency-budget" if latency_budget is not None else rule
    result = run_sweep(data, rule=rule, latency_budget_ms=latency_budget)
    meta = {"data": f"{data_dir} ({split}, {desc})", "big": str(big_path), "small": str(small_path)}
    write_json(out_path, selected_policy_json(result, meta))
    doc = result.to_dict()
    _print(doc)
    click.echo(f"selected ({doc['selected']['rule']}): {_describe(doc['selected'])} -> {out_path}")
    for other, path in also:  # the same points, another rule: no second simulation
        chosen = replace(result, selected=result.select(other), rule=other)
        write_json(path, selected_policy_json(chosen, meta))
        click.echo(f"selected ({other}): {_describe(chosen.selected.to_dict(data.cycles.clock_hz))} -> {path}")
    if json_path:
        write_json(json_path, doc)



@command.command("predict")
@click.option("--policy", "policy_spec", required=True,
              help="A policy.json (e.g. the one `policy sweep` wrote), always-small or always-big.")
@_replay_options("test")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the prediction here ('-': stdout).")
def predict_command(policy_spec, big_path, small_path, data_dir, split, frames, sequences, cycles_source, run_dirs,
                    json_path):
    """Replay one policy on frames it was not chosen on: the MAE and cycles a HIL run must measure."""
    from edgeadapt.policy.config import load_policy_config
    from edgeadapt.policy.sweep import evaluate, oracle_at_share, random_at_share

    config = load_policy_config(policy_spec)
    data, desc = sweep_data(big_path, small_path, data_dir, split, frames, sequences, cycles_source, run_dirs)
    n = len(data.labels)
    point = evaluate(config, data)
    big = evaluate(load_policy_config("always-big"), data)
    clock = data.cycles.clock_hz
    # the baselines at the policy's big share on these frames: seeded random switching and the oracle
    random, oracle = random_at_share(data, point.big_share), oracle_at_share(data, point.big_share)
    doc = {"policy": point.to_dict(clock), "always_big": big.to_dict(clock),
           "baselines": {"big_share": point.big_share, "random": random.to_dict(clock), "oracle": oracle.to_dict(clock)},
           "frames": n, "data": f"{data_dir} ({split}, {desc})", "cycles_source": data.cycles.source,
           "clock_hz": clock}
    click.echo(f"{n} frames ({len(data.sequences)} sequences) of {data_dir} ({split}); cycles: {data.cycles.source}")
    click.echo(f"  policy:     {_describe(doc['policy'])}")
    click.echo(f"  always-big: {_describe(doc['always_big'])}")
    click.echo(f"  vs always-big: cycles {point.cycles_mean / big.cycles_mean - 1:+.1%}, "
               f"MAE {point.mae_sum / big.mae_sum - 1:+.2%}")
    click.echo(f"  at the same big share: random MAE {random.mae_sum / big.mae_sum - 1:+.2%} "
               f"(share {random.big_share:.3f}), oracle MAE {oracle.mae_sum / big.mae_sum - 1:+.2%}")
    if json_path:
        write_json(json_path, doc)


def sweep_data(big_path, small_path, data_dir, split, frames, sequences, cycles_source, run_dirs):
    """The SweepData of `frames` frames of a split (the first ones, or spread over `sequences`
    sequences as `Frames.pick` does): both models' integer reference outputs, labels, sequences and
    the cycle model. Returns (data, description of the frames)."""
    from edgeadapt.data import load_split
    from edgeadapt.harness.reference import reference_outputs
    from edgeadapt.policy.sweep import SweepData
    from edgeadapt.quant.artifact import load_eaq
    from edgeadapt.quant.reference import output_fls

    split_frames = load_split(data_dir, split)
    picked, desc = split_frames.pick(frames, sequences)
    split_frames = split_frames.subset(picked)
    n = len(split_frames)
    if n < 2:
        raise EdgeadaptError(f"{data_dir} ({split}): the sweep needs at least 2 frames, got {n}")
    images = split_frames.images
    graphs = {role: load_eaq(path) for role, path in (("big", big_path), ("small", small_path))}
    for role, g in graphs.items():
        if tuple(g.tensors[g.input].shape[:2]) != images.shape[1:]:
            raise EdgeadaptError(f"--{role} {g.name} reads {g.tensors[g.input].shape[:2]} frames, "
                                 f"the data has {images.shape[1:]}")
    ref = {role: reference_outputs(path, images, graphs[role])
           for role, path in (("big", big_path), ("small", small_path))}
    cycles = cycle_model(cycles_source, run_dirs, big_path, small_path, images)
    data = SweepData(ref["small"], ref["big"], [int(f) for f in output_fls(graphs["small"])],
                     [int(f) for f in output_fls(graphs["big"])], split_frames.labels, split_frames.sequences(),
                     cycles)
    return data, desc


def cycle_model(source, run_dirs, big_path, small_path, images):
    """The CycleModel from a manifest (MAC counts or cycle estimates) or from measured HIL runs."""
    from edgeadapt.policy.sweep import CycleModel

    if source == "measured":
        if not run_dirs:
            raise EdgeadaptError("--cycles measured needs --runs with the always-small and always-big run folders")
        return measured_cycles(run_dirs, images)
    if run_dirs:
        raise EdgeadaptError("--runs is only read with --cycles measured")
    path = Path(source) if source else Path(big_path).parent / "manifest.json"
    if not path.is_file():
        raise EdgeadaptError(f"{path}: no manifest (give --cycles manifest.json, or --cycles measured --runs ...)")
    try:
        manifest = json.loads(path.read_text())
        models = manifest["models"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise EdgeadaptError(f"{path}: not an export manifest.json") from None
    from edgeadapt.harness.reference import file_sha256

    for role, eaq in (("big", big_path), ("small", small_path)):
        want = (models[role].get("source") or {}).get("sha256")
        if want and want != file_sha256(eaq):
            raise EdgeadaptError(f"{path}: its {role} model is not {eaq} (sha256 differs)")
    key = "cycles" if all("cycles" in models[r] for r in ("small", "big")) else "macs"
    unit = "cycle estimate" if key == "cycles" else "MACs (cycles taken proportional to MACs)"
    return CycleModel(float(models["small"][key]), float(models["big"][key]), 0.0,
                      source=f"manifest {path.name}: {unit}", clock_hz=None)


def measured_cycles(run_dirs, images):
    """Per-frame cycles of each model from HIL runs (frames matched by index when the runs used these
    frames; else each model's mean), the mean decision overhead, and the runs' clock."""
    from edgeadapt.harness.reference import frames_sha256
    from edgeadapt.harness.results import ResultsLog
    from edgeadapt.policy.sweep import CycleModel

    n = len(images)
    per_frame = {0: np.full(n, np.nan), 1: np.full(n, np.nan)}
    overhead, clocks, means = [], set(), {0: [], 1: []}
    for run in run_dirs:
        path = Path(run) / "results.jsonl"
        if not path.is_file():
            raise EdgeadaptError(f"{run}: no results.jsonl (not a `hil run` folder)")
        log = ResultsLog.read(path)
        clocks.add(log.header["clock_hz"])
        k = log.header.get("frames", 0)
        same_frames = 0 < k <= n and log.header.get("frames_sha256") == frames_sha256(images[:k])
        for r in log.frames:
            overhead.append(r["policy_cycles"])
            if r["model"] in (0, 1):
                means[r["model"]].append(r["cycles"])
                if same_frames and r["frame"] < n:
                    per_frame[r["model"]][r["frame"]] = r["cycles"]
    if len(clocks) > 1:
        raise EdgeadaptError(f"--runs were measured at different clocks ({sorted(clocks)} Hz)")
    for m, name in ((0, "small"), (1, "big")):
        if not means[m]:
            raise EdgeadaptError(f"--runs hold no frame run on the {name} model (add an always-{name} run)")
        filled = per_frame[m]
        filled[np.isnan(filled)] = float(np.mean(means[m]))
    return CycleModel(per_frame[0], per_frame[1], float(np.mean(overhead)) if overhead else 0.0,
                      source=f"measured ({', '.join(Path(r).name for r in run_dirs)})", clock_hz=clocks.pop())


def _describe(p) -> str:
    params = ", ".join(f"{k}={v}" for k, v in p["params"].items())
    lat = f", {p['latency_ms']:.3f} ms" if p.get("latency_ms") is not None else ""
    return (f"{p['policy']}({params}) big share {p['big_share']:.3f}, MAE {p['mae_sum']:.4f}, "
            f"{p['cycles_mean']:,.0f} cycles{lat}")


def _print(doc):
    has_ms = doc["clock_hz"] is not None
    head = ["policy", "params", "big share", "MAE sum", "cycles mean"] + (["latency ms"] if has_ms else [])
    rows = []
    for p in doc["front"]:
        params = ", ".join(f"{k}={v}" for k, v in p["params"].items())
        rows.append([p["policy"], params, p["big_share"], p["mae_sum"], round(p["cycles_mean"])] +
                    ([p["latency_ms"]] if has_ms else []))
    click.echo(f"{doc['evaluated']} policies on {doc['frames']} frames ({doc['sequences']} sequences); "
               f"cycles: {doc['cycles_source']}")
    click.echo("Pareto front (mean cycles vs MAE):")
    click.echo(format_table(head, rows))
    m = doc["metrics"]
    cut, iso, best = m["latency_cut_at_big_mae"], m["mae_change_at_big_latency"], m["best_mae"]
    cut_text = "no policy reaches it" if cut is None else "{:.1f}%".format(cut["value"] * 100)
    iso_text = "n/a" if iso is None else "{:+.2f}%".format(iso["value"] * 100)
    best_text = "n/a" if best is None else "{:.4f} ({:+.2f}%)".format(best["value"], best["change"] * 100)
    click.echo("paper metrics against always-big "
               f"(MAE {doc['big']['mae_sum']:.4f}, {doc['big']['cycles_mean']:,.0f} cycles):")
    click.echo(f"  latency cut at its MAE:    {cut_text}")
    click.echo(f"  MAE change at its latency: {iso_text}")
    click.echo(f"  best MAE:                  {best_text}")
    b = doc["baselines"]
    click.echo(f"baselines at the selected big share {b['big_share']:.3f}: random MAE {b['random']['mae_sum']:.4f}"
               f" (share {b['random']['big_share']:.3f}), oracle MAE {b['oracle']['mae_sum']:.4f}")
