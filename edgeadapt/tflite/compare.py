"""`edgeadapt validate --tflite`: LiteRT running our .tflite against the integer reference.

Every output is compared in the units of our integer output (the raw int32 accumulator of the
last layer, or an int8 / uint8 code): exact frames, max |diff| in LSB. Where frames differ, the
intermediate tensors (LiteRT keeps them all with experimental_preserve_all_tensors) say at
which layer the two first part, how many elements differ there and by how much: the rounding
rule of docs/fixed-point.md section 6.
"""

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.tflite.runtime import KERNELS, frames_to_input, output_codes, run_tflite

DIAGNOSED_FRAMES = 20


def compare_tflite(graph, model: bytes, images, kernels=KERNELS) -> dict:
    """{"frames", "outputs", "kernels": {k: {...}}} for each kernel set; see module doc."""
    from edgeadapt.quant.reference import output_fls, run_int

    images = np.asarray(images, dtype=np.uint8)
    if len(images) == 0:
        raise EdgeadaptError("no frames to compare")
    ours, dumps = run_int(graph, images, dump=True)
    ours = ours.astype(np.int64)
    fls = output_fls(graph).astype(np.float64)
    result = {"frames": len(images), "outputs": int(ours.shape[1]), "kernels": {}}
    for k in kernels:
        codes = output_codes(run_tflite(model, images, k), fls)
        if codes.shape != ours.shape:
            raise EdgeadaptError(f"the .tflite gives {codes.shape[1]} outputs, the model {ours.shape[1]}")
        if not np.all(codes == np.round(codes)):
            raise EdgeadaptError("the .tflite outputs are not whole multiples of the model's output LSB")
        diff = np.abs(codes.astype(np.int64) - ours)
        exact = diff.max(axis=1) == 0
        entry = {
            "exact_frames": int(exact.sum()),
            "exact_outputs": int((diff == 0).sum()),
            "max_abs_diff_lsb": int(diff.max()),
            # the same in the outputs' real units (LSB * 2^-FL), and per output against its spread
            "max_abs_diff_real": [float(v) for v in diff.max(axis=0) * np.exp2(-fls)],
            "mean_abs_diff_per_std": [float(v) for v in diff.mean(axis=0) / np.maximum(ours.std(axis=0), 1e-12)],
            "per_output_exact_frames": [int(v) for v in (diff == 0).sum(axis=0)],
            "per_output_max_diff_lsb": [int(v) for v in diff.max(axis=0)],
            "first_mismatch": None,
            "layers": None,
        }
        if not exact.all():
            bad = np.flatnonzero(~exact)
            f = int(bad[0])
            o = int(np.flatnonzero(diff[f])[0])
            entry["first_mismatch"] = {"frame": f, "output": o, "expected": int(ours[f, o]), "got": int(codes[f, o])}
            entry["layers"] = layer_differences(graph, model, images[bad[:DIAGNOSED_FRAMES]],
                                                {t: v[bad[:DIAGNOSED_FRAMES]] for t, v in dumps.items()}, k)
        result["kernels"][k] = entry
    return result


def layer_differences(graph, model: bytes, images, dumps, kernels) -> list:
    """Per node output, on the given frames: elements that differ from the reference (codes), the
    largest difference, and whether the layer's inputs were all equal (the layer itself parted)."""
    it = _preserving(model, kernels)
    inp = it.get_input_details()[0]
    x = frames_to_input(inp, images)
    by_name = {d["name"]: d for d in it.get_tensor_details()}
    rows = {node.output: {"layer": node.output, "op": node.op, "elements": 0, "differing": 0, "max_diff": 0,
                          "own_frames": 0, "own_differing": 0, "own_explained": 0}
            for node in graph.nodes if node.output in by_name}
    for i, frame in enumerate(x):
        it.set_tensor(inp["index"], frame[None])
        it.invoke()
        equal = {graph.input: True}
        for node in graph.nodes:
            if node.output not in rows:
                equal[node.output] = False
                continue
            d = by_name[node.output]
            got = _codes(it.get_tensor(d["index"]), d, graph.tensors[node.output])
            want = dumps[node.output][i].reshape(-1).astype(np.int64)
            diff = np.abs(got.reshape(-1) - want)
            r = rows[node.output]
            r["elements"] += diff.size
            r["differing"] += int((diff > 0).sum())
            r["max_diff"] = max(r["max_diff"], int(diff.max()))
            equal[node.output] = not diff.any()
            if diff.any() and all(equal.get(t, False) for t in node.inputs):
                r["own_frames"] += 1
                r["own_differing"] += int((diff > 0).sum())
                predicted = tflite_requantized(graph, node, [dumps[t][i : i + 1] for t in node.inputs])
                if predicted is not None:  # the elements TFLite's rounding rule predicts exactly
                    r["own_explained"] += int(((predicted.reshape(-1) == got.reshape(-1)) & (diff > 0)).sum())
    return [r for r in rows.values() if r["differing"]]


def tflite_rounding(acc, k) -> np.ndarray:
    """TFLite's requantization of an accumulator by the real multiplier 2^-k (docs/fixed-point.md
    section 6): QuantizeMultiplier gives M0 = 2^30 with exponent 1 - k, so the result is
    RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc, 2^30), k - 1): first acc / 2
    rounded half up, then / 2^(k-1) rounded half away from zero."""
    acc = np.asarray(acc, dtype=np.int64)
    k = np.broadcast_to(np.asarray(k, dtype=np.int64), acc.shape)
    left = np.where(k < 1, acc << np.maximum(1 - k, 0), acc)
    y = (left + 1) >> 1  # SaturatingRoundingDoublingHighMul(., 2^30): half up
    e = np.maximum(k - 1, 0)
    mask = (np.int64(1) << e) - 1
    remainder = y & mask
    threshold = (mask >> 1) + (y < 0)
    return (y >> e) + (remainder > threshold)


def tflite_requantized(graph, node, inputs):
    """TFLite's int8 output codes (ours: uint8 codes) of a conv / fc node from its exact inputs, or
    None for other ops."""
    from edgeadapt.quant import intops
    from edgeadapt.quant.reference import accumulator_fls

    out = graph.tensors[node.output]
    if node.op not in ("conv", "fc") or out.dtype == "int32":
        return None
    a = node.attrs
    if node.op == "conv":
        acc = intops.conv2d_acc(inputs[0], node.qweight, node.qbias, a.get("stride", (1, 1)),
                                a.get("pads", (0, 0, 0, 0)), a.get("groups", 1))
    else:
        acc = intops.fully_connected_acc(inputs[0], node.qweight, node.qbias)
    k = accumulator_fls(graph, node) - int(out.fl)
    q = tflite_rounding(acc, k)
    unsigned = out.dtype == "uint8"
    lo, hi = (0, 255) if unsigned else (-128, 127)
    if node.act in ("relu", "relu6"):
        lo = max(lo, 0)
    if node.act == "relu6":
        hi = min(hi, intops.relu6_limit(int(out.fl), unsigned))
    return np.clip(q, lo, hi)


def _preserving(model, kernels):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = {"ref": OpResolverType.BUILTIN_REF,
                "default": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}[kernels]
    it = Interpreter(model_content=bytes(model), experimental_op_resolver_type=resolver,
                     experimental_preserve_all_tensors=True, num_threads=1)
    it.allocate_tensors()  # a delegate keeps no intermediate tensors: the default set is diagnosed without it
    return it


def _codes(values, detail, tensor) -> np.ndarray:
    """A TFLite tensor as our integer codes (uint8 codes for a uint8 tensor, raw ints for int32)."""
    if values.dtype == np.int32:
        return values.reshape(-1).astype(np.int64)  # our raw accumulators
    scale, zero = detail["quantization"]
    v = values.astype(np.float64).reshape(-1)
    real = (v - zero) * scale if scale else v
    fl = np.asarray(tensor.fl, dtype=np.float64).reshape(-1)
    return np.round(real * np.exp2(fl)).astype(np.int64)
