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


def build_report(graph, qsnr_db, mae_float, mae_quant, seconds, allocation=None, model=None) -> dict:
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
    lines.append(f"weight bytes: {report['weight_bytes']} ({report['weight_bytes'] / 1024:.1f} KiB)   "
                 f"time: {report['seconds']:.1f} s")
    return "\n".join(lines)
