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


# ----------------------------------------------------------------------------- any task


def task_metrics(task, outputs, labels=None, reference=None, output_names=None, train_mean=None) -> dict:
    """The figures of a model's outputs on labelled (or unlabelled) frames, by task.

    outputs (N, K): every output of the model. labels: pose (N, 4), regression (N, L <= K) scoring
    the first L outputs, classification (N,) class ids scored by the argmax of the K outputs,
    none: ignored. reference (N, K), optional: the float model's outputs on the same frames, for
    the output fidelity (what quantization cost, whatever the labels say).

    {"task", "frames", then by task
      pose            "mae" {x, y, z, phi, sum}, "r2", "trivial_mae" (compute_metrics);
      regression      "mae" {name..., "mean"}, "r2" {name...}, "trivial_mae" {name..., "mean"} (with train_mean);
      classification  "top1" (share of frames whose argmax is the label), "classes";
     and with reference "fidelity" (output_fidelity)}.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim != 2:
        raise EdgeadaptError(f"metrics need outputs of shape (N, K), got {outputs.shape}")
    n = len(outputs)
    out = {"task": task, "frames": int(n)}
    if task == "pose":
        out.update(compute_metrics(outputs[:, : len(OUTPUT_NAMES)], labels, train_mean))
    elif task == "regression":
        labels = np.asarray(labels, dtype=np.float64)
        if labels.ndim != 2 or len(labels) != n or labels.shape[1] > outputs.shape[1] or n == 0:
            raise EdgeadaptError(f"regression metrics: labels {labels.shape} do not match outputs {outputs.shape}")
        k = labels.shape[1]
        names = list(output_names or [f"y{i}" for i in range(k)])[:k]
        pred = outputs[:, :k]
        mae = np.abs(pred - labels).mean(axis=0)
        out["mae"] = {**dict(zip(names, map(float, mae))), "mean": float(mae.mean())}
        out["r2"] = dict(zip(names, map(float, r2_scores(pred, labels))))
        if train_mean is not None and np.asarray(train_mean).size == k:
            trivial = np.abs(np.asarray(train_mean, np.float64).reshape(1, -1) - labels).mean(axis=0)
            out["trivial_mae"] = {**dict(zip(names, map(float, trivial))), "mean": float(trivial.mean())}
    elif task == "classification":
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != n or n == 0:
            raise EdgeadaptError(f"classification metrics: {len(labels)} labels for {n} frames")
        if labels.max(initial=0) >= outputs.shape[1]:
            raise EdgeadaptError(f"classification metrics: class id {int(labels.max())} but the model has {outputs.shape[1]} outputs")
        out["top1"] = float((outputs.argmax(axis=1) == labels).mean())
        out["classes"] = int(outputs.shape[1])
    elif task != "none":
        raise EdgeadaptError(f"unknown task {task!r} (expected pose, regression, classification or none)")
    if reference is not None:
        out["fidelity"] = output_fidelity(outputs, reference, task)
    return out


def output_fidelity(outputs, reference, task=None) -> dict:
    """How far outputs are from the float reference on the same frames, labels aside:
    {"rms_error_pct": 100 * RMS(out - ref) / RMS(ref) over every output, "max_abs_error",
    "mean_abs_error" per output column (list), "sqnr_db", and for a classifier "top1_agreement"
    (share of frames with the same argmax)}."""
    q = np.asarray(outputs, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if q.shape != r.shape:
        raise EdgeadaptError(f"output fidelity: outputs {q.shape} and reference {r.shape} differ in shape")
    err = q - r
    signal = float(np.sqrt(np.mean(r**2))) if r.size else 0.0
    noise = float(np.sqrt(np.mean(err**2))) if r.size else 0.0
    out = {
        "rms_error_pct": None if signal == 0 else 100.0 * noise / signal,
        "max_abs_error": float(np.abs(err).max(initial=0.0)),
        "mean_abs_error": [float(v) for v in np.abs(err).mean(axis=0)] if len(err) else [],
        "sqnr_db": None if noise == 0 or signal == 0 else float(20.0 * np.log10(signal / noise)),
    }
    if task == "classification" and len(q):
        out["top1_agreement"] = float((q.argmax(axis=1) == r.argmax(axis=1)).mean())
    return out


def headline(metrics) -> tuple:
    """(label, value, higher_is_better) of the one figure a task is judged by, or None."""
    task = metrics.get("task")
    if task == "classification":
        return ("top-1", metrics["top1"], True)
    if task == "pose":
        return ("MAE sum", metrics["mae"]["sum"], False)
    if task == "regression":
        return ("MAE mean", metrics["mae"]["mean"], False)
    return None
