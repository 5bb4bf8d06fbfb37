"""`edgeadapt validate`: the exported C, built for the host, against the integer reference."""

import click

from edgeadapt.textio import format_table, write_json


@click.command("validate")
@click.option("--export", "export_dir", required=True, type=click.Path(file_okay=False), help="An export bundle (export/<target>).")
@click.option("--data", "data_dir", required=True, type=click.Path(), help="Dataset folder whose frames are run.")
@click.option("--frames", default=200, show_default=True, type=int, help="Frames to run (the first N of the split).")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "val", "test"]))
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the result to this JSON file ('-': stdout).")
def command(export_dir, data_dir, frames, split, json_path):
    """Run every model of the bundle (a pair or one model) through the C code and the reference;
    compare every layer, bit for bit."""
    from edgeadapt.codegen import validate_export

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
        click.echo(
            f"first mismatch: model {mismatch['model']}, frame {mismatch['frame']}, layer {mismatch['layer']}"
            f" ({mismatch.get('layer_name', 'outputs')}), index {mismatch['index']}:"
            f" expected {mismatch['expected']}, got {mismatch['got']}"
        )
    if json_path:
        write_json(json_path, result)
    if mismatch is not None:
        raise click.exceptions.Exit(1)
