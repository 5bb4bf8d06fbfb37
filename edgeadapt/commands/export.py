"""`edgeadapt export`: a quantized big/small pair, or one model, -> C for a target, with manifest.json."""

from pathlib import Path

import click

from edgeadapt.errors import EdgeadaptError
from edgeadapt.textio import format_table, write_json


@click.command("export")
@click.option("--target", required=True,
              help="Target description in hil/targets/ (gap8, stm32 = stm32f405, mps2-an386, host), or tflite (a .tflite file of --model).")
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="One model (.eaq) deployed alone: no pair, no policy (excludes --big/--small).")
@click.option("--big", "big_path", type=click.Path(dir_okay=False), help="The big model of a pair (.eaq).")
@click.option("--small", "small_path", type=click.Path(dir_okay=False), help="The small model of a pair (.eaq).")
@click.option("--policy", default=None, help="Policy config (policy.json or a name) baked in as ea_policy_default; default always-small.")
@click.option("--out", "out_dir", default=None, type=click.Path(),
              help="Output folder [default: export/<target>]; with --target tflite the .tflite file (or a folder for it).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the summary table's figures to this JSON file ('-': stdout).")
@click.option("--tflite-mode", type=click.Choice(["int8", "exact"]), default="int8", show_default=True,
              help="--target tflite: TFLite's int8 scheme, or a float32 graph that reproduces the integer arithmetic exactly.")
def command(target, model_path, big_path, small_path, policy, out_dir, json_path, tflite_mode):
    """Generate C for a pair (--big, --small) or one model (--model): weights, layer schedule, one
    planned arena, manifest."""
    from edgeadapt.codegen import export_pair, export_single
    from edgeadapt.codegen.targets import load_target
    from edgeadapt.quant.artifact import load_eaq

    if model_path is not None:
        if big_path or small_path:
            raise EdgeadaptError("--model exports one model: do not combine it with --big/--small")
        if policy is not None:
            raise EdgeadaptError("--policy needs a big/small pair: a single-model export has no policy")
    elif not (big_path and small_path):
        raise EdgeadaptError("give --model, or both --big and --small")
    if target == "tflite":
        return _export_tflite(model_path, out_dir, tflite_mode, json_path)
    desc = load_target(target)
    out_dir = out_dir or f"export/{target}"
    if Path(out_dir).is_file():
        raise EdgeadaptError(f"--out {out_dir} is a file, a bundle is a folder")
    if model_path is not None:
        model = load_eaq(model_path)
        manifest = export_single(model, desc, out_dir, source=model_path)
        click.echo(f"exported {model.name} (single model, no policy) for {desc['name']} -> {out_dir}")
    else:
        big, small = load_eaq(big_path), load_eaq(small_path)
        manifest = export_pair(big, small, desc, out_dir, policy=policy, sources={"big": big_path, "small": small_path})
        click.echo(f"exported {big.name} (big) + {small.name} (small) for {desc['name']} -> {out_dir}")
    click.echo(format_table(*summary_table(manifest)))
    click.echo()
    click.echo(format_table(*kernel_table(manifest)))
    click.echo()
    click.echo(format_table(*memory_table(manifest)))
    if json_path:
        write_json(json_path, summary_json(manifest))


def _export_tflite(model_path, out_path, mode, json_path):
    from edgeadapt.quant.artifact import load_eaq
    from edgeadapt.textio import atomic_write_bytes
    from edgeadapt.tflite.export import export_tflite

    if model_path is None:
        raise EdgeadaptError("--target tflite exports one model: give --model")
    graph = load_eaq(model_path)
    data = export_tflite(graph, mode)  # everything checked before the file is touched
    out = Path(out_path or f"export/tflite/{Path(model_path).stem}.tflite")
    if out.is_dir():
        out = out / f"{Path(model_path).stem}.tflite"
    atomic_write_bytes(out, data)
    click.echo(f"exported {graph.name} as TFLite ({mode}) -> {out} ({len(data):,} bytes)")
    if json_path:
        write_json(json_path, {"target": "tflite", "mode": mode, "model": graph.name, "file": str(out), "bytes": len(data)})


def summary_table(manifest):
    headers = ["model", "name", "layers", "MACs", "weight B", "arena B", "plan"]
    rows = [
        [role, m["name"], m["num_layers"], m["macs"], m["weight_bytes"], m["arena_bytes"], m["plan"]]
        for role, m in manifest["models"].items()
    ]
    if len(manifest["models"]) > 1:
        rows.append(["pair", "", "", "", manifest["flash_bytes"], manifest["arena_bytes"], "shared arena"])
    return headers, rows


def kernel_table(manifest):
    """One row per layer of each model: the kernel the exporter routed it to."""
    headers = ["model", "layer", "name", "kind", "kernel", "output", "bits", "MACs"]
    rows = []
    for role, m in manifest["models"].items():
        for r in m["layers"]:
            out = "x".join(map(str, r["output_shape"]))
            rows.append([role, r["index"], r["name"], r["kind"], r["kernel"], out, r["weight_bits"] or "", r["macs"]])
    return headers, rows


def memory_table(manifest):
    """One row per memory; a memory the target reserves whole (a stack in CCM, say) and no model
    uses says "reserved" rather than a 100 % that reads as full of model data."""
    headers = ["memory", "size B", "reserved B", "models B", "used B", "free B", "used %"]
    rows = []
    for name, u in manifest["memories"].items():
        whole = u["placed"] == 0 and u["reserved"] >= u["size"]
        used = "reserved" if whole else f"{100.0 * u['used'] / u['size']:.1f}"
        rows.append([name, u["size"], u["reserved"], u["placed"], u["used"], u["free"], used])
    return headers, rows


def summary_json(manifest):
    keys = ("name", "num_layers", "macs", "weight_bytes", "arena_bytes", "plan")
    return {
        "target": manifest["target"],
        "models": {role: {k: m[k] for k in keys} for role, m in manifest["models"].items()},
        "arena_bytes": manifest["arena_bytes"],
        "flash_bytes": manifest["flash_bytes"],
        "ram_bytes": manifest["ram_bytes"],
        "memories": manifest["memories"],
    }
