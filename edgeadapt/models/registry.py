"""The model registry: every network edgeadapt can train, by name.

A name fixes the architecture and input size; `build(name, **overrides)` may change only the
head (`outputs`: 4 for the pose, 5 with the auxiliary switching logit, 6 with the switching logit
and the self-confidence estimate) and the dropout rate.
"""

from functools import lru_cache

from torch import nn

from edgeadapt.errors import EdgeadaptError
from edgeadapt.models.cost import summarize
from edgeadapt.models.frontnet import Frontnet
from edgeadapt.models.mobilenet import MobileNetPose

ARCHITECTURES = {"frontnet": Frontnet, "mobilenet": MobileNetPose}

# name -> architecture, input (H, W), base channel count c
MODELS = {
    "frontnet-160x32": ("frontnet", (96, 160), 32),
    "frontnet-160x16": ("frontnet", (96, 160), 16),
    "frontnet-160x8": ("frontnet", (96, 160), 8),
    "frontnet-80x32": ("frontnet", (48, 80), 32),
    "mobilenet-160x16": ("mobilenet", (96, 160), 16),
    "mobilenet-160x8": ("mobilenet", (96, 160), 8),
}
OVERRIDABLE = {"outputs": int, "dropout": float}
DEFAULTS = {"outputs": 4, "dropout": 0.5}


def names() -> list[str]:
    return list(MODELS)


def model_config(name: str, **overrides) -> dict:
    """The full, JSON-able description of a model: what a checkpoint stores to rebuild it."""
    if name not in MODELS:
        raise EdgeadaptError(f"unknown model '{name}' (known: {', '.join(MODELS)})")
    arch, input_hw, channels = MODELS[name]
    config = {"arch": arch, "input": list(input_hw), "channels": channels, **DEFAULTS}
    for key, value in overrides.items():
        if key not in OVERRIDABLE:
            raise EdgeadaptError(f"model '{name}': cannot override '{key}' (only {', '.join(OVERRIDABLE)})")
        config[key] = OVERRIDABLE[key](value)
    if config["outputs"] not in (4, 5, 6):
        raise EdgeadaptError(f"model '{name}': outputs must be 4 (pose), 5 (pose + aux logit) or 6 (pose + aux logit "
                             f"+ predicted error), got {config['outputs']}")
    return config


def build_from_config(config: dict) -> nn.Module:
    cls = ARCHITECTURES[config["arch"]]
    return cls(
        input_hw=tuple(config["input"]),
        channels=config["channels"],
        outputs=config["outputs"],
        dropout=config["dropout"],
    )


def build(name: str, **overrides) -> nn.Module:
    return build_from_config(model_config(name, **overrides))


def input_hw(name: str) -> tuple:
    return tuple(model_config(name)["input"])


def info(name: str) -> dict:
    """name, input (H, W), params, macs, plus int8 weight bytes and the largest layer's activations."""
    return dict(_info(name))


@lru_cache(maxsize=None)
def _info(name):
    config = model_config(name)
    cost = summarize(build_from_config(config), config["input"])
    return tuple({"name": name, "input": tuple(config["input"]), **cost}.items())
