"""The `quantize` command's work, callable from Python: load, quantize, score, save."""

import time

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.budget import parse_size
from edgeadapt.quant.pipeline import QuantizeOptions, quantize_graph, run_float, run_quantized
from edgeadapt.quant.report import build_report, mae_table
from edgeadapt.quant.sources import calibration_set, heldout_set, load_float_graph, load_frames
from edgeadapt.textio import write_json


def quantize_model(model_spec, calib_dir, out_path, options: QuantizeOptions, calib_frames=256, report_path=None,
                   input_scale=None, input_offset=None) -> dict:
    """Quantize model_spec on calib_dir's train split, score both forms on its test split, write
    out_path (.eaq, with the report inside) and report_path (JSON). Returns the report.

    input_scale / input_offset (a number or one per channel): the model's input is
    x = p * scale + offset of the raw pixels p; default: what the graph's leading Sub/Mul/Div
    say, else (p - 128) / 256. It is folded into the first layer (ir/normalization.py)."""
    start = time.perf_counter()
    if options.flash_budget is not None:
        parse_size(options.flash_budget, 1)  # a bad size string fails before any work
    from edgeadapt.data import dataset_task, task_metrics, train_label_mean

    from edgeadapt.ir.normalization import fold_input_normalization, resolve_normalization

    graph = load_float_graph(model_spec)
    norm = resolve_normalization(graph, input_scale, input_offset)
    graph, _ = fold_input_normalization(graph, norm)
    calib, calib_labels = calibration_set(calib_dir, calib_frames)
    task = dataset_task(calib_dir)
    test = load_frames(calib_dir, "test")
    heldout = heldout_set(calib_dir) if task in ("pose", "regression") and options.label_tuning else None
    result = quantize_graph(graph, calib, options, None if task == "none" else calib_labels, heldout, task)
    float_out = run_float(graph, test.images)
    quant_out = run_quantized(result.graph, test.images)
    mean = train_label_mean(calib_dir) if task in ("pose", "regression") else None
    metrics = {
        "float": task_metrics(task, float_out, test.labels, None, test.output_names, mean),
        "quant": task_metrics(task, quant_out, test.labels, float_out, test.output_names, mean),
    }
    pose = task == "pose"
    report = build_report(result.graph, result.qsnr_db, mae_table(float_out, test.labels) if pose else None,
                          mae_table(quant_out, test.labels) if pose else None, time.perf_counter() - start,
                          result.allocation, model=str(model_spec), metrics=metrics)
    save(result.graph, out_path, report)
    if report_path:
        write_json(report_path, report)
    return report


def save(graph, out_path, report):
    try:
        from edgeadapt.quant.artifact import save_eaq
    except ImportError:
        raise EdgeadaptError("writing .eaq files needs edgeadapt.quant.artifact, which is not installed") from None
    # wall time stays out of the model file, so the same inputs give the same .eaq
    save_eaq(graph, out_path, report={k: v for k, v in report.items() if k != "seconds"})
