"""Parsing the user's budgets: `--flash-budget 200KiB`, `50%`, `--latency-budget 2.5e6`."""

import re

from edgeadapt.errors import EdgeadaptError

# binary units for K/M/KiB/MiB (how embedded datasheets size flash), decimal for kB/MB
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": 1 << 20, "mib": 1 << 20, "kb": 1000, "mb": 1000**2}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*|%)\s*$")


def parse_size(text: str, reference_bytes: int | None = None) -> int:
    """'200KiB' -> 204800; '150000' -> 150000; '50%' -> half of reference_bytes (int8 size)."""
    match = _SIZE.match(str(text))
    if not match:
        raise EdgeadaptError(
            f"bad size '{text}': expected a number with an optional unit B, K, KiB, M, MiB, kB, MB or %"
        )
    value, unit = float(match.group(1)), match.group(2)
    if unit == "%":
        if reference_bytes is None:
            raise EdgeadaptError(f"bad size '{text}': a percentage needs a reference size")
        if not 0 < value <= 100:
            raise EdgeadaptError(f"bad size '{text}': a percentage must be in (0, 100]")
        return int(reference_bytes * value / 100.0)
    if unit.lower() not in SIZE_UNITS:
        raise EdgeadaptError(f"bad size '{text}': unknown unit '{unit}' (use B, K, KiB, M, MiB, kB, MB or %)")
    size = int(value * SIZE_UNITS[unit.lower()])
    if size <= 0:
        raise EdgeadaptError(f"bad size '{text}': must be positive")
    return size


def parse_cycles(text: str) -> float:
    """'2500000', '2.5e6' or '2.5M' cycles."""
    raw = str(text).strip()
    scale = 1.0
    if raw[-1:] in ("k", "K", "M", "G"):
        scale = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}[raw[-1]]
        raw = raw[:-1]
    try:
        cycles = float(raw) * scale
    except ValueError:
        raise EdgeadaptError(f"bad cycle budget '{text}': expected a number such as 2.5e6 or 2.5M") from None
    if not cycles > 0:
        raise EdgeadaptError(f"bad cycle budget '{text}': must be positive")
    return cycles
