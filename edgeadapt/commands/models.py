"""`edgeadapt models`: the registered networks with their input size, parameters and MACs."""

import click

from edgeadapt.textio import format_table, write_json


@click.command("models")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the figures to this JSON file ('-': stdout).")
def command(json_path):
    """List the registered models (name, input, parameters, MACs, int8 weights, largest layer)."""
    from edgeadapt.models import info, names

    entries = [info(name) for name in names()]
    rows = [
        [e["name"], f"{e['input'][1]}x{e['input'][0]}", e["params"], e["macs"], e["weight_bytes"], e["max_layer_bytes"]]
        for e in entries
    ]
    headers = ["name", "input (WxH)", "params", "MACs", "int8 weight B", "max layer act B"]
    click.echo(format_table(headers, rows))
    if json_path:
        write_json(json_path, [{**e, "input": list(e["input"])} for e in entries])
