"""`edgeadapt validate`: the exported C, built for the host, or an exported .tflite run in LiteRT,
against the integer reference."""

import click

from edgeadapt.errors import EdgeadaptError
from edgeadapt.splits import SPLITS
from edgeadapt.textio import format_table, write_json


@click.command("validate")
@click.option("--export", "export_dir", type=click.Path(file_okay=False), help="An export bundle (export/<target>).")
@click.option("--tflite", "tflite_path", type=click.Path(dir_okay=False),
              help="A .tflite of `export --target tflite`, run in LiteRT (needs --model).")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), help="The .eaq the .tflite was exported from.")
@click.option("--kernels", default="ref,default", show_default=True,
              help="LiteRT kernel sets for --tflite: ref (BUILTIN_REF), default (optimized, default delegates).")
@click.option("--data", "data_dir", required=True, type=click.Path(), help="Dataset folder whose frames are run.")
@click.option("--frames", default=200, show_default=True, type=int, help="Frames to run (the first N of the split).")
@click.option("--split", default="test", show_default=True, type=click.Choice(list(SPLITS)))
@click.option("--emulator", type=click.Choice(["qemu", "host"]),
              help="Run the bundle's firmware under QEMU (or the host program) and compare every layer's "
                   "CRC-32 (ea-crc) instead of the host batch mode's dump.")
@click.option("--port", help="Or: a board running the bundle's firmware on this serial port.")
@click.option("--baud", default=115200, show_default=True, type=int, help="Baud rate of --port.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the result to this JSON file ('-': stdout).")
def command(export_dir, tflite_path, model_path, kernels, data_dir, frames, split, emulator, port, baud, json_path):
    """Run every model of the bundle (a pair or one model) through the C code and the reference;
    compare every layer, bit for bit (on the host, or with --emulator/--port on the target's own
    firmware and kernels, by each layer's CRC-32). With --tflite: LiteRT against the reference,
    output by output."""
    from edgeadapt.codegen import validate_export

    if (export_dir is None) == (tflite_path is None):
        raise EdgeadaptError("give exactly one of --export and --tflite")
    if tflite_path is not None and (emulator is not None or port is not None):
        raise EdgeadaptError("--emulator and --port go with --export (a .tflite runs in LiteRT)")
    if tflite_path is not None:
        return _validate_tflite(tflite_path, model_path, kernels, data_dir, frames, split, json_path)
    if model_path is not None:
        raise EdgeadaptError("--model goes with --tflite (a bundle carries its models)")

    if emulator is not None and port is not None:
        raise EdgeadaptError("give at most one of --emulator and --port")
    if emulator is not None or port is not None:
        from edgeadapt.harness.layercheck import validate_bundle_on_device

        result = validate_bundle_on_device(export_dir, emulator or port, data_dir, frames, split, baud=baud)
    else:
        result = validate_export(export_dir, data_dir, frames, split=split)
    rows = [
        [role, m["name"], m["layers"], result["frames"], m["bit_exact_frames"], m["outputs_exact_frames"]]
        for role, m in result["models"].items()
    ]
    if len(result["models"]) > 1:
        rows.append(["pair", "", "", result["frames"], result["bit_exact_frames"], ""])
    click.echo(format_table(["model", "name", "layers", "frames", "bit-exact frames", "outputs exact"], rows))
    click.echo(f"layer outputs compared: {result['layers_compared']}")
    mismatch = result["first_mismatch"]
    if mismatch is None:
        which = "both models" if len(result["models"]) > 1 else "the model"
        click.echo(f"all {result['frames']} frames bit-identical on every layer of {which}")
    else:
        where = f", index {mismatch['index']}" if "index" in mismatch else " output CRC-32"
        click.echo(
            f"first mismatch: model {mismatch['model']}, frame {mismatch['frame']}, layer {mismatch['layer']}"
            f" ({mismatch.get('layer_name', 'outputs')}){where}:"
            f" expected {mismatch['expected']}, got {mismatch['got']}"
        )
    if json_path:
        write_json(json_path, result)
    if mismatch is not None:
        raise click.exceptions.Exit(1)


def _validate_tflite(tflite_path, model_path, kernels, data_dir, frames, split, json_path):
    from pathlib import Path

    from edgeadapt.codegen.validate import load_frames
    from edgeadapt.quant.artifact import load_eaq
    from edgeadapt.tflite.compare import compare_tflite
    from edgeadapt.tflite.runtime import KERNELS, check_tflite

    if model_path is None:
        raise EdgeadaptError("--tflite needs --model (the .eaq whose integer reference is compared)")
    chosen = [k.strip() for k in kernels.split(",") if k.strip()]
    bad = [k for k in chosen if k not in KERNELS]
    if bad or not chosen:
        raise EdgeadaptError(f"--kernels: unknown kernel set {bad[0] if bad else kernels!r} (ref, default)")
    if frames < 1:
        raise EdgeadaptError(f"--frames must be >= 1, got {frames}")
    try:
        model = Path(tflite_path).read_bytes()
    except OSError as exc:
        raise EdgeadaptError(f"{tflite_path}: cannot read ({exc.strerror})") from None
    check_tflite(model, tflite_path)
    graph = load_eaq(model_path)
    images = load_frames(data_dir, frames, split)
    result = compare_tflite(graph, model, images, chosen)
    result.update({"tflite": str(tflite_path), "model": str(model_path)})
    rows = [[k, result["frames"], e["exact_frames"], f"{e['exact_outputs']}/{result['frames'] * result['outputs']}",
             e["max_abs_diff_lsb"], f"{100 * max(e['mean_abs_diff_per_std']):.3f}"] for k, e in result["kernels"].items()]
    click.echo(format_table(["kernels", "frames", "exact frames", "exact outputs", "max |diff| LSB",
                             "mean |diff| / std %"], rows))
    exact = all(e["exact_frames"] == result["frames"] for e in result["kernels"].values())
    for k, e in result["kernels"].items():
        if e["layers"]:
            first = e["layers"][0]
            own = sum(r["own_differing"] for r in e["layers"])
            explained = sum(r["own_explained"] for r in e["layers"])
            click.echo(f"{k}: first differing layer {first['layer']} ({first['op']}): {first['differing']} of "
                       f"{first['elements']} elements, max {first['max_diff']} LSB; of the {own} elements that differ "
                       f"where a layer's inputs still agree, {explained} are exactly TFLite's rounding rule "
                       f"(docs/fixed-point.md section 6)")
    if json_path:
        write_json(json_path, result)
    if not exact:
        click.echo("edgeadapt: the .tflite differs from the integer reference; `export --target tflite "
                   "--tflite-mode exact` writes a model that matches bit for bit", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"all {result['frames']} frames exact on every output with every kernel set")
