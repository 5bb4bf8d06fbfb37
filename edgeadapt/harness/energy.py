"""Energy per frame: from a power model of the target's operating point, or from a measured trace.

Power model (hil/targets/<target>.toml, [[operating_points]]):
    E = P_active * t_active + P_idle * (T_frame - t_active)
P_active is the point's `power_mw` (or `current_ma` * `vdd_v`), P_idle its `idle_power_mw` (or
`sleep_current_ma` * `vdd_v`). T_frame is the frame period; without one the frames run back to
back (T_frame = t_active, MLPerf Tiny's energy mode), so only P_active counts.

Measured trace: a CSV of timestamped samples from an external monitor (Joulescope, Nordic PPK2,
ST LPM01A exports), integrated over each frame's active window. The device's timestamps
(`timestamp` before every step) place the windows; the trace's clock is aligned to them by an
offset, given or found by correlating the trace with the windows' on/off pattern.
"""

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeadapt.errors import EdgeadaptError


@dataclass(frozen=True)
class OperatingPoint:
    """The clock that turns cycles into time and the power figures of one operating point."""

    target: str
    name: str
    clock_hz: float
    active_mw: float | None
    idle_mw: float | None
    verified: bool
    source: str

    def latency_s(self, cycles) -> np.ndarray:
        return np.asarray(cycles, dtype=np.float64) / self.clock_hz

    def frame_energy_mj(self, t_active_s, period_s=None):
        """Energy per frame in mJ (array like t_active_s), or None without a power figure."""
        if self.active_mw is None:
            return None
        t = np.asarray(t_active_s, dtype=np.float64)
        energy = self.active_mw * t  # mW * s = mJ
        if period_s is not None:
            if self.idle_mw is None:
                raise EdgeadaptError(f"target {self.target}, operating point {self.name}: no idle power figure "
                                     f"(idle_power_mw or sleep_current_ma), so a frame period cannot be costed")
            if np.any(t > period_s):
                slow = float(t.max()) * 1e3
                raise EdgeadaptError(f"frame period {period_s * 1e3:.3f} ms is shorter than a frame's "
                                     f"active time ({slow:.3f} ms)")
            energy = energy + self.idle_mw * (period_s - t)
        return energy

    def to_dict(self) -> dict:
        return {"name": self.name, "clock_mhz": self.clock_hz / 1e6, "active_mw": self.active_mw,
                "idle_mw": self.idle_mw, "power_verified": self.verified, "power_source": self.source}


def operating_point(target: dict, name=None, device_hz=None) -> OperatingPoint:
    """The named (or default) operating point of a target description.

    The clock is the one the cycle counter's work runs at: the cluster clock `cl_mhz` where the
    layers run on a cluster (GAP8), else `cpu_mhz`; a point without a clock (the host) uses the
    device's own counter rate `device_hz`.
    """
    points = {p["name"]: p for p in target.get("operating_points", [])}
    if name is None:
        name = target.get("clocks", {}).get("default_operating_point") or next(iter(points), None)
    if name not in points:
        raise EdgeadaptError(f"target {target['name']}: no operating point '{name}' "
                             f"(known: {', '.join(points) or 'none'})")
    p = points[name]
    mhz = p.get("cl_mhz", p.get("cpu_mhz"))
    if mhz is not None:
        clock = float(mhz) * 1e6
    elif device_hz:
        clock = float(device_hz)
    else:
        raise EdgeadaptError(f"target {target['name']}, operating point {name}: no clock (cl_mhz or cpu_mhz)")
    return OperatingPoint(
        target=target["name"], name=name, clock_hz=clock,
        active_mw=_power(p, "power_mw", "current_ma"), idle_mw=_power(p, "idle_power_mw", "sleep_current_ma"),
        verified=bool(p.get("power_verified", False)), source=str(p.get("power_source", "")),
    )


def _power(point, power_key, current_key):
    if power_key in point:
        return float(point[power_key])
    if current_key in point and "vdd_v" in point:
        return float(point[current_key]) * float(point["vdd_v"])
    return None


# ------------------------------------------------------------------ measured traces

_UNIT_SCALE = {"": 1.0, "k": 1e3, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "n": 1e-9}


@dataclass
class PowerTrace:
    """Power samples: time in s (increasing) and power in W."""

    time_s: np.ndarray
    power_w: np.ndarray
    source: str

    def energy_j(self, start_s, end_s) -> float:
        """Trapezoid integral of power over [start_s, end_s], with the end points interpolated."""
        t, p = self.time_s, self.power_w
        if end_s <= start_s:
            return 0.0
        if start_s < t[0] or end_s > t[-1]:
            raise EdgeadaptError(f"{self.source}: window {start_s:.6f}..{end_s:.6f} s is outside the trace "
                                 f"({t[0]:.6f}..{t[-1]:.6f} s)")
        inside = (t > start_s) & (t < end_s)
        ts = np.concatenate([[start_s], t[inside], [end_s]])
        ps = np.concatenate([[np.interp(start_s, t, p)], p[inside], [np.interp(end_s, t, p)]])
        return float(np.sum((ps[1:] + ps[:-1]) * np.diff(ts)) / 2.0)


def load_power_trace(path, voltage_v=None) -> PowerTrace:
    """Read a monitor's CSV export: a time column and a power column, or a current column times
    a voltage (a voltage column, or voltage_v for monitors that export current only, like PPK2).

    Column names are matched loosely with units in the name: `time (s)`, `Timestamp(ms)`,
    `current [uA]`, `Current(uA)`, `power (W)`, `voltage (V)`; comment lines start with '#'.
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise EdgeadaptError(f"power trace {path}: cannot read ({exc.strerror})") from None
    lines = [line for line in text.splitlines() if line.strip()]
    data_at = next((i for i, line in enumerate(lines) if _numeric_row(line)), len(lines))
    # the header is the last line before the samples; some exports write it as a '#' comment
    header_line = lines[data_at - 1].lstrip("#").strip() if data_at > 0 else ""
    lines = [header_line] + [line for line in lines[data_at:] if not line.lstrip().startswith("#")]
    if not header_line or len(lines) < 3:
        raise EdgeadaptError(f"power trace {path}: needs a header and at least 2 samples")
    delimiter = max(",;\t", key=lines[0].count)
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    cols = {kind: _find_column(header, kind) for kind in ("time", "power", "current", "voltage")}
    if cols["time"] is None:
        raise EdgeadaptError(f"power trace {path}: no time column in {header}")
    try:
        data = np.array([[float(r[i]) for i in range(len(header))] for r in rows[1:] if len(r) >= len(header)])
    except ValueError as exc:
        raise EdgeadaptError(f"power trace {path}: non-numeric sample ({exc})") from None
    t = data[:, cols["time"][0]] * cols["time"][1]
    if cols["power"] is not None:
        p = data[:, cols["power"][0]] * cols["power"][1]
    elif cols["current"] is not None:
        i = data[:, cols["current"][0]] * cols["current"][1]
        if cols["voltage"] is not None:
            v = data[:, cols["voltage"][0]] * cols["voltage"][1]
        elif voltage_v is not None:
            v = float(voltage_v)
        else:
            raise EdgeadaptError(f"power trace {path}: current without voltage; give the supply voltage")
        p = i * v
    else:
        raise EdgeadaptError(f"power trace {path}: no power or current column in {header}")
    if np.any(np.diff(t) <= 0):
        raise EdgeadaptError(f"power trace {path}: timestamps are not strictly increasing")
    return PowerTrace(t - t[0], p, str(path))


def _numeric_row(line) -> bool:
    cells = [c.strip() for c in re.split(r"[,;\t]", line) if c.strip()]
    try:
        [float(c) for c in cells]
    except ValueError:
        return False
    return bool(cells)


_BASE_UNIT = {"time": "s", "power": "w", "current": "a", "voltage": "v"}
_NAMES = {"time": ("time", "timestamp"), "power": ("power",), "current": ("current",), "voltage": ("voltage",)}


def _find_column(header, kind):
    """(index, scale to SI) of the first column of this kind, or None."""
    for i, name in enumerate(header):
        low = name.lower()
        if not any(low.startswith(word) for word in _NAMES[kind]):
            continue
        m = re.search(r"[\(\[]\s*([kmunµμ]?)([a-z]+)\s*[\)\]]", low)
        if m is None:
            return i, 1.0
        prefix, unit = m.groups()
        if unit != _BASE_UNIT[kind] and not (kind == "time" and unit in ("sec",)):
            raise EdgeadaptError(f"power trace column '{name}': unit '{prefix}{unit}' is not a {kind} unit")
        return i, _UNIT_SCALE[prefix]
    return None


def align_offset(trace: PowerTrace, windows_s) -> float:
    """The offset (trace time - device time) that best lines the active windows up with the trace.

    windows_s: (start, duration) pairs in device time. The trace is resampled on a uniform grid and
    cross-correlated with the windows' on/off indicator; the lag with the highest correlation wins.
    """
    windows = np.asarray(windows_s, dtype=np.float64)
    if windows.size == 0:
        raise EdgeadaptError("no frame windows to align the trace with")
    starts = windows[:, 0] - windows[0, 0]
    dt = max(float(np.median(np.diff(trace.time_s))), float(windows[:, 1].min()) / 8.0)
    grid = np.arange(trace.time_s[0], trace.time_s[-1], dt)
    power = np.interp(grid, trace.time_s, trace.power_w)
    span = int(np.ceil((starts[-1] + windows[-1, 1]) / dt)) + 1
    if span > len(grid):
        raise EdgeadaptError(f"{trace.source}: the trace ({grid[-1]:.3f} s) is shorter than the run's frames "
                             f"({span * dt:.3f} s)")
    indicator = np.zeros(span)
    for s, d in zip(starts, windows[:, 1]):
        indicator[int(round(s / dt)): int(round((s + d) / dt)) + 1] = 1.0
    indicator -= indicator.mean()
    centred = power - power.mean()
    scores = np.correlate(centred, indicator, mode="valid")
    coarse = float(grid[int(np.argmax(scores))] - windows[0, 0])
    # refine at the trace's own resolution: the offset that puts the most energy inside the windows
    step = float(np.median(np.diff(trace.time_s)))
    candidates = np.arange(coarse - 2 * dt, coarse + 2 * dt + step, step)
    segments = (trace.power_w[1:] + trace.power_w[:-1]) * np.diff(trace.time_s) / 2
    cumulative = np.concatenate([[0.0], np.cumsum(segments)])
    lo, hi = trace.time_s[0], trace.time_s[-1]
    starts = windows[:, 0][None, :] + candidates[:, None]
    ends = starts + windows[:, 1][None, :]
    inside = (starts.min(axis=1) >= lo) & (ends.max(axis=1) <= hi)
    if not inside.any():
        return coarse
    energy = (np.interp(ends, trace.time_s, cumulative) - np.interp(starts, trace.time_s, cumulative)).sum(axis=1)
    energy[~inside] = -np.inf
    return float(candidates[int(np.argmax(energy))])


def trace_frame_energies_mj(trace: PowerTrace, windows_s, offset_s) -> np.ndarray:
    """Energy (mJ) measured over each (start, duration) window, shifted into trace time by offset_s."""
    return np.array([trace.energy_j(s + offset_s, s + offset_s + d) * 1e3 for s, d in windows_s])
