"""`edgeadapt profile`: per-layer cycles (instructions under QEMU) of an export, measured on the device."""

from pathlib import Path

import click
import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.textio import format_table, write_json


@click.command("profile")
@click.option("--export", "export_dir", required=True, type=click.Path(file_okay=False), help="Export bundle.")
@click.option("--target", required=True, help="Target the bundle was exported for (stm32, gap8, host, ...).")
@click.option("--emulator", type=click.Choice(["qemu", "host"]), help="Start the firmware under QEMU (or on the host).")
@click.option("--port", help="Serial port of a board running the firmware (/dev/ttyUSB0 or a pyserial URL).")
@click.option("--baud", default=115200, show_default=True, type=int, help="Baud rate of --port.")
@click.option("--data", "data_dir", type=click.Path(), help="Run the first frame of this dataset's test split "
                                                               "(default: a mid-grey frame).")
@click.option("--repeats", default=1, show_default=True, type=click.IntRange(1, 100),
              help="Runs per model; per layer the smallest count is kept (a board's interrupts only add).")
@click.option("--timeout", default=30.0, show_default=True, type=float, help="Seconds to wait for a reply.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the profile here ('-': stdout).")
def command(export_dir, target, emulator, port, baud, data_dir, repeats, timeout, json_path):
    """Per-layer cost of every model in the bundle (`ea-layers`), with the kernel each layer runs."""
    from edgeadapt.codegen.targets import load_target
    from edgeadapt.codegen.bundle import bundle_model_ids, read_manifest
    from edgeadapt.harness.device import LinkError
    from edgeadapt.harness.profile import open_device, profile_bundle

    if (port is None) == (emulator is None):
        raise EdgeadaptError("give exactly one of --port and --emulator")
    desc = load_target(target)
    manifest = read_manifest(export_dir)
    if manifest.get("target") != desc["name"]:
        raise EdgeadaptError(f"{export_dir} was exported for target '{manifest.get('target')}', not '{desc['name']}'")
    frame = profile_frame(manifest["input_shape"], data_dir)
    emulated = emulator == "qemu"
    unit = {"qemu": "instructions", "host": "ns"}.get(emulator, "cycles")  # what ea_hal_cycles counts there
    try:
        with open_device(desc, Path(export_dir), emulator or port, baud, timeout, log_dir=Path(export_dir)) as dev:
            result = profile_bundle(dev, manifest, bundle_model_ids(manifest), frame, repeats)
    except LinkError as exc:
        raise EdgeadaptError(f"device link: {exc}") from None
    for role, model in result.items():
        click.echo(f"{role}: {model['name']}, {model['total_cycles']:,} {unit} in its layers of "
                   f"{model['run_cycles']:,} for the run, {model['macs']:,} MACs ({_ratio(model['per_mac'])} {unit}/MAC)")
        rows = [[r["index"], r["name"], r["kind"], r["kernel"], r["weight_bits"] or "", r["macs"], r["cycles"],
                 _ratio(r["per_mac"]), f"{100 * r['share']:.1f}"] for r in model["layers"]]
        click.echo(format_table(["layer", "name", "kind", "kernel", "bits", "MACs", unit, f"{unit}/MAC", "%"], rows))
        click.echo()
    if emulated:
        click.echo("note: QEMU -icount counts instructions (1 per cycle assumed); on silicon, profile with --port")
    if json_path:
        write_json(json_path, {"target": desc["name"], "export": str(export_dir), "unit": unit, "emulated": emulated,
                               "repeats": repeats, "frame": "mid-grey" if data_dir is None else f"{data_dir} (test, 0)",
                               "models": result})


def profile_frame(input_shape, data_dir) -> np.ndarray:
    """The frame the models run on: the first test frame of data_dir, or all pixels 128."""
    h, w = int(input_shape[0]), int(input_shape[1])
    c = int(input_shape[2]) if len(input_shape) > 2 else 1
    if data_dir is None:
        return np.full((h, w, c), 128, dtype=np.uint8)
    from edgeadapt.data import load_split

    frames = load_split(data_dir, "test")
    image = np.asarray(frames.images[0], dtype=np.uint8)
    if image.size != h * w * c:
        raise EdgeadaptError(f"{data_dir}: frames are {'x'.join(map(str, image.shape))}, the bundle reads {h}x{w}x{c}")
    return image.reshape(h, w, c)


def _ratio(value):
    return "" if value is None else f"{value:.2f}"
