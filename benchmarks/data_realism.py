"""How closely the synthetic stand-in behaves like the real PULP-Frontnet recordings.

The figures the papers publish about the real data, beside ours measured with the shipped pair
(float models) on the test split (unseen subjects, known environments) and the test-unseen split
(unseen subjects in never-seen environments):

- the mean predictor's MAE per output (the label spread);
- each model's MAE and R^2 per output, the summed-MAE gap between them, which output is hardest;
- how much each model degrades in never-seen environments;
- the per-frame error correlation of the two models, how long hard episodes last, and the oracle
  (big on the frames where it helps most): its big share at always-big's MAE and its best mix.

The "Done when" checks of the stand-in are printed as met / NOT met.

    python benchmarks/data_realism.py --data DIR [--big zoo:big --small zoo:small]

Writes benchmarks/results/data_realism.md (and --json FILE).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeadapt.data import OUTPUT_NAMES, compute_metrics, load_split, train_label_mean  # noqa: E402
from edgeadapt.data.store import read_extra, read_meta  # noqa: E402
from edgeadapt.evaluate import predict  # noqa: E402
from edgeadapt.textio import atomic_write_text, write_json  # noqa: E402

SPLITS = ("test", "test-unseen")
# ICRA'23 (Cereda et al., arXiv 2303.01931) Table I, real test set (unseen subjects, known lab)
PUBLISHED = {
    "mean predictor": {"x": 0.46, "y": 0.61, "z": 0.17, "phi": 0.55},
    "big (M1.0)": {"x": 0.17, "y": 0.18, "z": 0.07, "phi": 0.42},
    "small (Fsmall)": {"x": 0.20, "y": 0.20, "z": 0.09, "phi": 0.44},
}
PUBLISHED_R2_BIG = {"x": 0.83, "y": 0.67, "z": 0.62, "phi": 0.28}
# never-seen environment: DCOSS'21 D3 (standard augmentation); ICRA'23 in-field x MAE
PUBLISHED_UNSEEN = {"D3 (DCOSS'21, Frontnet)": {"x": 0.464, "y": 0.231, "z": 0.128, "phi": 0.492}}
PUBLISHED_FIELD_X = {"small (Fsmall)": 0.81, "big (M1.0)": 0.31}
# ICRA'23 Table III in field, x / y / phi (no z; Fsmall's on the 35 % of the path it completed)
PUBLISHED_FIELD = {"small (Fsmall)": {"x": 0.81, "y": 0.53, "phi": 0.55}, "big (M1.0)": {"x": 0.31, "y": 0.13, "phi": 0.52}}
FIELD_OUTPUTS = ("x", "y", "phi")
GAP_RANGE = (0.07, 0.15)
MEAN_PREDICTOR_TOLERANCE = 0.25
PAPER_ORACLE_GAIN = 0.06  # DATE'24's best mix beats M1.0 by 6 %: an oracle must do at least as well
FPS_FALLBACK = 30.0


def measure(big, small, data_dir, split, train_mean, fps) -> dict:
    frames = load_split(data_dir, split)
    labels = frames.labels.astype(np.float64)
    pred = {"big": predict(big, frames), "small": predict(small, frames)}
    out = {"frames": len(frames), "sequences": len(frames.sequences())}
    for role, p in pred.items():
        out[role] = compute_metrics(p, labels, train_mean)
    out["mean predictor"] = out["big"]["trivial_mae"]
    err = {r: np.abs(p.astype(np.float64) - labels).sum(1) for r, p in pred.items()}
    gap = err["small"] - err["big"]
    out["gap"] = out["small"]["mae"]["sum"] / out["big"]["mae"]["sum"] - 1.0
    out["error_correlation"] = float(np.corrcoef(err["small"], err["big"])[0, 1])
    within = np.concatenate([idx[1:] for idx in frames.sequences() if len(idx) > 1])
    out["gap_lag1_autocorr"] = float(np.corrcoef(gap[within - 1], gap[within])[0, 1])
    # the oracle: big on the frames where it gains most
    order = np.sort(gap)[::-1]
    need = int(np.argmax(err["small"].sum() - np.cumsum(order) <= err["big"].sum())) + 1
    out["oracle_share_at_big_mae"] = need / len(gap)
    best = np.minimum(err["small"], err["big"]).mean()
    out["oracle_best_vs_big"] = best / err["big"].mean() - 1.0
    out["oracle_best_share"] = float((gap > 0).mean())
    cond = read_extra(data_dir, split, "conditions")
    out["episodes"] = episode_durations(cond, frames, fps) if cond is not None else None
    out["gap_runs"] = run_lengths(gap > 0.2, frames, fps)  # stretches where big is better by 0.2 or more
    return out


def run_lengths(mask, frames, fps) -> dict:
    """Mean and median length (frames and seconds) of the runs of True within sequences."""
    lengths = []
    for idx in frames.sequences():
        m = np.asarray(mask)[idx].astype(np.int8)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], m, [0]])))
        lengths += list(edges[1::2] - edges[::2])
    if not lengths:
        return {"runs": 0, "mean_frames": 0.0, "median_frames": 0.0, "mean_s": 0.0}
    lengths = np.asarray(lengths, dtype=np.float64)
    return {"runs": len(lengths), "mean_frames": float(lengths.mean()), "median_frames": float(np.median(lengths)),
            "mean_s": float(lengths.mean() / fps)}


def episode_durations(cond, frames, fps) -> dict:
    return {"share": float((cond > 0).mean()), **run_lengths(cond > 0, frames, fps)}


def checks(res) -> list:
    """(description, measured, met) for each "Done when" line of the stand-in."""
    test, unseen = res["test"], res["test-unseen"]
    out = []
    worst = max(abs(test["mean predictor"][k] / PUBLISHED["mean predictor"][k] - 1.0) for k in OUTPUT_NAMES)
    out.append(("test: mean predictor within 25 % of the published MAE on every output",
                f"largest deviation {worst:.1%}", worst <= MEAN_PREDICTOR_TOLERANCE))
    out.append(("test: big-vs-small summed-MAE gap 7-15 %", f"{test['gap']:.1%}",
                GAP_RANGE[0] <= test["gap"] <= GAP_RANGE[1]))
    for role in ("big", "small"):
        mae = {k: test[role]["mae"][k] for k in OUTPUT_NAMES}
        r2 = test[role]["r2"]
        hardest = max(mae, key=mae.get)
        lowest = min(r2, key=r2.get)
        out.append((f"test: yaw the hardest output ({role}: highest MAE and lowest R2)",
                    f"highest MAE {hardest}, lowest R2 {lowest}", hardest == "phi" and lowest == "phi"))
    rs = unseen["small"]["mae"]["sum"] / test["small"]["mae"]["sum"]
    rb = unseen["big"]["mae"]["sum"] / test["big"]["mae"]["sum"]
    out.append(("test-unseen: small summed MAE >= 1.5x its test value", f"{rs:.2f}x", rs >= 1.5))
    out.append(("test-unseen: big's rise less than half the small's", f"big {rb - 1:+.1%} vs small {rs - 1:+.1%}",
                (rb - 1.0) < 0.5 * (rs - 1.0)))
    return out


def markdown(res, args) -> str:
    fmt = lambda v: f"{v:.3f}"  # noqa: E731
    lines = ["# The synthetic stand-in against the real recordings", "",
             f"Generated by `benchmarks/data_realism.py` on `{args.data}` (generator version "
             f"{res['generator_version']}) with {args.big} and {args.small} (float models). Published figures: "
             "ICRA'23 Table I (real test set: unseen subjects, known lab), DCOSS'21 (never-seen D3 set), "
             "ICRA'23 Table III (in field: unseen subject and environment), DATE'24 (adaptive pair).", ""]
    lines += ["## Per-output MAE", "", "| | split | x | y | z | phi | sum | R2 x / y / z / phi |", "|---|---|---|---|---|---|---|---|"]
    for name, vals in PUBLISHED.items():
        r2 = " / ".join(f"{PUBLISHED_R2_BIG[k]:.2f}" for k in OUTPUT_NAMES) if name == "big (M1.0)" else ""
        lines.append(f"| published {name} | real test | " + " | ".join(fmt(vals[k]) for k in OUTPUT_NAMES)
                     + f" | {sum(vals.values()):.2f} | {r2} |")
    for name, vals in PUBLISHED_UNSEEN.items():
        lines.append(f"| published {name} | never-seen | " + " | ".join(fmt(vals[k]) for k in OUTPUT_NAMES)
                     + f" | {sum(vals.values()):.2f} | |")
    for split in SPLITS:
        r = res[split]
        lines.append(f"| ours, mean predictor | {split} | " + " | ".join(fmt(r["mean predictor"][k]) for k in OUTPUT_NAMES)
                     + f" | {r['mean predictor']['sum']:.3f} | |")
        for role in ("big", "small"):
            m = r[role]
            lines.append(f"| ours, {role} | {split} | " + " | ".join(fmt(m["mae"][k]) for k in OUTPUT_NAMES)
                         + f" | {m['mae']['sum']:.3f} | " + " / ".join(f"{m['r2'][k]:.2f}" for k in OUTPUT_NAMES) + " |")
    pub_gap = sum(PUBLISHED["small (Fsmall)"].values()) / sum(PUBLISHED["big (M1.0)"].values()) - 1.0
    lines += ["", "## Structure of the errors", "",
              "| figure | published | " + " | ".join(f"ours, {s}" for s in SPLITS) + " |", "|---|---|---|---|"]
    rows = [
        ("small vs big summed MAE (gap)", f"+{pub_gap:.1%} (0.93 vs 0.84)", lambda r: f"{r['gap']:+.1%}"),
        ("x MAE small / big", "in field 0.81 / 0.31", lambda r: f"{r['small']['mae']['x']:.2f} / {r['big']['mae']['x']:.2f}"),
        ("per-frame error correlation small vs big", "only partly correlated (DATE'24)",
         lambda r: f"{r['error_correlation']:.2f}"),
        ("gap lag-1 autocorrelation (frame to frame)", "hard conditions last several frames",
         lambda r: f"{r['gap_lag1_autocorr']:.2f}"),
        ("frames in a difficulty episode; mean episode length", "failures come in episodes",
         lambda r: "n/a" if r["episodes"] is None else
         f"{r['episodes']['share']:.0%}; {r['episodes']['mean_frames']:.0f} frames ({r['episodes']['mean_s']:.1f} s)"),
        ("stretches with big better by >= 0.2: count, mean length", "-",
         lambda r: f"{r['gap_runs']['runs']}, {r['gap_runs']['mean_frames']:.1f} frames ({r['gap_runs']['mean_s']:.2f} s)"),
        ("oracle: big share to match always-big's MAE", "about 53 % (swap, inferred from DATE'24)",
         lambda r: f"{r['oracle_share_at_big_mae']:.0%}"),
        ("oracle: best mix vs always-big (share of frames on big)", f"at least -{PAPER_ORACLE_GAIN:.0%} (DATE'24 peak)",
         lambda r: f"{r['oracle_best_vs_big']:+.1%} ({r['oracle_best_share']:.0%})"),
    ]
    for label, pub, f in rows:
        lines.append(f"| {label} | {pub} | " + " | ".join(f(res[s]) for s in SPLITS) + " |")
    lines += degradation_table(res)
    lines += ["", "## Checks of the stand-in", "", "| check | measured | met |", "|---|---|---|"]
    lines += [f"| {d} | {m} | {'met' if ok else 'NOT met'} |" for d, m, ok in res["checks"]]
    lines += ["", f"Reproduce: `python benchmarks/data_realism.py --data {args.data} --big {args.big} "
              f"--small {args.small}`.", ""]
    return "\n".join(lines)


def degradation_table(res) -> list:
    """How much each model degrades from test to test-unseen, beside the published figures: the
    never-seen D3 set against the known test set (two papers: DCOSS'21's Frontnet on D3, ICRA'23's
    Fsmall on its test set) and the in-field runs against the test set (ICRA'23, x / y / phi)."""
    test, unseen = res["test"], res["test-unseen"]
    d3 = sum(PUBLISHED_UNSEEN["D3 (DCOSS'21, Frontnet)"].values())
    lines = ["", "## Degradation in never-seen environments", "",
             "| figure | published | ours, small | ours, big |", "|---|---|---|---|"]
    ratio = {r: unseen[r]["mae"]["sum"] / test[r]["mae"]["sum"] for r in ("small", "big")}
    lines.append(f"| summed MAE, never-seen / test | D3 {d3:.2f} / Fsmall test "
                 f"{sum(PUBLISHED['small (Fsmall)'].values()):.2f} = {d3 / sum(PUBLISHED['small (Fsmall)'].values()):.2f}x "
                 f"(Frontnet) | {ratio['small']:.2f}x | {ratio['big']:.2f}x |")
    field = {}
    for role, name in (("small", "small (Fsmall)"), ("big", "big (M1.0)")):
        field[role] = sum(PUBLISHED_FIELD[name].values()) / sum(PUBLISHED[name][k] for k in FIELD_OUTPUTS)
    ours = {r: sum(unseen[r]["mae"][k] for k in FIELD_OUTPUTS) / sum(test[r]["mae"][k] for k in FIELD_OUTPUTS)
            for r in ("small", "big")}
    lines.append(f"| x + y + phi MAE, never-seen / test | in field: Fsmall {field['small']:.2f}x, M1.0 "
                 f"{field['big']:.2f}x (closed loop) | {ours['small']:.2f}x | {ours['big']:.2f}x |")
    lines.append(f"| summed MAE on never-seen frames | D3 {d3:.2f} (Frontnet) | {unseen['small']['mae']['sum']:.3f} | "
                 f"{unseen['big']['mae']['sum']:.3f} |")
    lines.append(f"| summed MAE on test frames | Fsmall {sum(PUBLISHED['small (Fsmall)'].values()):.2f}, M1.0 "
                 f"{sum(PUBLISHED['big (M1.0)'].values()):.2f} | {test['small']['mae']['sum']:.3f} | "
                 f"{test['big']['mae']['sum']:.3f} |")
    # how far a model can degrade before it knows nothing: the mean predictor of the never-seen
    # frames (D3's is not published; the real test set's stands in for it)
    pub_mean = sum(PUBLISHED["mean predictor"].values())
    pub = {"small": sum(PUBLISHED["small (Fsmall)"].values()), "big": sum(PUBLISHED["big (M1.0)"].values())}
    chance = unseen["mean predictor"]["sum"]
    lines.append(f"| no-skill ceiling: mean predictor / test summed MAE | Fsmall {pub_mean / pub['small']:.2f}x, "
                 f"M1.0 {pub_mean / pub['big']:.2f}x (real test set's mean predictor) | "
                 f"{chance / test['small']['mae']['sum']:.2f}x | {chance / test['big']['mae']['sum']:.2f}x |")
    lines.append(f"| never-seen summed MAE / mean predictor (1 = no skill left) | D3 {d3 / pub_mean:.2f} | "
                 f"{unseen['small']['mae']['sum'] / chance:.2f} | {unseen['big']['mae']['sum'] / chance:.2f} |")
    lines.append(f"| 1.5x the test summed MAE / mean predictor | Fsmall {1.5 * pub['small'] / pub_mean:.2f} | "
                 f"{1.5 * test['small']['mae']['sum'] / chance:.2f} | {1.5 * test['big']['mae']['sum'] / chance:.2f} |")
    need = 1.5 * test["small"]["mae"]["sum"] / chance
    lines += ["", f"Reading: the small model's summed MAE on test-unseen is {unseen['small']['mae']['sum'] / chance:.2f} "
              f"of the mean predictor's ({chance:.3f}); a rise to 1.5x its test value would put it at {need:.2f}x "
              + ("the mean predictor's, worse than predicting the average pose on every frame" if need > 1.0 else
                 "the mean predictor's") + f"; for the real Fsmall the same rise gives {1.5 * pub['small'] / pub_mean:.2f}. "
              f"Skill on the known test set (1 - MAE / mean predictor): ours small "
              f"{1 - test['small']['mae']['sum'] / test['mean predictor']['sum']:.0%}, big "
              f"{1 - test['big']['mae']['sum'] / test['mean predictor']['sum']:.0%}; real Fsmall "
              f"{1 - pub['small'] / pub_mean:.0%}, M1.0 {1 - pub['big'] / pub_mean:.0%}. docs/decisions.md D24 has the analysis."]
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--big", default="zoo:big")
    ap.add_argument("--small", default="zoo:small")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "data_realism.md"))
    ap.add_argument("--json", dest="json_path")
    args = ap.parse_args(argv)
    meta = read_meta(args.data)
    fps = float(meta.get("fps", FPS_FALLBACK))
    train_mean = train_label_mean(args.data)
    res = {s: measure(args.big, args.small, args.data, s, train_mean, fps) for s in SPLITS}
    res["generator_version"] = meta.get("generator_version")
    res["checks"] = checks(res)
    text = markdown(res, args)
    atomic_write_text(args.out, text)
    if args.json_path:
        write_json(args.json_path, res)
    print(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
