"""`edgeadapt eval`: a model's (.pt, zoo:, .onnx or .eaq) task figures on one split."""

import click

from edgeadapt.splits import SPLITS
from edgeadapt.textio import write_json


@click.command("eval")
@click.option("--model", "model_spec", required=True, help="Model file (.pt, .onnx, .eaq) or zoo:big / zoo:small.")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False), help="Dataset folder.")
@click.option("--split", default="test", show_default=True, type=click.Choice(list(SPLITS)))
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the figures to this JSON file ('-': stdout).")
def command(model_spec, data_dir, split, json_path):
    """Print the data's task figures: pose MAE / R2 / the mean predictor's MAE for x, y, z, phi and
    their sum, per-output MAE and R2 for a regression folder, top-1 for a classifier; for an .eaq
    also its output deviation from the float weights it holds."""
    from edgeadapt.evaluate import evaluate, metrics_table

    result = evaluate(model_spec, data_dir, split)
    click.echo(f"{result['model']} on {data_dir} ({split}, {result['frames']} frames)")
    click.echo(metrics_table(result))
    if json_path:
        write_json(json_path, result)
