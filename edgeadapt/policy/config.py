"""The policy config: the JSON file a user (or the policy sweep) writes, validated.

Format (docs/artifacts.md, "## Policy config"):
    {"policy": "temporal", "weights": [1, 1, 1, 1], "threshold": 0.5, "k": 2, "rerun": false}
    {"policy": "aux", "aux_index": 4, "threshold": 0.0, "k": 1, "rerun": false}
    {"policy": "random", "p": 0.3, "seed": 1}
    {"policy": "partition", "channels": [0, 1, 3], "absolute": [false, true, true],
     "cuts": [[1.2, 2.0], [0.5], [0.4, 0.8]], "big_cells": [5, 6, 9]}
    {"policy": "always-small"}   {"policy": "always-big"}
plus an optional free-form "meta" object (provenance, the operating point a sweep chose).
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from edgeadapt.errors import EdgeadaptError

KINDS = ("always-small", "always-big", "random", "temporal", "aux", "partition")  # C enum order
MAX_CHANNELS = 8  # EA_POLICY_MAX_CH
PART_MAX_CH = 3  # EA_POLICY_PART_MAX_CH: outputs a partition splits
PART_MAX_CUTS = 3  # EA_POLICY_PART_MAX_CUTS: cut points per output (4 bins)
PART_RADIX = 4  # cell = sum_i bin_i * 4^i
POSE_OUTPUTS = 4  # a partition reads pose outputs only: both models have them
NAMED = ("always-small", "always-big")  # policies that need no parameters, usable by name

# parameters each kind accepts: name -> default (None = required)
_PARAMS = {
    "always-small": {},
    "always-big": {},
    "random": {"p": None, "seed": 1},
    "temporal": {"weights": [1.0, 1.0, 1.0, 1.0], "threshold": None, "k": 1, "rerun": False},
    "aux": {"aux_index": None, "threshold": None, "k": 1, "rerun": False},
    "partition": {"channels": None, "absolute": None, "cuts": None, "big_cells": None},
}


@dataclass(frozen=True)
class PolicyConfig:
    """A validated float policy config. Fields a kind does not use keep their defaults."""

    policy: str
    weights: tuple = (1.0, 1.0, 1.0, 1.0)
    threshold: float = 0.0
    k: int = 1
    rerun: bool = False
    aux_index: int | None = None  # None: the small model's last output
    p: float = 0.0
    seed: int = 1
    channels: tuple = ()  # partition: the outputs split, their |value| where absolute
    absolute: tuple = ()
    cuts: tuple = ()  # per channel, the cut points (real units); bin = how many the value exceeds
    big_cells: tuple = ()  # the cells (sum_i bin_i * 4^i) where the next frame runs big
    meta: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        """The JSON form, with only the keys this kind uses."""
        out = {"policy": self.policy}
        for name in _PARAMS[self.policy]:
            value = getattr(self, name)
            out[name] = [list(v) for v in value] if name == "cuts" else list(value) if isinstance(value, tuple) else value
        if self.meta:
            out["meta"] = dict(self.meta)
        return out


def load_policy_config(path_or_name) -> PolicyConfig:
    """A PolicyConfig from a JSON file, a dict, a PolicyConfig, or the name of a parameterless policy."""
    if isinstance(path_or_name, PolicyConfig):
        return path_or_name
    if not isinstance(path_or_name, (str, Path)):
        return validate_policy_config(path_or_name)  # an already-parsed JSON value
    text = str(path_or_name)
    if text in NAMED:
        return PolicyConfig(policy=text)
    path = Path(text)
    if not path.is_file():
        hint = " (names accepted: always-small, always-big)" if path.suffix != ".json" else ""
        raise EdgeadaptError(f"policy config {text}: no such file{hint}")
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgeadaptError(f"policy config {text}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise EdgeadaptError(f"policy config {text}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    return validate_policy_config(obj, source=text)


def validate_policy_config(obj, source="policy config") -> PolicyConfig:
    """Check a parsed JSON object; every problem is one EdgeadaptError line naming the key."""
    if not isinstance(obj, dict):
        raise EdgeadaptError(f"{source}: expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("policy")
    if kind not in KINDS:
        raise EdgeadaptError(f"{source}: \"policy\" must be one of {', '.join(KINDS)}, got {kind!r}")
    params = _PARAMS[kind]
    unknown = sorted(set(obj) - set(params) - {"policy", "meta"})
    if unknown:
        raise EdgeadaptError(f"{source}: key {unknown[0]!r} is not a parameter of the {kind} policy "
                             f"(expected: {', '.join(params) or 'none'})")
    values = {}
    for name, default in params.items():
        if name not in obj:
            if default is None and not (kind == "aux" and name == "aux_index"):
                raise EdgeadaptError(f"{source}: the {kind} policy needs \"{name}\"")
            values[name] = default
            continue
        values[name] = _check_param(source, name, obj[name])
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise EdgeadaptError(f"{source}: \"meta\" must be an object")
    if "weights" in values:
        values["weights"] = tuple(values["weights"])
    if kind == "partition":
        values = _check_partition(source, values)
    return PolicyConfig(policy=kind, meta=meta, **values)


def _check_partition(source, v):
    n = len(v["channels"])
    if len(set(v["channels"])) != n:
        raise EdgeadaptError(f"{source}: \"channels\" must not repeat an output")
    for name in ("absolute", "cuts"):
        if len(v[name]) != n:
            raise EdgeadaptError(f"{source}: \"{name}\" must have one entry per channel ({n})")
    limit = PART_RADIX ** n
    for cell in v["big_cells"]:
        bins = [(cell // PART_RADIX**i) % PART_RADIX for i in range(n)]
        if cell >= limit or any(b > len(c) for b, c in zip(bins, v["cuts"])):
            raise EdgeadaptError(f"{source}: \"big_cells\" holds {cell}, not a cell of these cuts")
    return {"channels": tuple(v["channels"]), "absolute": tuple(v["absolute"]),
            "cuts": tuple(tuple(c) for c in v["cuts"]), "big_cells": tuple(sorted(set(v["big_cells"])))}


def _check_param(source, name, value):
    where = f"{source}: \"{name}\""
    if name == "weights":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_CHANNELS:
            raise EdgeadaptError(f"{where} must be a list of 1 to {MAX_CHANNELS} numbers")
        return [_number(where + f"[{i}]", v, low=0.0) for i, v in enumerate(value)]
    if name == "threshold":
        return _number(where, value)
    if name == "p":
        return _number(where, value, low=0.0, high=1.0)
    if name in ("k", "aux_index"):
        return _integer(where, value, 0, 2**32 - 1)
    if name == "seed":
        return _integer(where, value, 1, 2**32 - 1)
    if name == "channels":
        if not isinstance(value, list) or not 1 <= len(value) <= PART_MAX_CH:
            raise EdgeadaptError(f"{where} must be a list of 1 to {PART_MAX_CH} output indices")
        return [_integer(where + f"[{i}]", c, 0, POSE_OUTPUTS - 1) for i, c in enumerate(value)]
    if name == "absolute":
        if not isinstance(value, list) or not all(isinstance(b, bool) for b in value):
            raise EdgeadaptError(f"{where} must be a list of true / false")
        return value
    if name == "cuts":
        if not isinstance(value, list) or not all(isinstance(c, list) and 1 <= len(c) <= PART_MAX_CUTS for c in value):
            raise EdgeadaptError(f"{where} must be a list of lists of 1 to {PART_MAX_CUTS} numbers")
        out = [[_number(where + f"[{i}][{j}]", x) for j, x in enumerate(c)] for i, c in enumerate(value)]
        if any(c != sorted(c) for c in out):
            raise EdgeadaptError(f"{where}: each channel's cut points must be ascending")
        return out
    if name == "big_cells":
        if not isinstance(value, list):
            raise EdgeadaptError(f"{where} must be a list of cell indices")
        return [_integer(where + f"[{i}]", c, 0, PART_RADIX**PART_MAX_CH - 1) for i, c in enumerate(value)]
    if name == "rerun":
        if not isinstance(value, bool):
            raise EdgeadaptError(f"{where} must be true or false, got {value!r}")
        return value
    raise AssertionError(name)


def _number(where, value, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EdgeadaptError(f"{where} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        raise EdgeadaptError(f"{where} = {value} is outside {bounds}")
    return float(value)


def _integer(where, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        raise EdgeadaptError(f"{where} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise EdgeadaptError(f"{where} = {value} is outside {low}..{high}")
    return value
