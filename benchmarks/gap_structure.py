"""Where the big model's advantage lies, and whether anything the small model outputs reveals it.

A switching policy can only save latency at the big model's MAE if the frames it leaves to the
small model are frames where the small model is as good as the big one, and if it can tell them
from what the small model outputs. This script measures both on a dataset, with the float pair:

- the per-frame gap (small's summed absolute error - big's) by difficulty condition, by distance
  and by head yaw;
- how well the gap can be predicted from the small model's outputs and their changes over the
  last two frames (the inputs of every policy that runs the small model): a ridge regression with
  squared terms, fitted on the validation split, scored on the test split; and the MAE of the
  policy "big on the frames with the highest predicted gap" at several big shares;
- two oracles on the test split for comparison: the per-frame gap itself, and the true yaw
  (big whenever the subject is turned more than a threshold).

    python benchmarks/gap_structure.py --data DIR [--big zoo:big --small zoo:small]

Prints the tables; writes benchmarks/results/gap_structure.md.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeadapt.data import load_split  # noqa: E402
from edgeadapt.data.store import read_extra  # noqa: E402
from edgeadapt.evaluate import predict  # noqa: E402
from edgeadapt.textio import atomic_write_text, format_table  # noqa: E402

SHARES = (0.3, 0.5, 0.7)  # big-model shares at which the learned predictor is scored
RIDGE = 1.0


def split_errors(big, small, data_dir, split):
    frames = load_split(data_dir, split)
    pb, ps = predict(big, frames), predict(small, frames)
    eb, es = np.abs(pb - frames.labels).sum(1), np.abs(ps - frames.labels).sum(1)
    synthetic = (Path(data_dir) / f"{split}.npz").is_file()
    conditions = read_extra(data_dir, split, "conditions") if synthetic else None
    if conditions is None:  # a dataset without condition masks (the Frontnet pickles)
        conditions = np.zeros(len(frames), np.uint8)
    return frames, ps, eb, es, conditions


def features(frames, ps) -> np.ndarray:
    """The small model's outputs and |changes| over one and two frames (zero at a sequence start)."""
    seq = frames.sequence
    d1 = np.zeros_like(ps)
    d2 = np.zeros_like(ps)
    d1[1:] = np.abs(ps[1:] - ps[:-1]) * (seq[1:] == seq[:-1])[:, None]
    d2[2:] = np.abs(ps[2:] - ps[:-2]) * (seq[2:] == seq[:-2])[:, None]
    x = np.concatenate([ps, d1, d2], axis=1)
    return np.concatenate([x, x * x, np.ones((len(x), 1))], axis=1)


def fit_ridge(x, y, mean, std):
    z = (x - mean) / std
    z[:, -1] = 1.0
    return np.linalg.solve(z.T @ z + RIDGE * np.eye(z.shape[1]), z.T @ y)


def mix_mae(use_big, eb, es) -> float:
    return float(np.where(use_big, eb, es).mean())


def pct(value, ref) -> str:
    return f"{100.0 * (value / ref - 1.0):+.2f}%"


def analyse(args, split="test", val=None):
    val = val or split_errors(args.big, args.small, args.data, "val")
    test = split_errors(args.big, args.small, args.data, split)
    frames, ps, eb, es, cond = test
    gap = es - eb
    lines = [f"small vs big on the {split} split (float): {es.mean():.4f} vs {eb.mean():.4f} ({pct(es.mean(), eb.mean())})"]
    tables = []

    from edgeadapt.data.trajectory import CONDITIONS

    rows = [["no condition", f"{(cond == 0).mean():.2f}", f"{gap[cond == 0].mean():+.3f}",
             f"{gap[cond == 0].sum() / gap.sum():.2f}"]]
    for name, bit in CONDITIONS.items():
        m = (cond & bit) > 0
        if m.any():
            rows.append([name, f"{m.mean():.2f}", f"{gap[m].mean():+.3f}", f"{gap[m].sum() / gap.sum():.2f}"])
    tables.append((f"gap by condition ({split})", ["frames with", "share", "mean gap", "share of the total gap"], rows))

    yaw = np.abs(frames.labels[:, 3])
    rows = []
    for lo, hi in ((0, 0.3), (0.3, 0.6), (0.6, 0.9), (0.9, 1.6)):
        m = (yaw >= lo) & (yaw < hi)
        rows.append([f"{lo:.1f}-{hi:.1f}", f"{m.mean():.2f}", f"{gap[m].mean():+.3f}", f"{gap[m].sum() / gap.sum():.2f}"])
    tables.append((f"gap by |yaw| [rad] ({split})", ["|phi|", "share", "mean gap", "share of the total gap"], rows))

    x_val = features(val[0], val[1])
    mean, std = x_val.mean(0), x_val.std(0) + 1e-9
    coef = fit_ridge(x_val, val[3] - val[2], mean, std)
    z = (features(frames, ps) - mean) / std
    z[:, -1] = 1.0
    score = z @ coef
    lines.append(f"predicted gap vs gap on the {split} split: correlation {np.corrcoef(score, gap)[0, 1]:.3f} "
                 f"(fitted on the validation split)")
    rows = []
    for share in SHARES:
        use = score > np.quantile(score, 1.0 - share)
        exact = gap > np.quantile(gap, 1.0 - share)
        rows.append([f"{share:.1f}", pct(mix_mae(use, eb, es), eb.mean()), pct(mix_mae(exact, eb, es), eb.mean())])
    for threshold in (0.2, 0.3, 0.4):
        use = yaw > threshold
        rows.append([f"{use.mean():.2f} (|phi| > {threshold})", "-", pct(mix_mae(use, eb, es), eb.mean())])
    tables.append((f"MAE vs always-big when the big model runs on a share of the frames ({split})",
                   ["big share", "learned predictor", "oracle"], rows))
    if split == "test-unseen":
        tables.append(degradation(args, test, split_errors(args.big, args.small, args.data, "test")))
    return lines, tables, val


def degradation(args, unseen, test):
    """Each model's summed MAE on test-unseen by lighting regime and by how far the drone is
    tilted (sway pitch and roll), beside the test split: where the never-seen environments hurt."""
    from edgeadapt.data.store import read_meta
    from edgeadapt.data.synth import plan_sequences

    meta = read_meta(args.data)
    regime = {p.sequence: p.regime for p in plan_sequences(int(meta["frames"]), int(meta["seed"]))}
    frames, _, eb, es, cond = unseen
    t_frames, _, t_eb, t_es, t_cond = test
    rows = [["test: all", "1.00", f"{t_es.mean():.3f}", f"{t_eb.mean():.3f}", f"{(t_es - t_eb).mean():+.3f}"],
            ["test: no condition", f"{(t_cond == 0).mean():.2f}", f"{t_es[t_cond == 0].mean():.3f}",
             f"{t_eb[t_cond == 0].mean():.3f}", f"{(t_es - t_eb)[t_cond == 0].mean():+.3f}"]]

    def row(name, m):
        return [name, f"{m.mean():.2f}", f"{es[m].mean():.3f}", f"{eb[m].mean():.3f}", f"{(es - eb)[m].mean():+.3f}"]

    rows += [row("test-unseen: all", np.ones(len(frames), bool)), row("test-unseen: no condition", cond == 0)]
    seq_regime = np.array([regime.get(int(q), "?") for q in frames.sequence])
    for name in sorted(set(seq_regime)):
        rows.append(row(f"test-unseen: {name} light", seq_regime == name))
    roll = read_extra(args.data, "test-unseen", "roll")
    pitch = read_extra(args.data, "test-unseen", "pitch")
    if roll is not None and pitch is not None:
        tilt = np.degrees(np.maximum(np.abs(roll), np.abs(pitch)))
        for lo, hi in ((0, 5), (5, 10), (10, 90)):
            rows.append(row(f"test-unseen: tilt {lo}-{hi} deg", (tilt >= lo) & (tilt < hi)))
    return ("summed MAE on test and test-unseen by lighting and tilt (max of |pitch|, |roll|)",
            ["frames", "share", "small", "big", "mean gap"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--big", default="zoo:big")
    parser.add_argument("--small", default="zoo:small")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gap_structure.md"))
    args = parser.parse_args(argv)
    lines, tables, val = analyse(args, "test")
    if (Path(args.data) / "test-unseen.npz").is_file():  # never-seen environments (synthetic sets)
        more_lines, more_tables, _ = analyse(args, "test-unseen", val)
        lines, tables = lines + more_lines, tables + more_tables
    md = ["# Where the big model's advantage lies", "",
          f"Generated by `benchmarks/gap_structure.py` on `{args.data}` with {args.big} and {args.small} "
          "(float models). Gap = the small model's summed absolute error minus the big model's, per frame.", ""]
    md += [f"- {line}" for line in lines] + [""]
    for title, headers, rows in tables:
        print(f"\n{title}")
        print(format_table(headers, rows))
        md += [f"## {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        md += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    for line in lines:
        print(line)
    atomic_write_text(args.out, "\n".join(md))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
