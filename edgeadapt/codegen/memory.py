"""From a quantized graph to its buffers, their lifetimes and their offsets in the arena.

Schedule steps: step 0 recentres the uint8 frame into the int8 `input` buffer (docs/fixed-point.md
1.1), layer i runs at step i + 1, and step n + 1 copies the network outputs to the caller. A
tensor lives from the step that writes it to the last step that reads it; a layer's scratch lives
during its own step only, one slice per core. Scratch sizes come from the kernel each layer is
routed to (edgeadapt/codegen/kernels.py, mirroring the `*_get_buffer_size` twins of
firmware/include/ea_kernels.h; a test compiles the C twins and compares).
"""

from dataclasses import dataclass

import numpy as np

from edgeadapt.codegen.fusion import build_schedule, output_alias
from edgeadapt.codegen.kernels import conv_output_hw, is_pointwise, scratch_per_core  # noqa: F401 (re-exported)
from edgeadapt.codegen.planner import Buffer, Plan, align_up, greedy_by_size, plan_buffers, sum_of_buffers

INPUT_BUFFER = "input"


def row_length(node) -> int:
    """R: weights per output channel (conv: kh * kw * C_in / groups; fc: K)."""
    return int(np.prod(node.qweight.shape[1:] if node.qweight is not None else node.weight.shape[1:]))


@dataclass
class ModelPlan:
    """Where every buffer of one model lives in the arena."""

    graph: object
    layers: list
    buffers: list
    plan: Plan
    scratch: list  # per layer: bytes of one core's scratch slice (aligned; 0 = none)
    num_cores: int
    align: int
    outputs: list  # buffer names holding the network outputs, in graph.outputs order

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes

    def offset(self, buffer_name: str) -> int:
        return self.plan.offsets[buffer_name]

    def size(self, buffer_name: str) -> int:
        return next(b.size for b in self.buffers if b.name == buffer_name)


def scratch_name(layer) -> str:
    return f"scratch{layer.index}"


def tensor_bytes(graph, name: str) -> int:
    t = graph.tensors[name]
    return t.size * (4 if t.dtype == "int32" else 1)


def model_buffers(graph, layers, num_cores: int = 1, align: int = 8, kernels: str = "reference"):
    """Buffers with lifetimes for a schedule; returns (buffers, scratch per core per layer, outputs)."""
    n = len(layers)
    first = {INPUT_BUFFER: 0}
    last = {INPUT_BUFFER: 0}
    sizes = {INPUT_BUFFER: graph.tensors[graph.input].size}
    for layer in layers:
        step = layer.index + 1
        for name in layer.inputs:
            key = INPUT_BUFFER if name == graph.input else name
            last[key] = max(last[key], step)
        first[layer.output] = last[layer.output] = step
        sizes[layer.output] = tensor_bytes(graph, layer.output)
    outputs = []
    for out in graph.outputs:
        key = output_alias(graph, out)
        key = INPUT_BUFFER if key == graph.input else key
        last[key] = n + 1  # read by the final copy to the caller's int32 outputs
        outputs.append(key)
    buffers = [Buffer(name, sizes[name], first[name], last[name]) for name in sizes]
    scratch = []
    for layer in layers:
        per_core = align_up(scratch_per_core(graph, layer, kernels, num_cores), align)  # each slice stays aligned
        scratch.append(per_core)
        if per_core:
            step = layer.index + 1
            buffers.append(Buffer(scratch_name(layer), per_core * num_cores, step, step))
    return buffers, scratch, outputs


def plan_memory(graph, num_cores: int = 1, align: int = 8, fuse: bool = True, planner: str = "ours",
                kernels: str = "reference") -> ModelPlan:
    """Schedule `graph` (with fusion unless fuse=False) and place its buffers in one arena.

    planner: "ours" (plan_buffers), "greedy" (TFLite Micro's greedy by size) or "naive" (every
    buffer its own bytes, the sum of all buffers). kernels: the kernel set whose scratch is
    planned (a target description's `kernels`).
    """
    layers = build_schedule(graph, fuse=fuse)
    buffers, scratch, outputs = model_buffers(graph, layers, num_cores, align, kernels)
    if planner == "ours":
        plan = plan_buffers(buffers, align)
    elif planner == "greedy":
        plan = greedy_by_size(buffers, align)
    elif planner == "naive":
        plan = _naive(buffers, align)
    else:
        raise ValueError(f"unknown planner {planner!r}")
    return ModelPlan(graph, layers, buffers, plan, scratch, num_cores, align, outputs)


def _naive(buffers, align):
    offsets, top = {}, 0
    for b in buffers:
        offsets[b.name] = top
        top += (b.size + align - 1) // align * align
    assert top == sum_of_buffers(buffers, align)
    return Plan(offsets, top, "sum", list(buffers))
