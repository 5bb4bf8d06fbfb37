"""The quantization report: per-layer formats, sizes and QSNR, and the float vs quantized MAE.

JSON schema (docs/artifacts.md, "Quantization report"):
  {"model", "layers": [{"name", "op", "macs", "weight_bits", "weight_fl", "act_fl", "weight_bytes",
  "qsnr_db"}], "mae_float": {"x","y","z","phi","sum"}, "mae_quant": {...}, "weight_bytes",
  "seconds", "options", "allocation"}
"""

import math

import numpy as np

from edgeadapt.quant import costmodel
from edgeadapt.textio import format_table

POSE_NAMES = ("x", "y", "z", "phi")


def mae_table(pred, labels) -> dict:
    """Mean absolute error per pose output and their sum (the paper's headline metric)."""
    pred = np.asarray(pred, np.float64)[:, : len(POSE_NAMES)]
    labels = np.asarray(labels, np.float64)[:, : len(POSE_NAMES)]
    errors = np.abs(pred - labels).mean(axis=0)
    table = {name: float(e) for name, e in zip(POSE_NAMES, errors)}
    table["sum"] = float(errors.sum())
    return table


def _json_number(v):
    """JSON has no infinities: an exact layer (no quantization noise) reports null."""
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), 2)


def layer_rows(graph, qsnr_db) -> list:
    rows = []
    for node in graph.nodes:
        weighted = node.has_weights
        fl_out = graph.tensors[node.output].fl
        rows.append({
            "name": node.name,
            "op": node.op,
            "macs": costmodel.layer_macs(graph, node) if weighted else 0,
            "weight_bits": int(node.weight_bits) if weighted else None,
            "weight_fl": [int(f) for f in node.weight_fl] if weighted else None,
            "act_fl": [int(f) for f in fl_out] if isinstance(fl_out, (list, tuple)) else int(fl_out),
            "weight_bytes": costmodel.layer_weight_bytes(node, node.weight_bits) if weighted else 0,
            "qsnr_db": _json_number(qsnr_db.get(node.name)),
        })
    return rows


def build_report(graph, qsnr_db, mae_float, mae_quant, seconds, allocation=None, model=None, metrics=None) -> dict:
    layers = layer_rows(graph, qsnr_db)
    report = {
        "model": model or graph.name,
        "layers": layers,
        "mae_float": mae_float,
        "mae_quant": mae_quant,
        "weight_bytes": int(sum(r["weight_bytes"] for r in layers)),
        "seconds": round(float(seconds), 2),
        "options": graph.meta.get("quantizer", {}),
    }
    if metrics:
        report["task"] = metrics["quant"]["task"]
        report["metrics_float"] = metrics["float"]
        report["metrics_quant"] = metrics["quant"]
    if allocation:
        report["allocation"] = allocation
    return report


def _fl_text(fls):
    if fls is None:
        return "-"
    lo, hi = min(fls), max(fls)
    return str(lo) if lo == hi else f"{lo}..{hi}"


def format_report(report) -> str:
    headers = ["layer", "op", "MACs", "bits", "weight FL", "act FL", "weight B", "QSNR dB"]
    rows = [
        [r["name"], r["op"], r["macs"], "-" if r["weight_bits"] is None else r["weight_bits"], _fl_text(r["weight_fl"]),
         _fl_text(r["act_fl"] if isinstance(r["act_fl"], list) else [r["act_fl"]]), r["weight_bytes"],
         "exact" if r["qsnr_db"] is None else float(r["qsnr_db"])]
        for r in report["layers"]
    ]
    lines = [format_table(headers, rows), ""]
    mae_rows = []
    for label, key in (("float", "mae_float"), ("quantized", "mae_quant")):
        if report.get(key):
            mae_rows.append([label] + [report[key][k] for k in (*POSE_NAMES, "sum")])
    if mae_rows:
        lines += [format_table(["MAE", *POSE_NAMES, "sum"], mae_rows), ""]
        if len(mae_rows) == 2 and report["mae_float"]["sum"] > 0:
            rel = 100.0 * (report["mae_quant"]["sum"] / report["mae_float"]["sum"] - 1.0)
            lines.append(f"sum-of-MAE change: {rel:+.2f}%")
    lines += task_lines(report)
    lines.append(f"weight bytes: {report['weight_bytes']} ({report['weight_bytes'] / 1024:.1f} KiB)   "
                 f"time: {report['seconds']:.1f} s")
    return "\n".join(lines)


def task_lines(report) -> list:
    """The task's figures float vs quantized, the output fidelity and what label tuning did, in words."""
    mf, mq = report.get("metrics_float"), report.get("metrics_quant")
    lines = []
    if not mq:
        return lines
    task = mq["task"]
    if task == "classification":
        lines.append(f"top-1 accuracy on {mq['frames']} test frames: float {100 * mf['top1']:.2f} %, "
                     f"quantized {100 * mq['top1']:.2f} % ({100 * (mq['top1'] - mf['top1']):+.2f} points)")
    elif task == "regression":
        names = [k for k in mq["mae"] if k != "mean"]
        rows = [[label] + [m["mae"][k] for k in names] + [m["mae"]["mean"]] for label, m in (("float", mf), ("quantized", mq))]
        rows.append(["R2 quantized"] + [mq["r2"][k] for k in names] + ["-"])
        lines += [format_table(["MAE", *names, "mean"], rows), ""]
    fid = mq.get("fidelity")
    if fid:
        text = "n/a (the float outputs are all zero)" if fid["rms_error_pct"] is None else f"{fid['rms_error_pct']:.2f} %"
        line = (f"output deviation from float (what quantization cost, labels aside): RMS {text} of the float "
                f"outputs, largest |error| {fid['max_abs_error']:.4g}")
        if "top1_agreement" in fid:
            line += f", same top-1 class as float on {100 * fid['top1_agreement']:.2f} % of frames"
        lines.append(line)
    tuning = report.get("options", {}).get("label_tuning") or {}
    if tuning.get("skipped"):
        lines.append(f"label bias tuning: not applied ({tuning['skipped']})")
    elif "heldout" in tuning:
        names = ([k for k in mq.get("mae", {}) if k not in ("sum", "mean")] if task in ("pose", "regression") else [])
        held = tuning["heldout"]
        moved = ", ".join(f"{names[c] if c < len(names) else c} {s:+.4g}" for c, s in zip(tuning["outputs"], tuning["shifts"]))
        lines.append(f"label bias tuning: {'moved ' + moved if moved else 'moved nothing'} "
                     f"(kept only where the MAE of {held['frames']} val frames drops: "
                     f"{sum(held['mae_before']):.4f} -> {sum(held['mae_after']):.4f} summed)")
    return lines
