"""Which firmware kernel runs each layer, and how much scratch it asks for.

One table, first match wins: every runtime layer is routed to the fastest kernel whose
preconditions it meets (firmware/include/ea_kernels.h). The emitter calls the kernel this module
names, the planner reserves the scratch it names, the manifest and `edgeadapt export` print it.
A new op adds one Route row (and its emitter in emit_c); nothing else chooses kernels.

A build-time drop-in (firmware/kernels/arm/, the `arm` kernel set) keeps the reference kernel's
name, arguments and results; its scratch may differ (the Cortex-M4 one-channel convolution keeps
int16 copies of its windows and weights), so scratch sizes are asked per kernel set: the one the
target's port builds (its description's `kernels`).
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgeadapt.errors import EdgeadaptError


def conv_output_hw(in_hw, attrs) -> tuple:
    kh, kw = attrs["kernel"]
    dh, dw = attrs.get("dilation", (1, 1))
    kh, kw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    sh, sw = attrs["stride"]
    top, left, bottom, right = attrs.get("pads", (0, 0, 0, 0))
    return (in_hw[0] + top + bottom - kh) // sh + 1, (in_hw[1] + left + right - kw) // sw + 1


def is_pointwise(node) -> bool:
    """The 1x1 fast path of ea_pointwise_conv2d_s8: kernel 1x1, no padding, one group."""
    a = node.attrs
    return tuple(a["kernel"]) == (1, 1) and not any(a.get("pads", (0, 0, 0, 0))) and a.get("groups", 1) == 1


def is_dilated(node) -> bool:
    """ea_dilated_conv2d_s8: kernel taps spaced more than one pixel apart (the only kernel that reads
    a dilation; the fast paths and their drop-ins assume dense taps)."""
    return tuple(node.attrs.get("dilation", (1, 1))) != (1, 1)


def is_depthwise(graph, node) -> bool:
    """ea_depthwise_conv2d_s8: one group per input channel (channel multiplier >= 1), C_in > 1."""
    in_c = graph.tensors[node.inputs[0]].shape[2]
    return in_c > 1 and node.attrs.get("groups", 1) == in_c


def _in_shape(graph, layer):
    return graph.tensors[layer.inputs[0]].shape


def _patch_bytes(graph, layer) -> int:
    kh, kw = layer.main.attrs["kernel"]
    return kh * kw * _in_shape(graph, layer)[2]


def _conv_scratch(graph, layer, kernels="reference") -> int:
    """ea_conv2d_s8: im2col patches of two output pixels (both sets compute pixel pairs); the arm
    set (one group) adds its pixel-pair scratch and, for 4/2-bit weights, a block of unpacked
    rows; its one-channel path keeps four int16 patches, the int16 weights (the window rounded up
    to an even count of taps) and the table instead (ea_m4_cin1_bytes)."""
    node = layer.main
    kh, kw = node.attrs["kernel"]
    one_channel = _in_shape(graph, layer)[2] == 1 and node.attrs.get("groups", 1) == 1
    out_c = node.qweight.shape[0]
    if kernels == "arm" and node.attrs.get("groups", 1) == 1:
        if one_channel:  # ea_m4_cin1_bytes: + the channel-pair table, + 3 to align
            return (8 + 2 * out_c) * ((kh * kw + 1) & ~1) + 16 * (out_c // 2) + 3
        k = _patch_bytes(graph, layer)
        return 2 * k + _unpack_scratch(node.weight_bits, k, out_c) + _pair_scratch(k, out_c)
    return 2 * _patch_bytes(graph, layer)


ARM_UNPACK_BUDGET = 4096  # EA_M4_UNPACK_BUDGET (kernels/arm/ea_m4_core.h)


def _unpack_scratch(bits, k, out_c) -> int:
    """The arm set's unpacked rows for 4/2-bit weights (ea_m4_unpack_bytes): the largest even
    number of rows of k bytes within the budget, 2 at least, out_c rounded up to even at most."""
    if bits == 8:
        return 0
    rows = max(2, min((ARM_UNPACK_BUDGET // k) & ~1, (out_c + 1) & ~1))
    return rows * k


def _pair_scratch(k, out_c) -> int:
    """The arm set's pixel-pair path (ea_m4_pair_scratch_bytes): a table of 4 words per output
    channel pair, the pair buffer of k widened values (4 words per 4 values + 6 tail words),
    3 bytes to align."""
    return 4 * (4 * (out_c // 2) + 4 * (k // 4) + 6) + 3


def _pointwise_scratch(graph, layer, kernels="reference") -> int:
    """ea_pointwise_conv2d_s8: none in the reference set; the arm set's pixel-pair path as for
    ea_conv2d_s8, without the patches (a pixel's channels are read in place)."""
    node = layer.main
    if kernels == "arm":
        k, out_c = _in_shape(graph, layer)[2], node.qweight.shape[0]
        return _unpack_scratch(node.weight_bits, k, out_c) + _pair_scratch(k, out_c)
    return 0


def _conv_maxpool_scratch(graph, layer, kernels="reference") -> int:
    """ea_conv2d_maxpool_s8: one conv output row (rounded up to 4 bytes) + ea_conv2d_s8's scratch."""
    node = layer.main
    conv_w = conv_output_hw(_in_shape(graph, layer)[:2], node.attrs)[1]
    return (conv_w * node.qweight.shape[0] + 3) // 4 * 4 + _conv_scratch(graph, layer, kernels)


def _depthwise_scratch(graph, layer, kernels="reference") -> int:
    """ea_depthwise_conv2d_s8: one int32 accumulator per output channel; the arm set with channel
    multiplier 1 at least its q15 weights and table, per group of 4 channels 8 * kh * kw + 32
    bytes."""
    node = layer.main
    out_c = node.qweight.shape[0]
    acc = 4 * out_c
    if kernels == "arm" and out_c == _in_shape(graph, layer)[2]:
        kh, kw = node.attrs["kernel"]
        return max(acc, (out_c // 4) * (8 * kh * kw + 32))
    return acc


def _none(graph, layer, kernels="reference") -> int:
    return 0


def _is_raw_fc(graph, layer) -> bool:
    return graph.tensors[layer.output].dtype == "int32"


@dataclass(frozen=True)
class Route:
    kernel: str  # the C function
    kind: str  # the layer kind it serves (fusion.Layer.kind)
    applies: Callable  # (graph, layer) -> bool, within that kind
    scratch: Callable  # (graph, layer, kernel set) -> bytes one core needs (the *_get_buffer_size twin)
    params: str  # the params struct type


def _always(graph, layer) -> bool:
    return True


# First match per kind wins: fast paths before the general kernel of their kind.
ROUTES = (
    Route("ea_conv2d_maxpool_s8", "conv_maxpool", _always, _conv_maxpool_scratch, "ea_conv_maxpool_params_t"),
    Route("ea_dilated_conv2d_s8", "conv", lambda g, layer: is_dilated(layer.main),
          lambda g, layer, kernels="reference": _conv_scratch(g, layer),  # no drop-in
          "ea_dilated_conv_params_t"),
    Route("ea_pointwise_conv2d_s8", "conv", lambda g, layer: is_pointwise(layer.main), _pointwise_scratch,
          "ea_conv_params_t"),
    Route("ea_depthwise_conv2d_s8", "conv", lambda g, layer: is_depthwise(g, layer.main), _depthwise_scratch,
          "ea_conv_params_t"),
    Route("ea_conv2d_s8", "conv", _always, _conv_scratch, "ea_conv_params_t"),
    Route("ea_fully_connected_s8_s32", "fc", _is_raw_fc, _none, "ea_fc_params_t"),
    Route("ea_fully_connected_s8", "fc", _always, _none, "ea_fc_params_t"),
    Route("ea_max_pool_s8", "maxpool", _always, _none, "ea_max_pool_params_t"),
    Route("ea_avg_pool_s8", "avgpool", _always, _none, "ea_avg_pool_params_t"),
    Route("ea_avg_pool_s8", "gap", _always, _none, "ea_avg_pool_params_t"),
    Route("ea_add_s8", "add", _always, _none, "ea_add_params_t"),
    Route("ea_concat_s8", "concat", _always, _none, "ea_concat_params_t"),
    Route("ea_lut_s8", "lut", _always, _none, "ea_lut_params_t"),
    Route("ea_resize_nearest_s8", "resize", _always, _none, "ea_resize_params_t"),
)


def route(graph, layer) -> Route:
    """The kernel that runs `layer`."""
    for r in ROUTES:
        if r.kind == layer.kind and r.applies(graph, layer):
            return r
    raise EdgeadaptError(f"node '{layer.name}': no kernel for layer kind '{layer.kind}'")


def kernel_name(graph, layer) -> str:
    return route(graph, layer).kernel


def fc_splits_k(graph, layer, cores: int) -> bool:
    """ea_fc_splits_k: a fully connected layer with fewer outputs than the team's cores splits its
    input dimension K across them (the ports that run cores at once give a barrier)."""
    return layer.kind == "fc" and int(np.prod(graph.tensors[layer.output].shape)) < cores


def team_scratch(graph, layer, cores: int) -> int:
    """ea_fully_connected_team_buffer_size: a K-splitting team's per-core int32 partial sums."""
    return 4 * int(np.prod(graph.tensors[layer.output].shape)) if fc_splits_k(graph, layer, cores) else 0


def scratch_per_core(graph, layer, kernels: str = "reference", cores: int = 1) -> int:
    """Bytes of scratch one core needs for `layer` in a team of `cores`: its kernel's
    *_get_buffer_size in the kernel set `kernels` ("reference" or "arm"), or the team's K-split
    scratch when that is larger."""
    return max(int(route(graph, layer).scratch(graph, layer, kernels)), team_scratch(graph, layer, cores))


def depthwise_weight_layout(qweight) -> np.ndarray:
    """OHWI depthwise weights [C_out][kh][kw][1] -> the kernel's tap-major [kh][kw][C_out]
    (docs/artifacts.md): one window position reads every channel's weight contiguously."""
    q = np.asarray(qweight)
    return np.ascontiguousarray(q.reshape(q.shape[0], -1).T)


ROWS, COLS, CHANNELS, PIXELS, INPUTS = "rows", "columns", "channels", "pixels", "inputs"
# The dimensions each kernel lets ea_split_box cut (firmware/include/ea_types.h); fully connected
# splits its output channels (or K, fc_splits_k), add its elements, concat its rows.
SPLIT_DIMS = {
    "ea_conv2d_s8": (ROWS, COLS, CHANNELS, PIXELS),  # a pixel range: ea_split_box_pixels
    "ea_pointwise_conv2d_s8": (ROWS, COLS, CHANNELS),
    "ea_depthwise_conv2d_s8": (ROWS, COLS, CHANNELS),
    "ea_conv2d_maxpool_s8": (ROWS, CHANNELS),
    "ea_max_pool_s8": (ROWS, COLS, CHANNELS),
    "ea_avg_pool_s8": (ROWS, COLS, CHANNELS),
    "ea_fully_connected_s8": (CHANNELS,),
    "ea_fully_connected_s8_s32": (CHANNELS,),
    "ea_add_s8": ("elements",),
    "ea_concat_s8": (ROWS,),
}


IM2COL_PIXEL_COST = 2  # EA_IM2COL_PIXEL_COST (ea_conv_core.h): a channel split repeats the gather
PIXEL_COST = {"ea_conv2d_s8": IM2COL_PIXEL_COST, "ea_conv2d_maxpool_s8": IM2COL_PIXEL_COST}


def split_dim(cores: int, extents: dict, dims, pixel_cost: int = 0) -> str:
    """ea_split_dim: first a dimension with at least `cores` items (no core under half the busiest's
    share), then the one whose even split gives the busiest core the least work, a box of h x w x c
    outputs (or p pixels of c) costing h * w * (c + pixel_cost); ties go to the earlier of rows,
    columns, channels, pixels. Single-dimension kernels (fully connected, add, concat) have nothing
    to choose."""
    if len(dims) == 1:
        return dims[0]
    h, w, c = extents[ROWS], extents[COLS], extents[CHANNELS]
    ceil = lambda n: -(-n // cores)  # noqa: E731
    cost = {ROWS: ceil(h) * w * (c + pixel_cost), COLS: h * ceil(w) * (c + pixel_cost),
            CHANNELS: h * w * (ceil(c) + pixel_cost), PIXELS: ceil(h * w) * (c + pixel_cost)}
    extent = {ROWS: h, COLS: w, CHANNELS: c, PIXELS: h * w}
    order = (ROWS, COLS, CHANNELS, PIXELS)
    # first no core under half the busiest's items (extent >= cores), then the least work
    return min(dims, key=lambda d: (extent[d] < cores, cost[d], order.index(d)))


def _even_shares(n: int, cores: int) -> list:
    """ea_split: core i gets [n * i / cores, n * (i + 1) / cores)."""
    return [n * (i + 1) // cores - n * i // cores for i in range(cores)]


def split_plan(graph, layer, cores: int) -> dict:
    """How the cores share a layer's work: the dimension cut, its extent, the items of the least
    and of the busiest core (each item is a whole slice of the other dimensions; for a K split,
    inputs of every output's dot product, cut at whole bytes of the weight rows)."""
    kernel = kernel_name(graph, layer)
    shape = graph.tensors[layer.output].shape
    if fc_splits_k(graph, layer, cores):
        k = int(np.prod(graph.tensors[layer.inputs[0]].shape))
        grain = 8 // layer.main.weight_bits  # ea_fc_k_grain: K slices start at whole weight bytes
        grains = _even_shares(-(-k // grain), cores)
        starts = np.cumsum([0] + grains) * grain
        shares = [int(min(b, k) - min(a, k)) for a, b in zip(starts[:-1], starts[1:])]
        dim, n = INPUTS, k
    else:
        if len(shape) == 3:
            h, w, c = shape
        else:
            h, w, c = 1, 1, int(np.prod(shape))
        extents = {ROWS: h, COLS: w, CHANNELS: c, PIXELS: h * w, "elements": h * w * c}
        dim = split_dim(cores, extents, SPLIT_DIMS[kernel], PIXEL_COST.get(kernel, 0))
        n = extents[dim]
        shares = _even_shares(n, cores)
    return {"dim": dim, "extent": n, "min_share": min(shares), "max_share": max(shares),
            "balance": min(shares) / max(shares) if max(shares) else 0.0}
