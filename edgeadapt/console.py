"""How loud the command line is: --quiet / --verbose on the group, progress bars, `--json -`.

One place decides, so every command behaves alike: human-readable text goes to stdout (silenced by
--quiet, moved to stderr when a command writes its JSON to stdout with `--json -`), progress bars
and notes go to stderr, and JSON written to "-" goes to the real stdout untouched.
"""

import contextlib
import os
import sys

QUIET, NORMAL, VERBOSE = 0, 1, 2
_state = {"level": NORMAL, "stdout": None}


def set_level(level: int) -> None:
    _state["level"] = level


def level() -> int:
    return _state["level"]


def verbose() -> bool:
    return _state["level"] >= VERBOSE


def json_stdout():
    """The stream `--json -` writes to: stdout as it was before any redirection."""
    return _state["stdout"] or sys.stdout


@contextlib.contextmanager
def human_output(quiet: bool, json_to_stdout: bool):
    """Silence (quiet) or divert to stderr (JSON on stdout) what commands print for people."""
    if not quiet and not json_to_stdout:
        yield
        return
    _state["stdout"] = sys.stdout
    sink = open(os.devnull, "w") if quiet else sys.stderr
    try:
        with contextlib.redirect_stdout(sink):
            yield
    finally:
        _state["stdout"] = None
        if quiet:
            sink.close()


def progress(iterable=None, **kwargs):
    """A tqdm bar on stderr, off under --quiet."""
    from tqdm import tqdm

    kwargs.setdefault("disable", _state["level"] == QUIET)
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def note(text: str) -> None:
    """A remark for people on stderr, silenced by --quiet."""
    if _state["level"] >= NORMAL:
        print(text, file=sys.stderr, flush=True)


def detail(text: str) -> None:
    """Extra information printed only with --verbose (through tqdm, so an open bar stays intact)."""
    if _state["level"] >= VERBOSE:
        from tqdm import tqdm

        tqdm.write(text, file=sys.stderr)
