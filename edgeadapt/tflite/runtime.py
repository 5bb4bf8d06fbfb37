"""Run a .tflite model in LiteRT (the ai-edge-litert interpreter) on uint8 frames.

Kernels: `ref` = OpResolverType.BUILTIN_REF (TFLite's reference kernels), `default` = the
optimized builtin kernels with LiteRT's default delegates (XNNPACK where it applies).
"""

import numpy as np

from edgeadapt.errors import EdgeadaptError

KERNELS = ("ref", "default")


def interpreter(model: bytes, kernels: str = "ref"):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        raise EdgeadaptError("running .tflite models needs the ai-edge-litert package") from None
    resolver = {"ref": OpResolverType.BUILTIN_REF, "default": OpResolverType.AUTO}[kernels]
    try:
        it = Interpreter(model_content=bytes(model), experimental_op_resolver_type=resolver, num_threads=1)
        it.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgeadaptError(f"LiteRT refuses the model: {first}") from None
    return it


def check_tflite(model: bytes, where: str) -> None:
    """A one-line error unless the bytes are a whole TFLite model LiteRT loads."""
    from edgeadapt.tflite.schema import unpack

    unpack(model, where)
    try:
        interpreter(model, "ref")
    except EdgeadaptError as exc:
        raise EdgeadaptError(f"{where}: {exc}") from None


def frames_to_input(detail: dict, images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W[, C]) frames as the model's input tensor: quantized codes or real values of
    (p - 128) / 256, in the input's own dtype and scale."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    shape = tuple(detail["shape"][1:])
    if x.shape[1:] != shape:
        raise EdgeadaptError(f"frames are {'x'.join(map(str, x.shape[1:]))}, the .tflite input is "
                             f"{'x'.join(map(str, shape))}")
    real = (x.astype(np.float64) - 128.0) / 256.0
    dtype = detail["dtype"]
    if dtype == np.float32:
        return real.astype(np.float32)
    scale, zero = detail["quantization"]
    if not scale:
        raise EdgeadaptError(f"the .tflite input is {np.dtype(dtype).name} without quantization parameters")
    info = np.iinfo(dtype)
    return np.clip(np.round(real / scale) + zero, info.min, info.max).astype(dtype)


def run_tflite(model: bytes, images, kernels: str = "ref") -> list:
    """Per graph output: (N, ...) raw output arrays (codes for quantized outputs, floats otherwise),
    and their (scale, zero point)."""
    it = interpreter(model, kernels)
    inp = it.get_input_details()
    if len(inp) != 1:
        raise EdgeadaptError(f"the .tflite model has {len(inp)} inputs; edgeadapt feeds one frame")
    x = frames_to_input(inp[0], images)
    outs = it.get_output_details()
    results = [[] for _ in outs]
    for frame in x:
        it.set_tensor(inp[0]["index"], frame[None])
        it.invoke()
        for i, d in enumerate(outs):
            results[i].append(it.get_tensor(d["index"])[0].copy())
    return [(np.stack(r), d["quantization"], d["name"]) for r, d in zip(results, outs)]


def real_outputs(results) -> np.ndarray:
    """(N, K) float64 real values of every output, concatenated."""
    cols = []
    for values, (scale, zero), _ in results:
        v = values.reshape(len(values), -1).astype(np.float64)
        cols.append((v - zero) * scale if scale else v)
    return np.concatenate(cols, axis=1)
