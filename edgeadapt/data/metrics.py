"""Pose regression metrics: per-output MAE and their sum, R^2, and the mean predictor's MAE.

The sum of the four MAEs (metres and radians added as they are) is the single "MAE" figure of the
ICRA'23 / DATE'24 papers; the mean of the TRAIN labels is the trivial predictor beside it.
"""

import numpy as np

from edgeadapt.data.frames import OUTPUT_NAMES
from edgeadapt.errors import EdgeadaptError


def compute_metrics(pred, labels, train_mean) -> dict:
    """{"mae": {x, y, z, phi, sum}, "r2": {x, y, z, phi}, "trivial_mae": {x, y, z, phi, sum}}."""
    pred = np.asarray(pred, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    train_mean = np.asarray(train_mean, dtype=np.float64).reshape(-1)
    n_out = len(OUTPUT_NAMES)
    if labels.ndim != 2 or labels.shape[1] != n_out or labels.shape[0] == 0:
        raise EdgeadaptError(f"metrics need labels of shape (N>0, {n_out}), got {labels.shape}")
    if pred.shape != labels.shape:
        raise EdgeadaptError(f"predictions of shape {pred.shape} do not match labels of shape {labels.shape}")
    if train_mean.shape != (n_out,):
        raise EdgeadaptError(f"train label mean must have {n_out} values, got {train_mean.shape[0]}")

    mae = np.abs(pred - labels).mean(axis=0)
    trivial = np.abs(train_mean[None, :] - labels).mean(axis=0)
    return {
        "mae": _named(mae, with_sum=True),
        "r2": _named(r2_scores(pred, labels), with_sum=False),
        "trivial_mae": _named(trivial, with_sum=True),
    }


def r2_scores(pred, labels) -> np.ndarray:
    """Coefficient of determination per output, 1 - SS_res / SS_tot (sklearn's convention when the
    labels are constant: 1.0 for a perfect fit, else 0.0)."""
    ss_res = ((labels - pred) ** 2).sum(axis=0)
    ss_tot = ((labels - labels.mean(axis=0)) ** 2).sum(axis=0)
    out = np.empty(labels.shape[1])
    for i in range(labels.shape[1]):
        if ss_tot[i] > 0:
            out[i] = 1.0 - ss_res[i] / ss_tot[i]
        else:
            out[i] = 1.0 if ss_res[i] == 0 else 0.0
    return out


def _named(values, with_sum: bool) -> dict:
    out = {name: float(v) for name, v in zip(OUTPUT_NAMES, values)}
    if with_sum:
        out["sum"] = float(np.sum(values))
    return out
