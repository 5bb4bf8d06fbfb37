"""Small shared output helpers: aligned tables on stdout and crash-safe JSON files."""

import json
import os
import tempfile
from pathlib import Path


def format_table(headers, rows):
    """Return rows as an aligned plain-text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = []
        for i, text in enumerate(row):
            numeric = n > 0 and _is_number(rows[n - 1][i])
            parts.append(text.rjust(widths[i]) if numeric else text.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path, obj):
    """Write JSON atomically: a crash never leaves a half-written file behind. "-" is stdout."""
    text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
    if str(path) == "-":
        from edgeadapt.console import json_stdout

        stream = json_stdout()
        stream.write(text)
        stream.flush()
        return
    atomic_write_text(path, text)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path, data: bytes):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)
