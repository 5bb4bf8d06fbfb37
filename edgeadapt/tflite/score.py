"""The import's scorecard: LiteRT running the original int8 .tflite, the float graph it was read
into, and our power-of-two re-quantization, on the calibration folder's test split."""

import numpy as np

from edgeadapt.data import dataset_task, headline, task_metrics


def score_import(tflite_path, calib_dir, out_path, options, calib_frames=256, input_scale=None, input_offset=None) -> dict:
    from edgeadapt.quant.artifact import load_eaq
    from edgeadapt.quant.reference import dequantize_outputs, run_int
    from edgeadapt.quant.sources import load_frames
    from edgeadapt.quant.workflow import quantize_model
    from edgeadapt.tflite.runtime import real_outputs, run_tflite

    report = quantize_model(tflite_path, calib_dir, out_path, options, calib_frames, None, input_scale, input_offset)
    graph = load_eaq(out_path)
    task = dataset_task(calib_dir)
    test = load_frames(calib_dir, "test")
    with open(tflite_path, "rb") as f:
        original = f.read()
    litert = real_outputs(run_tflite(original, test.images, "ref"))
    ours = dequantize_outputs(graph, run_int(graph, test.images)).astype(np.float64)
    labels = None if task == "none" else test.labels
    metrics = {
        "litert": task_metrics(task, litert, labels),
        "float": report.get("metrics_float"),
        "edgeadapt": task_metrics(task, ours, labels, litert),
    }
    rows, names = [], []
    figure = headline(metrics["litert"]) if task != "none" else None
    if figure is not None:
        names.append(figure[0])
    names += ["vs LiteRT: rms %", "vs LiteRT: top-1 agree" if task == "classification" else "vs LiteRT: max |diff|"]
    for key, label in (("litert", "LiteRT, original int8"), ("float", "float (dequantized weights)"),
                       ("edgeadapt", "edgeadapt, power-of-two")):
        m = metrics[key]
        row = [label]
        if figure is not None:
            h = headline(m) if m else None
            row.append("n/a" if h is None else f"{h[1]:.4f}")
        fid = (m or {}).get("fidelity")
        if key == "edgeadapt" and fid:
            row += [f"{fid['rms_error_pct']:.2f}" if fid["rms_error_pct"] is not None else "0",
                    f"{fid['top1_agreement']:.4f}" if task == "classification" else f"{fid['max_abs_error']:.4g}"]
        else:
            row += ["", ""]
        rows.append(row)
    change = None
    if figure is not None:
        change = headline(metrics["edgeadapt"])[1] - headline(metrics["litert"])[1]
    notes = list(graph.meta.get("dropped", []) if isinstance(graph.meta, dict) else [])
    return {
        "tflite": str(tflite_path), "eaq": str(out_path), "task": task, "frames": int(len(test)),
        "layers": int(sum(1 for n in graph.nodes if n.op in ("conv", "fc"))), "metrics": metrics,
        "headline": None if figure is None else figure[0], "change_vs_litert": change,
        "input_norm": graph.meta.get("input_norm") if isinstance(graph.meta, dict) else None,
        "rows": rows, "figure_names": names, "notes": notes,
    }
