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
    """uint8 (N, H, W[, C]) frames as the model's input, TFLite's image convention: int8 input
    q = p - 128 (whatever its scale: the model's own input quantization says what q means), uint8
    input p, float32 input (p - 128) / 256 (our exact-mode export)."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    shape = tuple(detail["shape"][1:])
    if x.shape[1:] != shape:
        raise EdgeadaptError(f"frames are {'x'.join(map(str, x.shape[1:]))}, the .tflite input is "
                             f"{'x'.join(map(str, shape))}")
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return ((x.astype(np.float32) - 128.0) / 256.0).astype(np.float32)
    if dtype == np.int8:
        return (x.astype(np.int16) - 128).astype(np.int8)
    if dtype == np.uint8:
        return x.astype(np.uint8)
    raise EdgeadaptError(f"the .tflite input is {dtype.name}; edgeadapt feeds int8, uint8 or float32 frames")


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


def output_codes(results, fls) -> np.ndarray:
    """(N, K) float64 outputs in the units of our integer outputs: int32 outputs as they are (our
    raw accumulators), quantized ones dequantized and times 2^FL, float ones times 2^FL."""
    cols, k = [], 0
    fls = np.asarray(fls, dtype=np.float64)
    for values, (scale, zero), _ in results:
        v = values.reshape(len(values), -1)
        n = v.shape[1]
        if v.dtype == np.int32:
            cols.append(v.astype(np.float64))
        else:
            real = (v.astype(np.float64) - zero) * scale if scale else v.astype(np.float64)
            cols.append(real * np.exp2(fls[k : k + n]))
        k += n
    return np.concatenate(cols, axis=1)


def real_outputs(results) -> np.ndarray:
    """(N, K) float64 real values of every output, concatenated."""
    cols = []
    for values, (scale, zero), _ in results:
        v = values.reshape(len(values), -1).astype(np.float64)
        cols.append((v - zero) * scale if scale else v)
    return np.concatenate(cols, axis=1)
