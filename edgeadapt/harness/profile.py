"""`edgeadapt profile`: per-layer cost of every model of a bundle, measured on the device.

The firmware times each layer of the last model run and answers `ea-layers`
(docs/hil-protocol.md). Here each model runs one frame (a dataset frame, or a mid-grey one),
its per-layer counts are read back and joined with the manifest's layer table: name, kind, the
kernel the exporter routed the layer to, MACs, and counts per MAC. Under QEMU with -icount the
counts are instructions, not cycles, and are labelled so.
"""

import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.harness.device import Device, LinkError
from edgeadapt.harness.qemu import FirmwareProcess
from edgeadapt.harness.transport import SerialTransport

_LAYERS = re.compile(r"m-layers-\[model=(\d+),layers=(\d+)\]")
_LAYER = re.compile(r"m-layer-\[i=(\d+),cycles=(\d+),bytes=(\d+)\]")
SELECT_WORD = {"small": "small", "big": "big", "model": "model"}


@contextmanager
def open_device(target: dict, export_dir, link: str, baud=115200, timeout=30.0, log_dir=None):
    """A Device on the firmware: started under QEMU / as a host program, or a board on a port."""
    log = lambda name: (Path(log_dir) / name) if log_dir else None  # noqa: E731
    if link in ("qemu", "host"):
        start = FirmwareProcess.qemu if link == "qemu" else FirmwareProcess.host
        with start(target, export_dir, log_path=log(f"{link}.log")) as fw:
            dev = Device(fw.transport, timeout=timeout, step_timeout=max(timeout, 120.0))
            dev.wait_banner(timeout=60.0)
            yield dev
        return
    transport = SerialTransport(link, baudrate=baud)
    try:
        dev = Device(transport, timeout=timeout, step_timeout=max(timeout, 120.0))
        dev.resync()
        yield dev
    finally:
        transport.close()


def parse_layer_table(lines: list, verb: str, head_re, row_re, convert) -> tuple:
    """(model id, [convert(match) per layer]) from a reply of a head line `model=..,layers=..` and one
    line per layer whose first group is its index (ea-layers, ea-crc)."""
    if not lines:
        raise LinkError(f"{verb}: no reply", executed=None)
    if lines[0].startswith("e-["):
        raise EdgeadaptError(f"device: {lines[0]}")
    head = head_re.fullmatch(lines[0])
    if head is None:
        raise LinkError(f"{verb}: unexpected reply {lines[0][:60]}", executed=None)
    rows = []
    for i, line in enumerate(lines[1:]):
        m = row_re.fullmatch(line)
        if m is None or int(m.group(1)) != i:
            raise LinkError(f"{verb}: bad layer line {line[:60]}", executed=None)
        rows.append(convert(m))
    if len(rows) != int(head.group(2)):
        raise LinkError(f"{verb}: {len(rows)} layer lines, announced {head.group(2)}", executed=None)
    return int(head.group(1)), rows


def parse_layers(lines: list) -> tuple:
    """(model id, [(cycles, bytes) per layer]) from an ea-layers reply."""
    return parse_layer_table(lines, "ea-layers", _LAYERS, _LAYER, lambda m: (int(m.group(2)), int(m.group(3))))


def profile_bundle(dev: Device, manifest: dict, model_ids: dict, frame: np.ndarray, repeats: int = 1) -> dict:
    """role -> {"layers": [...], "total_cycles", "macs"}: each model run `repeats` times on `frame`,
    per layer the smallest count seen (the run least disturbed by interrupts on a board)."""
    info = dev.confirmed_info()
    if info.frame_bytes != frame.size:
        raise EdgeadaptError(f"the device reads {info.frame_bytes}-byte frames, the profile frame has {frame.size}")
    dev.load_frame(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
    out = {}
    for role, model_id in sorted(model_ids.items(), key=lambda item: item[1]):
        dev.select(SELECT_WORD[role])
        best, run_cycles = None, None
        for _ in range(max(1, repeats)):
            dev.reset()
            step = dev.step()
            if step.model != model_id:
                raise EdgeadaptError(f"ea-select {role}: the device ran model {step.model}, not {model_id}")
            ran, rows = parse_layers(dev.exchange("ea-layers"))
            if ran != model_id:
                raise EdgeadaptError(f"ea-layers reports model {ran}, {role} is {model_id}")
            best = rows if best is None else [min(a, b) for a, b in zip(best, rows)]
            run_cycles = step.cycles if run_cycles is None else min(run_cycles, step.cycles)
        out[role] = join_manifest(role, manifest["models"][role], best)
        out[role]["run_cycles"] = run_cycles  # the whole model run as ea-step timed it
    return out


def join_manifest(role: str, entry: dict, rows: list) -> dict:
    layers = entry["layers"]
    if len(rows) != len(layers):
        raise EdgeadaptError(f"{role}: the device profiles {len(rows)} layers, the manifest lists {len(layers)} "
                             f"(firmware built from another export?)")
    table = []
    for layer, (cycles, nbytes) in zip(layers, rows):
        macs = int(layer.get("macs") or 0)
        table.append({"index": layer["index"], "name": layer["name"], "kind": layer["kind"],
                      "kernel": layer.get("kernel", "?"), "weight_bits": layer.get("weight_bits"), "macs": macs,
                      "cycles": cycles, "bytes": nbytes, "per_mac": cycles / macs if macs else None})
    total = sum(r["cycles"] for r in table)
    for r in table:
        r["share"] = r["cycles"] / total if total else 0.0
    macs = sum(r["macs"] for r in table)
    return {"name": entry["name"], "layers": table, "total_cycles": total, "macs": macs,
            "per_mac": total / macs if macs else None}
