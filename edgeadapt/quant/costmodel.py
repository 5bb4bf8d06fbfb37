"""What a layer costs: weight bytes at a bit width, MACs, and estimated cycles on a target.

Weight-byte convention (the figure the bit allocator budgets and the report prints): per weighted
layer, the packed weight rows of docs/fixed-point.md section 2 (each output channel's row starts on
a byte boundary, ceil(R * bits / 8) bytes), plus 4 bytes of int32 bias and 1 byte of shift (FL)
per output channel.

The cycle model is an estimate for budgeting, not a measurement: cycles per MAC of the reference
C kernels by weight width (unpacking 4- and 2-bit fields costs extra instructions), divided over
the target's cores, plus a requantization cost per output and a fixed call overhead per layer.
"""

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.intops import packed_row_bytes

BIAS_BYTES = 4
SHIFT_BYTES = 1

# per target: cycles per MAC by weight bits, cycles per output (requantize + store), per-layer
# overhead, and the parallel efficiency of splitting output rows over the cores
CYCLE_MODELS = {
    "gap8": {"mac": {8: 2.5, 4: 3.5, 2: 4.0}, "output": 6.0, "layer": 2000.0, "parallel": 0.85},
    "stm32f405": {"mac": {8: 2.0, 4: 3.0, 2: 3.5}, "output": 8.0, "layer": 300.0, "parallel": 1.0},
    "mps2-an386": {"mac": {8: 2.0, 4: 3.0, 2: 3.5}, "output": 8.0, "layer": 300.0, "parallel": 1.0},
    "host": {"mac": {8: 1.0, 4: 1.5, 2: 1.8}, "output": 3.0, "layer": 100.0, "parallel": 1.0},
}
TARGET_ALIASES = {"stm32": "stm32f405", "qemu-m4": "mps2-an386"}


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


def cycle_model(target: str) -> dict:
    name = TARGET_ALIASES.get(target, target)
    if name not in CYCLE_MODELS:
        raise EdgeadaptError(f"no cycle model for target '{target}' (known: {', '.join(CYCLE_MODELS)})")
    return CYCLE_MODELS[name]


def layer_cycles(graph, node, bits: int, target: str, num_cores: int = 1) -> float:
    """Estimated cycles of one weighted layer at `bits` on `target` with `num_cores` cores."""
    model = cycle_model(target)
    speedup = 1.0 + (num_cores - 1) * model["parallel"]
    work = layer_macs(graph, node) * model["mac"][bits] + output_elements(graph, node) * model["output"]
    return work / speedup + model["layer"]


def target_cores(target: str) -> int:
    """Cores from the target description when one exists, else 1."""
    try:
        from edgeadapt.codegen.targets import load_target

        return int(load_target(TARGET_ALIASES.get(target, target))["num_cores"])
    except (ImportError, EdgeadaptError):
        return 1
