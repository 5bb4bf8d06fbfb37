"""Quantization accuracy: edgeadapt against ONNX Runtime, NNCF and the TFLite converter on the shipped pair.

Every method quantizes the same float model with the same calibration frames (spread evenly over
the train split) and is scored on the same test split. edgeadapt's rows are scored by the integer
reference (edgeadapt.quant.reference, the golden model the firmware matches bit for bit); the ONNX
peers' QDQ models by ONNX Runtime; the TFLite converter's full-integer model by LiteRT (optional:
the peers extra installs TensorFlow; without it the row says exactly why it is missing).

    python benchmarks/quant_accuracy.py --data DIR [--models zoo:big zoo:small] [--calib-frames 256]
    python benchmarks/quant_accuracy.py --task digits

Writes benchmarks/results/quant_accuracy.md (and --json FILE with the same figures). `--task digits`
trains the README's classifier on scikit-learn's bundled digits (examples/digits_classifier.py,
fixed seed) and writes benchmarks/results/quant_accuracy_digits.md: top-1 of float, edgeadapt
int8 and 4-bit, ONNX Runtime quantize_static and NNCF in the same run.
"""

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(ROOT / "build" / "torch_extensions"))

from edgeadapt.quant.peers import nncf_quantize, ort_quantize, predict_onnx  # noqa: E402
from edgeadapt.quant.pipeline import QuantizeOptions, quantize_graph, weight_bytes  # noqa: E402
from edgeadapt.quant.reference import predict_eaq  # noqa: E402
from edgeadapt.quant.report import POSE_NAMES, mae_table  # noqa: E402
from edgeadapt.quant.sources import calibration_set, heldout_set, load_float_graph, load_frames  # noqa: E402
from edgeadapt.textio import atomic_write_text, format_table, write_json  # noqa: E402

_OFF = dict(adapt=False, equalize=False, adaquant=False, bias_correction=False, label_tuning=False)
LADDER = (
    ("edgeadapt int8: min/max only", _OFF),
    ("edgeadapt int8: + AdaPT formats", {**_OFF, "adapt": True}),
    ("edgeadapt int8: + range equalization", {**_OFF, "adapt": True, "equalize": True}),
    ("edgeadapt int8: + AdaQuant", {**_OFF, "adapt": True, "equalize": True, "adaquant": True}),
    ("edgeadapt int8: + bias/BN tuning", {**_OFF, "adapt": True, "equalize": True, "adaquant": True, "bias_correction": True}),
    ("edgeadapt int8: + label bias tuning", dict(adapt=True, equalize=True, adaquant=True, bias_correction=True,
                                                  label_tuning=True)),
)
TFLITE_PEER = "TFLite converter, full-integer PTQ (LiteRT)"
MIXED = (("edgeadapt mixed, 75% of int8 bytes", "75%"), ("edgeadapt mixed, 50% of int8 bytes", "50%"))
INT8_TOLERANCE = 1.0  # % sum-of-MAE increase allowed at int8
MIXED_TOLERANCE = 3.0  # % at <= 50% of the int8 weight bytes


def onnx_file(spec, workdir) -> Path:
    if str(spec).lower().endswith(".onnx"):
        return Path(spec)
    from edgeadapt.models import export_onnx, load_checkpoint

    model, info = load_checkpoint(spec)
    return export_onnx(model, info, Path(workdir) / f"{info['name']}.onnx")


def peer_bytes(graph) -> int:
    """int8 per-channel weights in edgeadapt's byte convention (scales count as the shift byte)."""
    return weight_bytes(graph, {n.name: 8 for n in graph.nodes if n.has_weights})


def benchmark_model(spec, data_dir, calib_frames, workdir, log):
    graph = load_float_graph(spec)
    onnx_path = onnx_file(spec, workdir)
    calib, calib_labels = calibration_set(data_dir, calib_frames)
    heldout = heldout_set(data_dir)  # label bias tuning keeps a shift only where these val frames gain too
    test = load_frames(data_dir, "test")
    rows = []
    reference = predict_onnx(onnx_path, test.images)[:, : len(POSE_NAMES)]
    spread = reference.std(axis=0)

    def add(method, pred, nbytes, seconds):
        pred = np.asarray(pred)[:, : len(POSE_NAMES)]
        mae = mae_table(pred, test.labels)
        # fidelity: how far the quantized outputs are from the float ones, per unit of output spread
        deviation = float(np.mean(np.abs(pred - reference).mean(axis=0) / spread)) * 100.0
        rows.append({"method": method, "weight_bytes": nbytes, "mae": mae, "deviation_pct": round(deviation, 3),
                     "seconds": round(seconds, 1)})
        log(f"  {method:40s} sum-MAE {mae['sum']:.4f}  dev {deviation:.2f}%  {nbytes} B  {seconds:.1f} s")

    add("float (ONNX Runtime)", reference, None, 0.0)
    # what label bias tuning alone does to the float model: the share of the gain that is not quantization
    float_calib = predict_onnx(onnx_path, calib)[:, : len(POSE_NAMES)]
    add("float + label bias tuning (reference, not a quantizer)",
        reference + np.median(calib_labels - float_calib, axis=0), None, 0.0)
    for method, flags in LADDER:
        start = time.perf_counter()
        result = quantize_graph(graph, calib, QuantizeOptions(weight_bits=8, **flags), calib_labels, heldout, "pose")
        seconds = time.perf_counter() - start
        add(method, predict_eaq(result.graph, test.images), weight_bytes(result.graph, result.bits), seconds)
    for method in ("MinMax", "Percentile"):
        start = time.perf_counter()
        model = ort_quantize(onnx_path, calib, method)
        seconds = time.perf_counter() - start
        add(f"ONNX Runtime quantize_static, {method}", predict_onnx(model, test.images), peer_bytes(graph), seconds)
    start = time.perf_counter()
    model = ort_quantize(onnx_path, calib, "MinMax", symmetric_activations=True)
    seconds = time.perf_counter() - start
    add("ONNX Runtime quantize_static, MinMax, symmetric activations", predict_onnx(model, test.images),
        peer_bytes(graph), seconds)
    start = time.perf_counter()
    model = nncf_quantize(onnx_path, calib)
    seconds = time.perf_counter() - start
    add("NNCF nncf.quantize", predict_onnx(model, test.images), peer_bytes(graph), seconds)
    tflite = tflite_peer(graph, calib, test, add, log)
    for method, budget in MIXED:
        start = time.perf_counter()
        result = quantize_graph(graph, calib, QuantizeOptions(weight_bits="auto", flash_budget=budget), calib_labels,
                                heldout, "pose")
        seconds = time.perf_counter() - start
        widths = "/".join(str(result.bits[n.name]) for n in result.graph.nodes if n.has_weights)
        add(f"{method} ({widths})", predict_eaq(result.graph, test.images),
            weight_bytes(result.graph, result.bits), seconds)
    float_sum = rows[0]["mae"]["sum"]
    for row in rows:
        row["delta_pct"] = round(100.0 * (row["mae"]["sum"] / float_sum - 1.0), 3)
    return {"model": str(spec), "graph": graph.name, "calib_frames": len(calib), "test_frames": len(test.labels),
            "int8_bytes": peer_bytes(graph), "rows": rows, "checks": checks(rows), "tflite_peer": tflite}


def tflite_peer(graph, calib, test, add, log) -> dict:
    """The TFLite converter's full-integer PTQ run in LiteRT, or the exact reason it cannot run."""
    from edgeadapt.ir.float_exec import run_float
    from edgeadapt.tflite.converter_peer import _inputs, predict_tflite, route, tflite_ptq, unavailable

    why = unavailable()
    if why is not None:
        log(f"  {TFLITE_PEER:40s} not run: {why}")
        return {"ran": False, "reason": why}
    start = time.perf_counter()
    model, keras_float = tflite_ptq(graph, calib)
    seconds = time.perf_counter() - start
    rebuilt = float(np.abs(keras_float - np.asarray(run_float(graph, _inputs(calib)))).max())
    add(TFLITE_PEER, predict_tflite(model, test.images), peer_bytes(graph), seconds)
    return {"ran": True, "route": route(), "keras_vs_float_max_abs": rebuilt, "tflite_bytes": len(model)}


def checks(rows) -> dict:
    by = {r["method"]: r for r in rows}
    ours = by[LADDER[-1][0]]
    tracking = by[LADDER[-2][0]]  # fidelity is read before label tuning, which leaves float on purpose
    peers = [r for r in rows if r["method"].startswith(("ONNX Runtime quantize", "NNCF", "TFLite"))]
    best_peer = min(peers, key=lambda r: r["mae"]["sum"])
    closest_peer = min(peers, key=lambda r: r["deviation_pct"])
    half = next(r for r in rows if r["method"].startswith(MIXED[-1][0]))
    int8_bytes = ours["weight_bytes"]
    return {
        "int8_within_1pct": ours["delta_pct"] <= INT8_TOLERANCE,
        "int8_not_worse_than_best_peer": ours["mae"]["sum"] <= best_peer["mae"]["sum"],
        "best_peer": best_peer["method"],
        "int8_deviation_pct": tracking["deviation_pct"],
        "closest_peer": closest_peer["method"],
        "closest_peer_deviation_pct": closest_peer["deviation_pct"],
        "mixed50_bytes_ratio": round(half["weight_bytes"] / int8_bytes, 4),
        "mixed50_within_3pct": half["delta_pct"] <= MIXED_TOLERANCE and half["weight_bytes"] <= 0.5 * int8_bytes,
    }


def markdown(results, data_dir, note=None) -> str:
    lines = [
        "# Quantization accuracy",
        "",
        "Generated by `benchmarks/quant_accuracy.py`. MAE on the test split of the dataset below (x, y, z in m,",
        "phi in rad); every method uses the same calibration frames, spread evenly over the train split.",
        "edgeadapt rows are scored by the integer reference (bit-exact with the firmware); ONNX Runtime",
        "and NNCF rows by ONNX Runtime on their QDQ models. Weight bytes follow edgeadapt's convention",
        "(packed rows + int32 bias + 1 shift byte per output channel); the peers' int8 models are counted",
        "the same way. `d sum %`: change of the sum of MAE against float. `dev %`: mean |quantized - float|",
        "output per unit of the float output's standard deviation, averaged over x, y, z, phi (fidelity,",
        "independent of how good the float model is). Seconds: wall time of the quantization alone, on a",
        "shared 2-core machine. ONNX Runtime's default activations are asymmetric (all 256 codes on",
        "[0, max] after a ReLU, a zero point, float scales); its symmetric-activation row has no zero",
        "point and 128 codes for a ReLU output. edgeadapt has no zero point either and power-of-two",
        "scales, with uint8 activations (256 codes) wherever a tensor cannot be negative (after a ReLU).",
        "edgeadapt's last step, label bias tuning (CalibTIP's bias tuning, docs/decisions.md D17), also",
        "reads the calibration frames' labels: it moves each pose output's bias by the median residual",
        "on those frames, and keeps the move only where the MAE of the val split drops too (D19). The",
        "`float + label bias tuning` row applies the median shift of every output to the float model,",
        "to show how much of a gain comes from that correction rather than from the quantization.",
        "",
        f"Dataset: `{data_dir}`",
        "",
    ]
    if note:
        lines += [note.strip(), ""]
    for res in results:
        lines += [f"## {res['model']} ({res['graph']}; {res['calib_frames']} calibration frames, "
                  f"{res['test_frames']} test frames)", ""]
        headers = ["method", "weight B", *POSE_NAMES, "sum", "d sum %", "dev %", "s"]
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "---|" * len(headers))
        for r in res["rows"]:
            cells = [r["method"], "-" if r["weight_bytes"] is None else str(r["weight_bytes"])]
            cells += [f"{r['mae'][k]:.4f}" for k in (*POSE_NAMES, "sum")]
            cells += [f"{r['delta_pct']:+.2f}", f"{r['deviation_pct']:.2f}", f"{r['seconds']:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
        c = checks(res["rows"])
        peer = res.get("tflite_peer") or {}
        if peer.get("ran"):
            tfl = (f"- TFLite converter peer: TFLiteConverter (Optimize.DEFAULT, the calibration frames as "
                   f"representative dataset, TFLITE_BUILTINS_INT8) on a Keras rebuild of the float graph "
                   f"(max |Keras - float| {peer['keras_vs_float_max_abs']:.1e} on the calibration frames), run in LiteRT. "
                   f"Why not ONNX -> onnx2tf: {peer['route']}")
        else:
            tfl = f"- TFLite converter peer **not run**: {peer.get('reason', 'not measured in this run')}"
        lines += [
            "",
            tfl,
            f"- int8 (full pipeline) within {INT8_TOLERANCE:g}% of float: **{'yes' if c['int8_within_1pct'] else 'NO'}**",
            f"- int8 no worse than the best peer ({c['best_peer']}): **{'yes' if c['int8_not_worse_than_best_peer'] else 'NO'}**",
            f"- output deviation from float, int8 before label bias tuning: {c['int8_deviation_pct']:.2f}% against "
            f"{c['closest_peer_deviation_pct']:.2f}% for the closest peer ({c['closest_peer']})",
            f"- mixed precision at {100 * c['mixed50_bytes_ratio']:.1f}% of the int8 bytes within {MIXED_TOLERANCE:g}%: "
            f"**{'yes' if c['mixed50_within_3pct'] else 'NO'}**",
            "",
        ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- --task digits

DIGITS_TOLERANCE = {8: 0.5, 4: 1.0}  # top-1 points below float allowed


def benchmark_digits(workdir, calib_frames, log, data_dir=None, epochs=60):
    """The README's classifier: train, then float / edgeadapt / ORT / NNCF top-1 on the test split."""
    sys.path.insert(0, str(ROOT / "examples"))
    import digits_classifier as example

    from edgeadapt.data import task_metrics
    from edgeadapt.ir.normalization import fold_input_normalization, onnx_input_feed, resolve_normalization

    data_dir = Path(data_dir or Path(workdir) / "digits")
    example.write_digits(data_dir)
    start = time.perf_counter()
    net = example.train(data_dir, epochs)
    train_seconds = time.perf_counter() - start
    onnx_path = Path(workdir) / "digits.onnx"
    example.export(net, onnx_path)
    graph, _ = fold_input_normalization(*(lambda g: (g, resolve_normalization(g)))(load_float_graph(onnx_path)))
    feed = onnx_input_feed(onnx_path)
    calib, calib_labels = calibration_set(data_dir, calib_frames)
    test = load_frames(data_dir, "test")
    reference = predict_onnx(onnx_path, test.images, feed=feed)
    rows = []

    def add(method, outputs, nbytes, seconds):
        m = task_metrics("classification", outputs, test.labels, reference)
        rows.append({"method": method, "weight_bytes": nbytes, "top1": round(100 * m["top1"], 3),
                     "agreement": round(100 * m["fidelity"]["top1_agreement"], 3),
                     "rms_dev_pct": round(m["fidelity"]["rms_error_pct"] or 0.0, 3), "seconds": round(seconds, 1)})
        log(f"  {method:40s} top-1 {rows[-1]['top1']:.2f} %  agree {rows[-1]['agreement']:.2f} %  "
            f"dev {rows[-1]['rms_dev_pct']:.2f} %  {nbytes} B  {seconds:.1f} s")

    add("float (ONNX Runtime)", reference, None, 0.0)
    for method, options in (("edgeadapt int8: min/max only", QuantizeOptions(weight_bits=8, **_OFF)),
                            ("edgeadapt int8", QuantizeOptions(weight_bits=8)),
                            ("edgeadapt 4-bit weights", QuantizeOptions(weight_bits=4)),
                            ("edgeadapt mixed, 50% of int8 bytes", QuantizeOptions(weight_bits="auto", flash_budget="50%"))):
        start = time.perf_counter()
        result = quantize_graph(graph, calib, options, calib_labels, None, "classification")
        seconds = time.perf_counter() - start
        if options.weight_bits == "auto":
            method += " (" + "/".join(str(result.bits[n.name]) for n in result.graph.nodes if n.has_weights) + ")"
        add(method, predict_eaq(result.graph, test.images), weight_bytes(result.graph, result.bits), seconds)
    for method in ("MinMax", "Percentile"):
        start = time.perf_counter()
        model = ort_quantize(onnx_path, calib, method, feed=feed)
        seconds = time.perf_counter() - start
        add(f"ONNX Runtime quantize_static, {method}", predict_onnx(model, test.images, feed=feed), peer_bytes(graph), seconds)
    start = time.perf_counter()
    model = nncf_quantize(onnx_path, calib, feed=feed)
    seconds = time.perf_counter() - start
    add("NNCF nncf.quantize", predict_onnx(model, test.images, feed=feed), peer_bytes(graph), seconds)
    return {"model": "examples/digits_classifier.py", "graph": graph.name, "epochs": epochs,
            "train_seconds": round(train_seconds, 1), "calib_frames": len(calib), "test_frames": len(test),
            "rows": rows, "checks": digits_checks(rows)}


def digits_checks(rows) -> dict:
    by = {r["method"]: r for r in rows}
    float_top1 = by["float (ONNX Runtime)"]["top1"]
    peers = [r for r in rows if r["method"].startswith(("ONNX Runtime", "NNCF"))]
    best = max(peers, key=lambda r: r["top1"])
    return {
        "float_top1": float_top1,
        "int8_within": float_top1 - by["edgeadapt int8"]["top1"] <= DIGITS_TOLERANCE[8],
        "int4_within": float_top1 - by["edgeadapt 4-bit weights"]["top1"] <= DIGITS_TOLERANCE[4],
        "best_peer": best["method"], "best_peer_top1": best["top1"],
        "int8_not_worse_than_best_peer": by["edgeadapt int8"]["top1"] >= best["top1"],
    }


def digits_markdown(res) -> str:
    lines = [
        "# Quantization accuracy: a classifier of your own (scikit-learn digits)",
        "",
        "Generated by `benchmarks/quant_accuracy.py --task digits`. The network of",
        "`examples/digits_classifier.py` (three 3x3 convs with BN and ReLU, global average pool, a 10-way",
        f"fc; its own input normalization x = p / 255 - 0.5 in the graph) is trained for {res['epochs']} epochs",
        f"(seed 0, {res['train_seconds']:.0f} s) on the train split of scikit-learn's bundled 8x8 digits, imported",
        "with `edgeadapt dataset import` (1797 images: 1257 train, 270 val, 270 test). Every method",
        f"quantizes the same ONNX file with the same {res['calib_frames']} calibration frames (spread over the train",
        f"split) and is scored on the same {res['test_frames']} test frames: edgeadapt by its integer reference",
        "(bit-exact with the firmware), ONNX Runtime and NNCF by ONNX Runtime on their QDQ models. `agree %`:",
        "frames whose top-1 class is the float model's; `dev %`: RMS of (quantized - float) logits over",
        "RMS of the float logits. Weight bytes in edgeadapt's convention (packed rows + int32 bias + 1",
        "shift byte per output channel); the peers' int8 models counted the same way. Label bias tuning",
        "does not run on a classifier (D19). Seconds: quantization wall time on a shared 2-core machine.",
        f"One test frame is {100 / res['test_frames']:.2f} points of top-1.",
        "",
        "| method | weight B | top-1 % | d top-1 (points) | agree % | dev % | s |",
        "|---|---|---|---|---|---|---|",
    ]
    f = res["checks"]["float_top1"]
    for r in res["rows"]:
        lines.append(f"| {r['method']} | {'-' if r['weight_bytes'] is None else r['weight_bytes']} | {r['top1']:.2f} | "
                     f"{r['top1'] - f:+.2f} | {r['agreement']:.2f} | {r['rms_dev_pct']:.2f} | {r['seconds']:.1f} |")
    c = res["checks"]
    yes = lambda v: "yes" if v else "NO"  # noqa: E731
    lines += [
        "",
        f"- int8 within {DIGITS_TOLERANCE[8]:g} points of float: **{yes(c['int8_within'])}**",
        f"- 4-bit weights within {DIGITS_TOLERANCE[4]:g} point of float: **{yes(c['int4_within'])}**",
        f"- int8 no worse than the best peer ({c['best_peer']}, {c['best_peer_top1']:.2f} %): "
        f"**{yes(c['int8_not_worse_than_best_peer'])}**",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="pose", choices=["pose", "digits"], help="pose: the shipped pair; digits: the README's classifier")
    parser.add_argument("--data", default=None, help="dataset folder (train split calibrates, test split scores); pose: required")
    parser.add_argument("--models", nargs="+", default=["zoo:big", "zoo:small"])
    parser.add_argument("--calib-frames", type=int, default=256)
    parser.add_argument("--out", default=None, help="default benchmarks/results/quant_accuracy[_digits].md")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--note", default=None, help="a paragraph (or @FILE) printed under the header")
    parser.add_argument("--from-json", default=None, help="re-render the markdown of an earlier --json run")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = str(ROOT / "benchmarks" / "results" / ("quant_accuracy_digits.md" if args.task == "digits" else "quant_accuracy.md"))
    if args.task == "pose" and not args.data and not args.from_json:
        parser.error("--data is required for --task pose")
    note = args.note
    if note and note.startswith("@"):
        note = Path(note[1:]).read_text()
    if args.from_json:
        import json

        saved = json.loads(Path(args.from_json).read_text())
        text = digits_markdown(saved) if args.task == "digits" else markdown(saved["results"], saved["data"], note)
        atomic_write_text(args.out, text)
        print(f"wrote {args.out}")
        return
    logging.disable(logging.WARNING)  # ORT and NNCF chatter
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(2)
    if args.task == "digits":
        with tempfile.TemporaryDirectory() as workdir:
            res = benchmark_digits(workdir, args.calib_frames, lambda m: print(m, flush=True), args.data)
        atomic_write_text(args.out, digits_markdown(res))
        if args.json:
            write_json(args.json, res)
        print(f"\nwrote {args.out}")
        return
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for spec in args.models:
            print(f"{spec}:", flush=True)
            results.append(benchmark_model(spec, args.data, args.calib_frames, workdir, lambda m: print(m, flush=True)))
    atomic_write_text(args.out, markdown(results, args.data, note))
    if args.json:
        write_json(args.json, {"data": args.data, "results": results})
    for res in results:
        print()
        print(res["model"])
        print(format_table(["method", "weight B", "sum MAE", "d sum %", "dev %"],
                           [[r["method"], r["weight_bytes"] or "-", r["mae"]["sum"], r["delta_pct"], r["deviation_pct"]]
                            for r in res["rows"]]))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
