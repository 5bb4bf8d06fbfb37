"""Quantization: the golden integer ops, the reference executor, the .eaq artifact, the pipeline."""

from edgeadapt.quant import intops

__all__ = ["intops"]
