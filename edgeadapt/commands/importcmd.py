"""`edgeadapt import`: an int8 .tflite -> our IR -> power-of-two fixed point (.eaq), scored
against LiteRT running the original file."""

import click

from edgeadapt.textio import format_table, write_json


@click.command("import")
@click.argument("tflite_path", metavar="MODEL.tflite", type=click.Path(dir_okay=False))
@click.option("--calib", "calib_dir", required=True, type=click.Path(),
              help="Dataset folder: its train split calibrates, its test split scores both models.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="The .eaq to write.")
@click.option("--weight-bits", default="8", show_default=True, type=click.Choice(["8", "4", "2", "auto"]))
@click.option("--flash-budget", default=None, help="With auto: weight memory budget (bytes, 64kB, 50%).")
@click.option("--calib-frames", default=256, show_default=True, type=int)
@click.option("--input-scale", default=None, help="Override the pixel mapping x = p * scale + offset the .tflite's input implies.")
@click.option("--input-offset", default=None, help="See --input-scale.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the comparison as JSON ('-': stdout).")
def command(tflite_path, calib_dir, out_path, weight_bits, flash_budget, calib_frames, input_scale, input_offset,
            json_path):
    """Import MODEL.tflite (full-integer int8, as the TFLite converter writes it), re-quantize it to
    power-of-two fixed point with the usual calibration, and report the accuracy change against
    LiteRT running the original."""
    from edgeadapt.ir.normalization import parse_values
    from edgeadapt.quant.pipeline import QuantizeOptions
    from edgeadapt.tflite.importer import import_tflite
    from edgeadapt.tflite.score import score_import

    import_tflite(tflite_path)  # unsupported ops, float models, damaged files: refused before any work
    options = QuantizeOptions(weight_bits=weight_bits if weight_bits == "auto" else int(weight_bits),
                              flash_budget=flash_budget)
    result = score_import(tflite_path, calib_dir, out_path, options, calib_frames,
                          parse_values(input_scale, "--input-scale"), parse_values(input_offset, "--input-offset"))
    click.echo(f"{tflite_path} -> {out_path} ({result['layers']} layers, {result['task']} task, "
               f"{result['frames']} test frames)")
    click.echo(format_table(["model", *result["figure_names"]], result["rows"]))
    for line in result["notes"]:
        click.echo(f"note: {line}")
    if json_path:
        write_json(json_path, {k: v for k, v in result.items() if k not in ("rows", "figure_names")})
