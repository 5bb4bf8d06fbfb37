"""`edgeadapt quantize`: a float model -> a fixed-point .eaq, with its report."""

import click

WEIGHT_BITS = ("8", "4", "2", "auto")


@click.command("quantize")
@click.argument("model_spec", metavar="MODEL")
@click.option("--calib", "calib_dir", required=True, type=click.Path(), help="Dataset folder; its train split calibrates, its test split scores.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="The quantized model to write (.eaq).")
@click.option("--weight-bits", default="8", show_default=True, type=click.Choice(WEIGHT_BITS), help="Weight width for every layer, or auto (MILP under --flash-budget).")
@click.option("--flash-budget", default=None, help="Weight memory budget: bytes, 200KiB, 1.5MiB, 64kB or 50% (of the int8 size).")
@click.option("--latency-budget", default=None, help="With auto: estimated cycles on --target (e.g. 2.5M).")
@click.option("--target", default=None,
              help="Whose cycle model prices --latency-budget: a target name, or an export bundle / its manifest.json "
                   "(its target).")
@click.option("--calib-frames", default=256, show_default=True, type=int, help="Calibration frames, spread over the train split.")
@click.option("--iterations", default=None, type=int, help="AdaQuant steps per layer.")
@click.option("--no-adapt", is_flag=True, help="Min/max formats instead of AdaPT weight FLs and MSE activation clipping.")
@click.option("--no-equalize", is_flag=True, help="Skip activation range equalization across channels.")
@click.option("--no-adaquant", is_flag=True, help="Skip layer-wise AdaQuant calibration.")
@click.option("--no-bias-correction", is_flag=True, help="Skip BN re-estimation and bias correction.")
@click.option("--no-label-tuning", is_flag=True, help="Keep the output biases instead of fitting them to the calibration labels.")
@click.option("--input-scale", default=None, help="The model's input is x = p * scale + offset of the raw pixels p (one number, or one per channel comma separated); default: the graph's own leading Sub/Mul/Div, else 1/256.")
@click.option("--input-offset", default=None, help="See --input-scale; default -0.5 (x = (p - 128) / 256).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--report", "--json", "report_path", type=click.Path(dir_okay=False), help="Write the report as JSON ('-': stdout).")
def command(model_spec, calib_dir, out_path, weight_bits, flash_budget, latency_budget, target, calib_frames,
            iterations, no_adapt, no_equalize, no_adaquant, no_bias_correction, no_label_tuning, input_scale, input_offset,
            seed, report_path):
    """Quantize MODEL (.onnx, .pt, zoo:big, zoo:small) to power-of-two fixed point."""
    from edgeadapt.quant.budget import parse_cycles
    from edgeadapt.quant.pipeline import QuantizeOptions
    from edgeadapt.quant.workflow import quantize_model

    options = QuantizeOptions(
        weight_bits=weight_bits if weight_bits == "auto" else int(weight_bits),
        flash_budget=flash_budget,
        cycle_budget=None if latency_budget is None else parse_cycles(latency_budget),
        cycle_model=None if latency_budget is None else cycle_model_of(target),
        adapt=not no_adapt,
        equalize=not no_equalize,
        adaquant=not no_adaquant,
        bias_correction=not no_bias_correction,
        label_tuning=not no_label_tuning,
        seed=seed,
    )
    if iterations is not None:
        options.iterations = iterations
    from edgeadapt.ir.normalization import parse_values

    report = quantize_model(model_spec, calib_dir, out_path, options, calib_frames, report_path,
                            parse_values(input_scale, "--input-scale"), parse_values(input_offset, "--input-offset"))
    from edgeadapt.quant.report import format_report

    click.echo(f"{model_spec} -> {out_path}")
    click.echo(format_report(report))


def cycle_model_of(target):
    """The CycleModel of --target: a target name, an export folder or its manifest.json."""
    import json
    from pathlib import Path

    from edgeadapt.codegen.targets import load_target
    from edgeadapt.errors import EdgeadaptError
    from edgeadapt.quant.costmodel import CycleModel

    if target is None:
        raise EdgeadaptError("--latency-budget needs --target (a target name, or an export's manifest.json)")
    path = Path(target)
    if path.is_dir():
        path = path / "manifest.json"
    if path.suffix == ".json" or path.is_file():
        try:
            name = json.loads(path.read_text())["target"]
            name = name["name"] if isinstance(name, dict) else name
        except FileNotFoundError:
            raise EdgeadaptError(f"--target {target}: no such manifest") from None
        except (json.JSONDecodeError, KeyError, TypeError):
            raise EdgeadaptError(f"--target {target}: not an export manifest.json") from None
        target = name
    return CycleModel.from_description(load_target(target))
