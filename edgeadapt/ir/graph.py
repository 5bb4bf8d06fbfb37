"""The IR every stage after import works on.

One structure serves both the float graph (as imported) and the quantized graph (the same graph
with integer weights and fixed-point formats filled in). Layout conventions are those of
docs/fixed-point.md: activations HWC without a batch dimension, convolution weights OHWI,
fully-connected weights [C_out][K] with K in HWC flatten order.
"""

from dataclasses import dataclass, field

import numpy as np

# op -> meaning of its attrs
OPS = {
    "conv": "kernel (kh, kw), stride (sh, sw), pads (top, left, bottom, right), groups, act",
    "fc": "act; out_dtype 'int8' or 'int32' (raw accumulator, last layer only)",
    "maxpool": "kernel, stride, pads",
    "avgpool": "kernel, stride (pads are always 0), act",
    "gap": "global average pool over H x W; act",
    "add": "act",
    "concat": "concatenation along channels",
    "flatten": "no-op on HWC data (fc weights are permuted at import)",
    "lut": "fn (sigmoid, tanh, hardswish, hardsigmoid, leakyrelu, clip) and its params (alpha, beta, min, max); "
           "table: the 256 output codes, set by the quantizer (docs/fixed-point.md 4.8)",
    "resize": "scale (sh, sw): nearest-neighbour upsampling by integer factors (docs/fixed-point.md 4.9)",
}
ACTIVATIONS = ("none", "relu", "relu6")


@dataclass
class Tensor:
    """An activation tensor: per-sample shape (H, W, C) and, once quantized, its format."""

    name: str
    shape: tuple
    fl: int | None = None  # fractional length (None until quantized)
    dtype: str = "int8"  # "int8", or "int32" for raw-accumulator outputs

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Node:
    """One operator. Float weights always; integer fields once quantized."""

    name: str
    op: str
    inputs: list
    output: str
    attrs: dict = field(default_factory=dict)
    weight: np.ndarray | None = None  # float32, conv OHWI / fc [C_out, K]
    bias: np.ndarray | None = None  # float32 [C_out]
    # quantized parameters
    weight_bits: int = 8
    qweight: np.ndarray | None = None  # integer values (int8 storage), same shape as weight
    weight_fl: np.ndarray | None = None  # int32 [C_out] (all equal when per-tensor)
    qbias: np.ndarray | None = None  # int32 [C_out], in FL_in + FL_w[c]

    @property
    def act(self) -> str:
        return self.attrs.get("act", "none")

    @property
    def has_weights(self) -> bool:
        return self.weight is not None


@dataclass
class Graph:
    """A topologically ordered graph with one input and one or more outputs."""

    name: str
    input: str
    outputs: list
    tensors: dict
    nodes: list
    meta: dict = field(default_factory=dict)  # free-form provenance (source model, options)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def producer(self, tensor: str):
        for n in self.nodes:
            if n.output == tensor:
                return n
        return None

    def consumers(self, tensor: str) -> list:
        return [n for n in self.nodes if tensor in n.inputs]

    @property
    def quantized(self) -> bool:
        return all(t.fl is not None for t in self.tensors.values())
