"""What a layer costs: weight bytes at a bit width, MACs, and estimated cycles on a target.

Weight-byte convention (the figure the bit allocator budgets and the report prints): per weighted
layer, the packed weight rows of docs/fixed-point.md section 2 (each output channel's row starts on
a byte boundary, ceil(R * bits / 8) bytes), plus 4 bytes of int32 bias and 1 byte of shift (FL)
per output channel.

The cycle model is an estimate for budgeting, not a measurement: cycles per MAC of the reference
C kernels by weight width (unpacking 4- and 2-bit fields costs extra instructions), divided over
the target's cores, plus a requantization cost per output and a fixed call overhead per layer.
Its figures are the target description's [cycle_model] table (hil/targets/<name>.toml); the
quantizer is handed a CycleModel and never reads, names or loads a target itself.
"""

from dataclasses import dataclass

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.intops import packed_row_bytes

BIAS_BYTES = 4
SHIFT_BYTES = 1
WIDTHS = (8, 4, 2)


@dataclass(frozen=True)
class CycleModel:
    """Cycles per MAC by weight bits, per output (requantize + store), per layer (call overhead),
    and the parallel efficiency of splitting output rows over `cores` cores."""

    name: str
    mac: dict
    output: float
    layer: float
    parallel: float
    cores: int

    @classmethod
    def from_description(cls, description: dict) -> "CycleModel":
        """From a target description (the dict edgeadapt.codegen.targets.load_target returns)."""
        name = description.get("name", "?")
        table = description.get("cycle_model")
        if not isinstance(table, dict):
            raise EdgeadaptError(f"target '{name}' has no [cycle_model] table: no cycle estimate for it")
        try:
            mac = {int(bits): float(table["mac_cycles"][str(bits)]) for bits in WIDTHS}
            return cls(name, mac, float(table["output_cycles"]), float(table["layer_cycles"]),
                       float(table["parallel_efficiency"]), int(description["num_cores"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise EdgeadaptError(f"target '{name}': [cycle_model] needs mac_cycles for 8, 4 and 2 bits, "
                                 f"output_cycles, layer_cycles and parallel_efficiency ({exc})") from None


def row_length(node) -> int:
    w = node.weight if node.weight is not None else node.qweight
    return int(np.prod(w.shape[1:]))


def out_channels(node) -> int:
    w = node.weight if node.weight is not None else node.qweight
    return int(w.shape[0])


def layer_weight_bytes(node, bits: int) -> int:
    """Packed rows + int32 bias + one shift byte, per output channel."""
    c_out = out_channels(node)
    return c_out * (packed_row_bytes(row_length(node), bits) + BIAS_BYTES + SHIFT_BYTES)


def output_elements(graph, node) -> int:
    return int(np.prod(graph.tensors[node.output].shape))


def layer_macs(graph, node) -> int:
    if not node.has_weights and node.qweight is None:
        return 0
    if node.op == "fc":
        return out_channels(node) * row_length(node)
    # conv: every output element costs one row of the weight
    return output_elements(graph, node) * row_length(node)


def layer_cycles(graph, node, bits: int, model: CycleModel) -> float:
    """Estimated cycles of one weighted layer at `bits` under `model` (on all its cores)."""
    speedup = 1.0 + (model.cores - 1) * model.parallel
    work = layer_macs(graph, node) * model.mac[bits] + output_elements(graph, node) * model.output
    return work / speedup + model.layer
