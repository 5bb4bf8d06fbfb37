"""Intermediate representation: a typed, HWC, topologically ordered graph (float or quantized)."""

from edgeadapt.ir.graph import ACTIVATIONS, OPS, Graph, Node, Tensor

__all__ = ["ACTIVATIONS", "OPS", "Graph", "Node", "Tensor"]
