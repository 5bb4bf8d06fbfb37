"""Choosing Qm.n formats: the fractional length (FL) of every weight channel and activation.

Weights (AdaPT's PushDown, adapted to post-training quantization): the word length WL is the target
bit width, so the search is over FL only, per output channel. Starting from the FL that clips
nothing, FL goes up (finer steps, more clipping) and the first FL whose quantized histogram is
indistinguishable from the float one at `res` bins (KL divergence <= eps) wins. When no candidate
is lossless (the usual case at 4 and 2 bits, where 16 or 4 levels cannot reproduce a 64-bin
histogram) the FL with the smallest weight MSE is taken. See docs/quantization.md.

Activations: one FL per tensor, the power-of-two clipping that minimizes the quantization MSE on
the calibration activations (plain min/max wastes range on rare outliers), over the tensor's code
range: [-128, 127] for int8, [0, 255] for a uint8 tensor (one that cannot be negative, e.g. after a
ReLU; docs/fixed-point.md section 1.3), which gets one more bit of resolution for the same range.

Everything rounds half up, like the requantization shift of docs/fixed-point.md section 3.
"""

import numpy as np

from edgeadapt.quant import intops
from edgeadapt.quant.intops import WEIGHT_RANGES, weight_range

# AdaPT defaults, adapted (docs/quantization.md explains each)
KL_RES = 64  # histogram bins; AdaPT adapts res in [50, 150] during training
KL_EPS = 0.05  # "no information loss"; AdaPT demands exactly 0, which sampling noise never gives
KL_SMOOTH = 1e-4  # probability floor for quantized bins that receive no value
MAX_EXTRA_FL = 4  # FLs above the no-clip one that the searches consider
ACT_RANGE = (-128, 127)  # int8 activations
UACT_RANGE = (0, 255)  # uint8 activations


def activation_range(unsigned=False):
    return UACT_RANGE if unsigned else ACT_RANGE


def round_half_up(x):
    return np.floor(x + 0.5)


def quantize_to_grid(x, fl, lo, hi):
    """Integer codes of x in format FL, rounded half up and saturated to [lo, hi] (float array)."""
    return np.clip(round_half_up(np.asarray(x, np.float64) * np.exp2(fl)), lo, hi)


def noclip_fl(max_pos, min_neg, lo, hi):
    """Largest FL (per element of the inputs) whose grid holds [min_neg, max_pos] without clipping.

    An all-zero channel gets FL 0 (callers clamp it into the legal shift range).
    """
    max_pos = np.maximum(np.asarray(max_pos, np.float64), 0.0)
    min_neg = np.minimum(np.asarray(min_neg, np.float64), 0.0)
    peak = np.maximum(max_pos, -min_neg)
    with np.errstate(divide="ignore"):
        fl = np.floor(np.log2(hi / np.where(peak > 0, peak, 1.0))).astype(np.int64)
    fl = np.where(peak > 0, fl, 0)
    # rounding half up lets one more FL fit when the extremes still round inside [lo, hi]
    for _ in range(2):
        nxt = fl + 1
        fits = (round_half_up(max_pos * np.exp2(nxt)) <= hi) & (round_half_up(min_neg * np.exp2(nxt)) >= lo)
        fl = np.where(fits & (peak > 0), nxt, fl)
    return fl


def histogram_kl(values, dequantized, res=KL_RES, smooth=KL_SMOOTH):
    """KL(P || Q) between the res-bin histograms of float values and their quantized images.

    Both histograms span [min, max] of the float values (AdaPT's __fpq_loss); quantized values
    rounded just outside that span are counted in the edge bins. Q gets a small floor so a bin the
    quantized grid leaves empty costs a finite, large penalty instead of infinity.
    """
    values = np.asarray(values, np.float64).ravel()
    lo, hi = values.min(), values.max()
    if hi <= lo:
        return 0.0 if np.allclose(dequantized, values) else np.inf
    p, _ = np.histogram(values, bins=res, range=(lo, hi))
    q, _ = np.histogram(np.clip(np.asarray(dequantized).ravel(), lo, hi), bins=res, range=(lo, hi))
    p = p / p.sum()
    q = q / q.sum()
    q = np.maximum(q, smooth)  # not renormalized: identical histograms must give exactly 0
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def weight_fl_minmax(w, bits):
    """Per output channel: the FL that clips nothing (the 'min/max only' baseline)."""
    lo, hi = weight_range(bits)
    rows = np.asarray(w, np.float64).reshape(len(w), -1)
    return noclip_fl(rows.max(axis=1), rows.min(axis=1), lo, hi)


def weight_fl_adapt(w, bits, res=KL_RES, eps=KL_EPS, max_extra=MAX_EXTRA_FL):
    """Per output channel: AdaPT's lowest lossless FL, else the weight-MSE-optimal one.

    Returns (fl int64 [C_out], lossless bool [C_out]).
    """
    lo, hi = weight_range(bits)
    rows = np.asarray(w, np.float64).reshape(len(w), -1)
    base = noclip_fl(rows.max(axis=1), rows.min(axis=1), lo, hi)
    fls = np.empty(len(rows), np.int64)
    lossless = np.zeros(len(rows), bool)
    for c, row in enumerate(rows):
        if not np.any(row):
            fls[c] = base[c]
            lossless[c] = True
            continue
        best_fl, best_mse = None, np.inf
        for fl in range(base[c], base[c] + max_extra + 1):
            deq = quantize_to_grid(row, fl, lo, hi) * np.exp2(-fl)
            if histogram_kl(row, deq, res) <= eps:
                fls[c], lossless[c] = fl, True
                break
            mse = float(np.mean((deq - row) ** 2))
            if mse < best_mse:
                best_fl, best_mse = fl, mse
        else:
            fls[c] = best_fl
    return fls, lossless


def activation_fl_minmax(max_pos, min_neg, unsigned=False):
    """The FL that holds the observed activation range without clipping (in the int8 codes, or
    [0, 255] for a uint8 tensor, whose negative values all saturate to 0)."""
    if unsigned:
        min_neg = 0.0
    return int(noclip_fl(max_pos, min_neg, *activation_range(unsigned)))


def activation_fl_mse(samples, max_extra=MAX_EXTRA_FL, unsigned=False):
    """The power-of-two clipping with the least quantization MSE on the sample activations,
    over the int8 codes or (unsigned) the uint8 codes [0, 255]."""
    samples = np.asarray(samples, np.float64).ravel()
    base = activation_fl_minmax(samples.max(initial=0.0), samples.min(initial=0.0), unsigned)
    if not np.any(samples):
        return base
    lo, hi = activation_range(unsigned)
    best_fl, best_mse = base, np.inf
    for fl in range(base - 1, base + max_extra + 1):
        deq = quantize_to_grid(samples, fl, lo, hi) * np.exp2(-fl)
        mse = float(np.mean((deq - samples) ** 2))
        if mse < best_mse:
            best_fl, best_mse = fl, mse
    return best_fl


def legal_bits():
    return tuple(sorted(WEIGHT_RANGES, reverse=True))


def assign_activation_types(graph) -> None:
    """Set every activation tensor's dtype by the rule of docs/fixed-point.md section 1.3.

    The graph input keeps its dtype (int8 for the network's frames; a one-node sub-graph's input
    carries the type its producer got). Raw int32 outputs stay int32.
    """
    for node in graph.nodes:
        out = graph.tensors[node.output]
        if out.dtype == "int32" or node.attrs.get("out_dtype") == "int32":
            continue
        inputs = [graph.tensors[n].dtype == "uint8" for n in node.inputs]
        if node.op == "lut":  # the function decides (section 4.8), not a fused activation
            out.dtype = "uint8" if intops.lut_is_unsigned(node.attrs["fn"], node.attrs) else "int8"
            continue
        out.dtype = "uint8" if intops.output_is_unsigned(node.op, node.act, inputs) else "int8"
