"""Where the quantizer's inputs come from: the float model (ONNX, checkpoint, zoo) and the frames."""

from pathlib import Path

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.calibrate import calibration_frames

DEFAULT_CALIB_FRAMES = 256
HELDOUT_FRAMES = None  # val frames label bias tuning is checked on: all (512 of 4500 were too noisy a verdict)


def load_float_graph(spec):
    """An .onnx file, a .pt checkpoint, zoo:big / zoo:small or an int8 .tflite, as a float IR Graph."""
    from edgeadapt.ir.onnx_import import import_onnx, import_torch

    text = str(spec)
    if text.lower().endswith(".tflite"):
        from edgeadapt.tflite.importer import import_tflite

        return import_tflite(text)
    if text.lower().endswith(".onnx"):
        return import_onnx(text)
    if text.startswith("zoo:") or text.lower().endswith((".pt", ".pth")):
        from edgeadapt.models import load_checkpoint

        model, info = load_checkpoint(text)
        graph = import_torch(model, info["input"], info["name"])
        graph.meta["source"] = text
        return graph
    raise EdgeadaptError(f"{text}: unknown model type (expected MODEL.onnx, MODEL.pt, MODEL.tflite or zoo:big / zoo:small)")


def load_frames(data_dir, split):
    """The split's Frames; a missing folder or split is a one-line error."""
    from edgeadapt.data import load_split

    if not Path(data_dir).is_dir():
        raise EdgeadaptError(f"calibration data '{data_dir}': no such directory")
    frames = load_split(data_dir, split)
    if len(frames.images) == 0:
        raise EdgeadaptError(f"calibration data '{data_dir}': the {split} split has no frames")
    return frames


def calibration_set(data_dir, n_frames=DEFAULT_CALIB_FRAMES) -> tuple:
    """(images uint8 (N, H, W[, C]), labels (N, L) or class ids (N,)) of n_frames frames spread evenly
    over the train split (the same for every quantizer)."""
    if int(n_frames) < 2:
        raise EdgeadaptError(f"--calib-frames must be at least 2, got {n_frames}")
    frames = load_frames(data_dir, "train")
    idx = calibration_frames(len(frames.images), n_frames)
    return np.ascontiguousarray(frames.images[idx]), np.ascontiguousarray(frames.labels[idx])


def heldout_set(data_dir, n_frames=HELDOUT_FRAMES):
    """(images, labels) of the val split (or n_frames spread evenly over it), or None when the split
    is empty: what label bias tuning must improve besides the calibration frames."""
    from edgeadapt.data import load_split

    frames = load_split(data_dir, "val")
    if len(frames) == 0:
        return None
    idx = np.arange(len(frames)) if n_frames is None else calibration_frames(len(frames), n_frames)
    return np.ascontiguousarray(frames.images[idx]), np.ascontiguousarray(frames.labels[idx])
