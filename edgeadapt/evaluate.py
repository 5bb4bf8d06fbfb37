"""Run any model form on a dataset split and score it: float (.pt, zoo:), ONNX, quantized (.eaq).

`predict` returns the pose (N, 4) whatever the model: an auxiliary fifth output (the switching
logit) is available through `predict_outputs`. All forms take the same normalized input, so one
frame set scores the float, ONNX and integer models alike.
"""

from pathlib import Path

import numpy as np
import torch

from edgeadapt.data import (compute_metrics, dataset_kind, load_split, normalize, output_fidelity, task_metrics,
                            train_label_mean)
from edgeadapt.errors import EdgeadaptError
from edgeadapt.models import load_checkpoint, read_checkpoint, resolve_model_path
from edgeadapt.textio import format_table

POSE_OUTPUTS = 4
BATCH = 256


def model_kind(model_spec) -> str:
    """'torch' (.pt or zoo:), 'onnx' or 'eaq', from the spec's suffix."""
    if isinstance(model_spec, torch.nn.Module):
        return "module"
    text = str(model_spec)
    if text.startswith("zoo:"):
        return "torch"
    suffix = Path(text).suffix.lower()
    kinds = {".pt": "torch", ".pth": "torch", ".onnx": "onnx", ".eaq": "eaq"}
    if suffix not in kinds:
        raise EdgeadaptError(f"{text}: unknown model file type '{suffix}' (expected .pt, .onnx, .eaq or zoo:big/zoo:small)")
    return kinds[suffix]


def predict_outputs(model_spec, frames) -> np.ndarray:
    """All outputs of the model on frames.images, float32 (N, K) with K >= 4."""
    kind = model_kind(model_spec)
    if kind == "module":
        return _predict_torch(model_spec, frames.images, _input_hw(model_spec), "model")
    if kind == "torch":
        model, info = load_checkpoint(model_spec)
        return _predict_torch(model, frames.images, info["input"], info["path"])
    path = resolve_model_path(model_spec)
    if kind == "onnx":
        return _predict_onnx(path, frames.images)
    try:
        from edgeadapt.quant import predict_eaq
    except ImportError:
        raise EdgeadaptError(f"{path}: quantized models need edgeadapt.quant, which is not installed") from None
    out = np.asarray(predict_eaq(path, frames), dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != len(frames.images) or out.shape[1] < 1:
        raise EdgeadaptError(f"{path}: quantized model returned outputs of shape {out.shape}")
    return out


def float_reference(model_spec, frames):
    """The float outputs an .eaq was quantized from (its float weights, normalization folded), or None."""
    if model_kind(model_spec) != "eaq":
        return None
    from edgeadapt.quant.artifact import load_eaq
    from edgeadapt.quant.pipeline import run_float

    return run_float(load_eaq(resolve_model_path(model_spec)), frames.images).astype(np.float32)


def predict(model_spec, frames) -> np.ndarray:
    """The pose (x, y, z, phi) per frame, float32 (N, 4)."""
    return predict_outputs(model_spec, frames)[:, :POSE_OUTPUTS]


def evaluate(model_spec, data_dir, split: str = "test") -> dict:
    """Score a model on one split: the eval JSON schema (model, split, frames, mae, r2, trivial_mae)."""
    if model_kind(model_spec) != "module":
        resolve_model_path(model_spec)  # a missing model is named before any data is read
    size = frames_size_for(model_spec, data_dir)
    frames = load_split(data_dir, split, size)
    outputs = predict_outputs(model_spec, frames)
    reference = float_reference(model_spec, frames)
    result = {"model": str(model_spec), "split": split, "frames": int(len(frames))}
    if frames.task == "pose":
        result.update(compute_metrics(outputs[:, :POSE_OUTPUTS], frames.labels, train_label_mean(data_dir, size)))
        result["task"] = "pose"
        if reference is not None:
            result["fidelity"] = output_fidelity(outputs, reference)
        return result
    mean = train_label_mean(data_dir) if frames.task == "regression" else None
    result.update(task_metrics(frames.task, outputs, frames.labels, reference, frames.output_names, mean))
    return result


def frames_size_for(model_spec, data_dir):
    """A PULP-Frontnet folder may hold both 160x96 and 80x48 pickles: pick the model's size.

    Synthetic folders hold one size; None lets a mismatch surface as the model-vs-data error."""
    if model_kind(model_spec) != "torch" or dataset_kind(data_dir) != "frontnet":
        return None
    ckpt, _ = read_checkpoint(model_spec)
    h, w = ckpt["config"]["input"]
    return f"{w}x{h}"


def check_input_size(images, input_hw, where, channels=None):
    got = tuple(images.shape[1:3])
    if got != tuple(input_hw):
        raise EdgeadaptError(
            f"{where}: model expects {input_hw[1]}x{input_hw[0]} frames, the data has {got[1]}x{got[0]}"
        )
    have = 1 if images.ndim == 3 else images.shape[3]
    if channels is not None and have != channels:
        raise EdgeadaptError(f"{where}: model takes {channels}-channel frames, the data has {have} channel{'s' if have != 1 else ''}")


def _input_hw(model):
    hw = getattr(model, "input_hw", None)
    if hw is None:
        raise EdgeadaptError("model has no input size (build it through edgeadapt.models)")
    return hw


def _predict_torch(model, images, input_hw, where):
    check_input_size(images, input_hw, where)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with torch.no_grad():
            for start in range(0, len(images), BATCH):
                x = torch.from_numpy(normalize(images[start : start + BATCH]))
                chunks.append(model(x).numpy())
    finally:
        model.train(was_training)
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, POSE_OUTPUTS), np.float32)


def _predict_onnx(path, images):
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise EdgeadaptError(f"{path}: not a loadable ONNX model ({type(exc).__name__})") from None
    inp = session.get_inputs()[0]
    shape = inp.shape
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]):
        raise EdgeadaptError(f"{path}: input '{inp.name}' has shape {shape}, expected (N, C, H, W)")
    check_input_size(images, tuple(shape[2:]), str(path), shape[1])
    feed = onnx_feed(path, shape[1])
    fixed_batch = isinstance(shape[0], int)
    step = shape[0] if fixed_batch else BATCH
    chunks = []
    for start in range(0, len(images), step):
        x = feed(images[start : start + step])
        n = len(x)
        if fixed_batch and n < step:  # a model exported with a fixed batch: pad the last chunk
            x = np.concatenate([x, np.zeros((step - n, *x.shape[1:]), x.dtype)])
        chunks.append(session.run(None, {inp.name: x})[0][:n])
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, POSE_OUTPUTS), np.float32)


def onnx_feed(path, channels):
    """uint8 frames -> what the ONNX file's input takes (ir/normalization.onnx_input_feed)."""
    from edgeadapt.ir.normalization import onnx_input_feed

    return onnx_input_feed(path)


def metrics_table(metrics: dict) -> str:
    """By task: pose rows x, y, z, phi, sum (columns MAE, R2, trivial MAE); regression one row per
    output and the mean; classification the top-1 line; then the output fidelity against float."""
    task = metrics.get("task", "pose")
    if task != "pose":
        return _task_table(metrics)
    return _pose_table(metrics) + _fidelity_line(metrics)


def _task_table(metrics):
    lines = []
    if metrics["task"] == "classification":
        lines.append(f"top-1 accuracy: {100 * metrics['top1']:.2f} % ({metrics['frames']} frames, {metrics['classes']} classes)")
    elif metrics["task"] == "regression":
        names = [k for k in metrics["mae"] if k != "mean"]
        trivial = metrics.get("trivial_mae", {})
        rows = [[k, metrics["mae"][k], metrics["r2"][k], trivial.get(k, "-")] for k in names]
        rows.append(["mean", metrics["mae"]["mean"], "-", trivial.get("mean", "-")])
        lines.append(format_table(["output", "MAE", "R2", "trivial MAE"], rows))
    else:
        lines.append(f"{metrics['frames']} unlabelled frames")
    return "\n".join(lines) + _fidelity_line(metrics)


def _fidelity_line(metrics):
    fid = metrics.get("fidelity")
    if not fid:
        return ""
    rms = "n/a" if fid["rms_error_pct"] is None else f"{fid['rms_error_pct']:.2f} %"
    text = f"\noutput deviation from the float weights it holds: RMS {rms}, largest |error| {fid['max_abs_error']:.4g}"
    if "top1_agreement" in fid:
        text += f", same top-1 as float on {100 * fid['top1_agreement']:.2f} % of frames"
    return text


def _pose_table(metrics: dict) -> str:
    rows = []
    for key in ("x", "y", "z", "phi", "sum"):
        r2 = metrics.get("r2", {}).get(key)
        rows.append([key, float(metrics["mae"][key]), "-" if r2 is None else float(r2), float(metrics["trivial_mae"][key])])
    return format_table(["output", "MAE", "R2", "trivial MAE"], rows)
