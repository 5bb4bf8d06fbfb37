"""Peer post-training quantizers on the same ONNX model and calibration frames, for the benchmark.

ONNX Runtime `quantize_static` (QDQ, int8 weights per channel, int8 activations; MinMax and
Percentile calibration) and NNCF `nncf.quantize` (ONNX backend, default preset). Both quantize the
exported float ONNX model and are scored by ONNX Runtime on the same test frames as edgeadapt.
"""

import os
import tempfile
from pathlib import Path

import numpy as np

from edgeadapt.quant.qsim import images_to_input

ORT_METHODS = ("MinMax", "Percentile")


def _session(model):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.log_severity_level = 3
    source = model if isinstance(model, (str, Path)) else model.SerializeToString()
    return ort.InferenceSession(str(source) if isinstance(source, Path) else source, options,
                                providers=["CPUExecutionProvider"])


def _default_feed(images):
    return images_to_input(images).numpy()


def predict_onnx(model, images, batch=256, feed=None) -> np.ndarray:
    """Outputs (N, K) of an ONNX model (path or ModelProto) on uint8 frames; feed(images) -> its
    input (default (p - 128) / 256; ir/normalization.onnx_input_feed for a model that normalizes)."""
    feed = feed or _default_feed
    session = _session(model)
    name = session.get_inputs()[0].name
    outs = []
    for s in range(0, len(images), batch):
        x = feed(images[s : s + batch])
        outs.append(session.run(None, {name: x})[0])
    return np.concatenate(outs).astype(np.float64)


def _input_name(onnx_path) -> str:
    import onnx

    model = onnx.load(str(onnx_path))
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits][0]


def ort_quantize(onnx_path, calib_images, method="MinMax", symmetric_activations=False, feed=None):
    """quantize_static with QDQ int8 per-channel weights; returns the quantized ModelProto.

    ORT's default activations are asymmetric (a zero point puts all 256 codes on [0, max] after a
    ReLU); symmetric_activations=True gives int8 activations without a zero point (128 codes for a
    ReLU output, where edgeadapt's uint8 tensors have 256).
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    name = _input_name(onnx_path)
    feed = feed or _default_feed

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{name: feed(calib_images[i : i + 1])} for i in range(len(calib_images))])

        def get_next(self):
            return next(self.items, None)

    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        prepared, out = Path(tmp) / "prep.onnx", Path(tmp) / "q.onnx"
        # ORT's recommended pre-processing: shape inference and constant biases as initializers
        quant_pre_process(str(onnx_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, method),
            extra_options={"ActivationSymmetric": bool(symmetric_activations)},
        )
        return onnx.load(str(out))


def nncf_quantize(onnx_path, calib_images, feed=None):
    """nncf.quantize on the ONNX model (default preset: symmetric int8, per-channel weights)."""
    import onnx

    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path("build") / "torch_extensions"))
    import nncf

    model = onnx.load(str(onnx_path))
    name = _input_name(onnx_path)
    feed = feed or _default_feed
    items = [feed(calib_images[i : i + 1]) for i in range(len(calib_images))]
    dataset = nncf.Dataset(items, lambda x: {name: x})
    return nncf.quantize(model, dataset, subset_size=len(items))
