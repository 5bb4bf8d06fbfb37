"""Label bias tuning: the output layer's biases fitted to the calibration labels (CalibTIP step).

CalibTIP's bias tuning freezes everything but the biases and minimizes the task loss against the
calibration labels. For a regression head scored by MAE, the task loss of the last layer's bias
alone has a closed form: shifting output c by s changes the L1 loss sum_i |y_ic - p_ic - s|, which
is smallest at s = the median residual. So each labelled output of a raw int32 fc output (D5) gets
its bias code moved by round(median * 2^FL_acc), on the integer grid, computed on the integer
reference's outputs. An output keeps the shift only if its L1 loss drops on the calibration frames
and on held-out frames (the val split) and the accumulator bound of docs/fixed-point.md section 3
still holds for its channel. Outputs without labels (an auxiliary switching logit) and outputs that
are not raw accumulators are left alone, and so is a classifier (its labels are class ids, not
output values; the pipeline never calls this step for one).

Why it pays: a model trained with photometric augmentation (or on a slightly different
distribution) carries a systematic output offset on real frames, the same for the float and the
quantized model; quantizers that only track the float outputs keep it.
"""

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.intops import ACC_BOUND
from edgeadapt.quant.reference import accumulator_fls
from edgeadapt.quant.sequential import accumulator_peak


def output_fc(graph):
    """The fc whose raw int32 accumulators are the graph's (single) output, or None."""
    if len(graph.outputs) != 1:
        return None
    node = graph.producer(graph.outputs[0])
    if node is None or node.op != "fc" or node.attrs.get("out_dtype") != "int32":
        return None
    return node


def tune_output_bias(graph, predict, images, labels, heldout=None) -> dict:
    """Shift the output fc's bias codes in place; returns {"outputs": [...], "shifts": [...]}, and with
    heldout also {"heldout": {"frames", "mae_before", "mae_after"}} (per labelled output).

    predict(graph, images) -> dequantized outputs (N, K) of the quantized graph; labels (N, L)
    with L <= K label the first L outputs (regression targets: a classifier's labels are class ids,
    not output values, and are refused). heldout = (images, labels) of frames the shifts were not
    fitted on: an output keeps its shift only if its MAE drops on them too, so a correction that
    only fits the calibration frames is dropped."""
    node = output_fc(graph)
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or len(labels) != len(images):
        raise EdgeadaptError(f"calibration labels: expected ({len(images)}, L) for {len(images)} frames, "
                             f"got shape {labels.shape}")
    if heldout is not None:
        held_images, held_labels = heldout[0], np.asarray(heldout[1], dtype=np.float64)
        if held_labels.ndim != 2 or len(held_labels) != len(held_images) or held_labels.shape[1] != labels.shape[1]:
            raise EdgeadaptError(f"held-out labels: expected ({len(held_images)}, {labels.shape[1]}) for "
                                 f"{len(held_images)} frames, got shape {held_labels.shape}")
    if node is None or len(labels) == 0:
        return {"outputs": [], "shifts": []}
    before = np.asarray(predict(graph, images), dtype=np.float64)
    n_labelled = min(labels.shape[1], before.shape[1])
    # the held-out outputs before any move; after a move they are these plus the shift exactly (a raw
    # int32 output is the accumulator itself: no activation, no saturation), so one pass suffices
    held_plain = (np.asarray(predict(graph, held_images), dtype=np.float64)[:, :n_labelled]
                  if heldout is not None and len(held_images) else None)
    scale = np.exp2(accumulator_fls(graph, node).astype(np.float64))
    old_bias = node.qbias.astype(np.int64).copy()
    residual = labels[:, :n_labelled] - before[:, :n_labelled]
    codes = np.rint(np.median(residual, axis=0) * scale[:n_labelled]).astype(np.int64)
    new_bias = old_bias.copy()
    new_bias[:n_labelled] += codes
    node.qbias = new_bias  # accumulator_peak and predict read the node: new_bias is edited in place below
    fits = accumulator_peak(node, graph.tensors[node.inputs[0]].dtype == "uint8")[:n_labelled] < ACC_BOUND
    new_bias[:n_labelled][~fits] = old_bias[:n_labelled][~fits]
    after = np.asarray(predict(graph, images), dtype=np.float64)
    loss_before = np.abs(residual).mean(axis=0)
    loss_after = np.abs(labels[:, :n_labelled] - after[:, :n_labelled]).mean(axis=0)
    keep = (loss_after < loss_before) & fits
    held = None
    if held_plain is not None:
        y = held_labels[:, :n_labelled]
        moved = (new_bias[:n_labelled] - old_bias[:n_labelled]) / scale[:n_labelled]
        held_before = np.abs(y - held_plain).mean(axis=0)
        held_after = np.abs(y - (held_plain + moved)).mean(axis=0)
        keep &= held_after < held_before
        held = {"frames": int(len(held_images)), "mae_before": [round(float(v), 6) for v in held_before],
                "mae_after": [round(float(v), 6) for v in np.where(keep, held_after, held_before)]}
    new_bias[:n_labelled][~keep] = old_bias[:n_labelled][~keep]
    tuned = [int(c) for c in np.flatnonzero(keep)]
    shifts = [round(float((new_bias[c] - old_bias[c]) / scale[c]), 6) for c in tuned]
    out = {"outputs": tuned, "shifts": shifts}
    if held is not None:
        out["heldout"] = held
    return out
