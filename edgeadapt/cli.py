"""Command-line entry point: a thin dispatcher over the stage modules.

Each sub-command lives in `edgeadapt/commands/<name>.py` and exposes a click command or group
called `command`. They are imported lazily so `edgeadapt --help` stays fast and one stage's
heavy imports (torch, onnxruntime) are paid only by the commands that need them.
"""

import importlib
import sys
import traceback

import click

from edgeadapt import console
from edgeadapt.errors import EdgeadaptError

# command name -> module under edgeadapt.commands
COMMANDS = {
    "dataset": "dataset",
    "models": "models",
    "train": "train",
    "eval": "evaluate",
    "quantize": "quantize",
    "import": "importcmd",
    "export": "export",
    "validate": "validate",
    "policy": "policy",
    "hil": "hil",
    "firmware": "firmware",
    "profile": "profile",
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
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors and warnings (no tables, no progress).")
@click.option("-v", "--verbose", is_flag=True, help="Print extra detail, and the traceback of an internal error.")
@click.pass_context
def cli(ctx, quiet, verbose):
    """edgeadapt: quantize, export and benchmark adaptive CNN pairs on microcontrollers."""
    if quiet and verbose:
        raise EdgeadaptError("--quiet and --verbose exclude each other")
    console.set_level(console.QUIET if quiet else console.VERBOSE if verbose else console.NORMAL)
    json_to_stdout = "-" in _json_targets((ctx.obj or {}).get("argv", []))
    ctx.with_resource(console.human_output(quiet, json_to_stdout))


def _json_targets(args) -> list:
    """The values given to --json/--report anywhere on the command line."""
    out = []
    for i, arg in enumerate(args):
        for flag in ("--json", "--report"):
            if arg == flag and i + 1 < len(args):
                out.append(args[i + 1])
            elif arg.startswith(flag + "="):
                out.append(arg.split("=", 1)[1])
    return out


def main(argv=None):
    """Run the CLI; user errors become one line on stderr and exit code 2, never a traceback.

    A bad file that the OS refuses (missing, unreadable, a folder where a file is needed) is a user
    error too. Anything else is a bug of ours: one line naming it, exit code 3, and the traceback
    only with --verbose."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=argv, prog_name="edgeadapt", standalone_mode=False, obj={"argv": argv})
    except EdgeadaptError as exc:
        click.echo(f"edgeadapt: error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        click.echo(f"edgeadapt: error: {where}{exc.strerror or exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("edgeadapt: interrupted", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # one line, like every other error: the option at fault, where to look
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        click.echo(f"edgeadapt: error: {exc.format_message()}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"edgeadapt: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("edgeadapt: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, the traceback on request
        if console.verbose():
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(f"edgeadapt: internal error: {type(exc).__name__}: {first} (rerun with --verbose for the "
                   f"traceback)", err=True)
        sys.exit(3)
    sys.exit(0)


if __name__ == "__main__":
    main()
