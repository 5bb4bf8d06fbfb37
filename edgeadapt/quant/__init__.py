"""Quantization: the golden integer ops, the reference executor, the .eaq artifact, the pipeline."""

from edgeadapt.quant import intops
from edgeadapt.quant.reference import dequantize_outputs, predict_eaq, run_int

__all__ = ["dequantize_outputs", "intops", "predict_eaq", "run_int"]
