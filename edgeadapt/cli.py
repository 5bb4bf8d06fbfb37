"""Command-line entry point: a thin dispatcher over the stage modules.

Each sub-command lives in `edgeadapt/commands/<name>.py` and exposes a click command or group
called `command`. They are imported lazily so `edgeadapt --help` stays fast and one stage's
heavy imports (torch, onnxruntime) are paid only by the commands that need them.
"""

import importlib
import sys

import click

from edgeadapt.errors import EdgeadaptError

# command name -> module under edgeadapt.commands
COMMANDS = {
    "dataset": "dataset",
    "models": "models",
    "train": "train",
    "eval": "evaluate",
    "quantize": "quantize",
    "export": "export",
    "validate": "validate",
    "policy": "policy",
    "hil": "hil",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        module_name = COMMANDS.get(name)
        if module_name is None:
            return None
        try:
            module = importlib.import_module(f"edgeadapt.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"edgeadapt.commands.{module_name}":
                return None  # not built yet
            raise
        return module.command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgeadapt")
def cli():
    """edgeadapt: quantize, export and benchmark adaptive CNN pairs on microcontrollers."""


def main(argv=None):
    """Run the CLI; user errors become one line on stderr and exit code 2, never a traceback."""
    try:
        cli.main(args=argv, prog_name="edgeadapt", standalone_mode=False)
    except EdgeadaptError as exc:
        click.echo(f"edgeadapt: error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("edgeadapt: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("edgeadapt: interrupted", err=True)
        sys.exit(130)
    sys.exit(0)


if __name__ == "__main__":
    main()
