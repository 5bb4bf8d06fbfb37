"""The `quantize` command's work, callable from Python: load, quantize, score, save."""

import time

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.budget import parse_size
from edgeadapt.quant.pipeline import QuantizeOptions, quantize_graph, run_float, run_quantized
from edgeadapt.quant.report import build_report, mae_table
from edgeadapt.quant.sources import calibration_set, load_float_graph, load_frames
from edgeadapt.textio import write_json


def quantize_model(model_spec, calib_dir, out_path, options: QuantizeOptions, calib_frames=256, report_path=None) -> dict:
    """Quantize model_spec on calib_dir's train split, score both forms on its test split, write
    out_path (.eaq, with the report inside) and report_path (JSON). Returns the report."""
    start = time.perf_counter()
    if options.flash_budget is not None:
        parse_size(options.flash_budget, 1)  # a bad size string fails before any work
    graph = load_float_graph(model_spec)
    calib, calib_labels = calibration_set(calib_dir, calib_frames)
    test = load_frames(calib_dir, "test")
    result = quantize_graph(graph, calib, options, calib_labels)
    mae_float = mae_table(run_float(graph, test.images), test.labels)
    mae_quant = mae_table(run_quantized(result.graph, test.images), test.labels)
    report = build_report(result.graph, result.qsnr_db, mae_float, mae_quant, time.perf_counter() - start,
                          result.allocation, model=str(model_spec))
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
