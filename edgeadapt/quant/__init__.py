"""Quantization: the golden integer ops, the reference executor, the .eaq artifact, the pipeline."""

from edgeadapt.quant import intops
from edgeadapt.quant.artifact import check_bounds, load_eaq, save_eaq
from edgeadapt.quant.reference import dequantize_outputs, predict_eaq, run_int

__all__ = ["check_bounds", "dequantize_outputs", "intops", "load_eaq", "predict_eaq", "run_int", "save_eaq"]

# The quantizer imports torch: loaded on first use, so the reference stays numpy-only.
_PIPELINE = ("QuantizeOptions", "quantize_graph", "run_quantized")


def __getattr__(name):
    if name in _PIPELINE:
        from edgeadapt.quant import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'edgeadapt.quant' has no attribute '{name}'")
