"""Per-layer validation on a device (QEMU or a board): every layer's output against the integer
reference, through the firmware's `ea-crc` (docs/hil-protocol.md).

The activations stay on the device: with `ea-crc on` the firmware records the CRC-32 of every
layer's output while a model runs, and `ea-crc` reports them. Here each model runs each frame
(`ea-select <model>`, `ea-step`), and each layer's CRC and byte count, and the raw outputs, are
compared with those of the numpy reference's activations on the same frame (the bytes the
host's `validate` compares one by one).
"""

import re
import zlib

import numpy as np

from edgeadapt.codegen.validate import expected_bytes
from edgeadapt.errors import EdgeadaptError
from edgeadapt.harness.device import LinkError
from edgeadapt.harness.profile import SELECT_WORD, parse_layer_table

_HEAD = re.compile(r"m-crc-\[model=(\d+),layers=(\d+)\]")
_ROW = re.compile(r"m-layer-crc-\[i=(\d+),bytes=(\d+),crc=([0-9a-f]{8})\]")


def parse_layer_crcs(lines: list) -> tuple:
    """(model id, [(bytes, crc) per layer]) from an `ea-crc` reply."""
    return parse_layer_table(lines, "ea-crc", _HEAD, _ROW, lambda m: (int(m.group(2)), int(m.group(3), 16)))


def reference_crcs(entry: dict, reference: dict, n: int) -> list:
    """Per frame, [(bytes, crc) per layer] of the reference activations, as the device lays them out."""
    per_layer = []
    for row in entry["layers"]:
        data = expected_bytes(reference[row["output"]], row["output_dtype"])
        if data.shape[1] != row["output_bytes"]:
            raise EdgeadaptError(f"layer {row['index']} ({row['name']}): the reference holds {data.shape[1]} bytes, "
                                 f"the manifest {row['output_bytes']}")
        per_layer.append([(data.shape[1], zlib.crc32(data[f].tobytes())) for f in range(n)])
    return [[layer[f] for layer in per_layer] for f in range(n)]


def check_model(dev, role: str, model_id: int, entry: dict, graph, images: np.ndarray) -> tuple:
    """({"bit_exact_frames", "outputs_exact_frames", ...}, per-frame bool, first mismatch or None)
    of one model on the device, every layer of every frame."""
    from edgeadapt.quant.reference import run_int

    n = len(images)
    ref_out, reference = run_int(graph, images, dump=True)
    ref_out = np.asarray(ref_out).reshape(n, -1)
    want = reference_crcs(entry, reference, n)
    del reference
    dev.select(SELECT_WORD[role])
    frame_ok = np.zeros(n, dtype=bool)
    outputs_exact = 0
    first = None
    for f in range(n):
        dev.load_frame(np.ascontiguousarray(images[f], dtype=np.uint8).tobytes())
        step = dev.step()
        if step.model != model_id:
            raise EdgeadaptError(f"ea-select {role}: the device ran model {step.model}, not {model_id}")
        ran, got = parse_layer_crcs(dev.exchange("ea-crc"))
        if ran != model_id or len(got) != len(want[f]):
            raise EdgeadaptError(f"{role}: the device reports {len(got)} layers of model {ran}, the manifest "
                                 f"{len(want[f])} of model {model_id} (firmware built from another export?)")
        bad = [i for i, (g, w) in enumerate(zip(got, want[f])) if g != w]
        out_ok = list(step.outputs) == [int(v) for v in ref_out[f]]
        outputs_exact += out_ok
        frame_ok[f] = not bad and out_ok
        if first is None and bad:
            i = bad[0]
            row = entry["layers"][i]
            first = {"model": role, "frame": f, "layer": row["index"], "layer_name": row["name"],
                     "expected": f"{want[f][i][1]:08x} ({want[f][i][0]} bytes)",
                     "got": f"{got[i][1]:08x} ({got[i][0]} bytes)"}
        elif first is None and not out_ok:
            index = next(i for i, (g, w) in enumerate(zip(step.outputs, ref_out[f])) if g != int(w))
            first = {"model": role, "frame": f, "layer": "outputs", "index": index,
                     "expected": int(ref_out[f][index]), "got": int(step.outputs[index])}
    return {"name": entry["name"], "layers": len(entry["layers"]), "bit_exact_frames": int(frame_ok.sum()),
            "outputs_exact_frames": outputs_exact}, frame_ok, first


def validate_on_device(dev, manifest: dict, graphs: dict, model_ids: dict, images: np.ndarray) -> dict:
    """Every model of the bundle on every frame, layer by layer (the shape of validate_export's result)."""
    lines = dev.exchange("ea-crc on")
    if lines != ["m-crc-[on]"]:
        raise EdgeadaptError(f"the firmware does not report layer CRCs (ea-crc on: {lines[:1]}); rebuild it")
    n = len(images)
    per_model, first, compared = {}, None, 0
    all_ok = np.ones(n, dtype=bool)
    try:
        for role, model_id in sorted(model_ids.items(), key=lambda item: item[1]):
            result, frame_ok, mismatch = check_model(dev, role, model_id, manifest["models"][role], graphs[role], images)
            per_model[role] = result
            all_ok &= frame_ok
            first = first or mismatch
            compared += n * result["layers"]
    finally:
        dev.exchange("ea-crc off")
    return {"frames": n, "bit_exact_frames": int(all_ok.sum()), "layers_compared": compared, "first_mismatch": first,
            "models": per_model, "target": manifest["target"]}


def validate_bundle_on_device(export_dir, link: str, data_dir=None, frames: int = 4, split: str = "test",
                              images=None, baud=115200, timeout=30.0, log_dir=None) -> dict:
    """validate_on_device on the bundle's firmware: started under QEMU (link "qemu") or as the
    host program ("host"), or a board on a serial port. `images` replaces data_dir when given."""
    from pathlib import Path

    from edgeadapt.codegen.bundle import bundle_model_ids
    from edgeadapt.codegen.targets import load_target
    from edgeadapt.codegen.validate import load_bundle_inputs
    from edgeadapt.harness.profile import open_device

    manifest, graphs, images = load_bundle_inputs(export_dir, data_dir, frames, split, images)
    target = load_target(manifest["target"])
    try:
        with open_device(target, Path(export_dir), link, baud, timeout, log_dir=log_dir) as dev:
            result = validate_on_device(dev, manifest, graphs, bundle_model_ids(manifest), images)
    except LinkError as exc:
        raise EdgeadaptError(f"device link: {exc}") from None
    result["export"] = str(export_dir)
    result["link"] = link
    return result
