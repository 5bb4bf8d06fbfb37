"""Checkpoints (.pt): weights plus everything needed to rebuild the model, and the zoo.

Format (torch.save of a dict, version 1):
  {"format": "edgeadapt-checkpoint", "version": 1, "model": registry name,
   "config": model_config(...), "input": [H, W], "state_dict": {...}, "train": {...}}
`zoo:big` and `zoo:small` name the pair shipped in edgeadapt/zoo/.
"""

import os
import tempfile
from pathlib import Path

import torch

from edgeadapt.errors import EdgeadaptError
from edgeadapt.models.registry import MODELS, build_from_config, model_config

FORMAT = "edgeadapt-checkpoint"
VERSION = 1
ZOO_DIR = Path(__file__).resolve().parent.parent / "zoo"
ZOO_NAMES = ("big", "small")


def resolve_model_path(spec) -> Path:
    """`zoo:big` / `zoo:small` -> the shipped file; anything else is a path that must exist."""
    text = str(spec)
    if text.startswith("zoo:"):
        key = text[4:]
        if key not in ZOO_NAMES:
            raise EdgeadaptError(f"unknown zoo model '{text}' (known: zoo:big, zoo:small)")
        path = ZOO_DIR / f"{key}.pt"
        if not path.is_file():
            raise EdgeadaptError(f"zoo model '{text}' is not installed ({path.name} missing from the package)")
        return path
    path = Path(text)
    if not path.is_file():
        raise EdgeadaptError(f"model file not found: {path}")
    return path


def save_checkpoint(path, model, name: str, config: dict, train: dict | None = None) -> Path:
    """Write a checkpoint atomically (a crash never leaves a truncated .pt behind)."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model": name,
        "config": dict(config),
        "input": list(config["input"]),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "train": dict(train or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes the file private; a model file is an ordinary artifact
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(spec) -> tuple[dict, Path]:
    """Load and validate the checkpoint dict (no model built yet)."""
    path = resolve_model_path(spec)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        raise EdgeadaptError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise EdgeadaptError(f"{path}: not an edgeadapt checkpoint (no '{FORMAT}' header)")
    if ckpt.get("version") != VERSION:
        raise EdgeadaptError(f"{path}: checkpoint version {ckpt.get('version')} is not supported (expected {VERSION})")
    for key in ("model", "config", "state_dict"):
        if key not in ckpt:
            raise EdgeadaptError(f"{path}: checkpoint has no '{key}' entry")
    if ckpt["model"] not in MODELS:
        raise EdgeadaptError(f"{path}: checkpoint of unknown model '{ckpt['model']}'")
    return ckpt, path


def load_checkpoint(spec, expect_model: str | None = None):
    """Rebuild the model of a checkpoint (or `zoo:big` / `zoo:small`) in eval mode.

    Returns (model, info); info holds name, config, input (H, W), outputs, path and the training
    record. With expect_model, a checkpoint of any other model is refused.
    """
    ckpt, path = read_checkpoint(spec)
    name = ckpt["model"]
    if expect_model is not None and name != expect_model:
        raise EdgeadaptError(f"{path}: checkpoint of model '{name}', expected '{expect_model}'")
    stored = ckpt["config"]
    try:
        config = model_config(name, outputs=stored.get("outputs", 4), dropout=stored.get("dropout", 0.5))
    except (TypeError, ValueError, AttributeError):
        raise EdgeadaptError(f"{path}: malformed model config {stored!r}") from None
    for key in ("arch", "input", "channels"):
        if list_or_value(stored.get(key)) != list_or_value(config[key]):
            raise EdgeadaptError(
                f"{path}: config {key}={stored.get(key)!r} does not match registry model '{name}' ({config[key]!r})"
            )
    model = build_from_config(config)
    _load_state(model, ckpt["state_dict"], path, name)
    model.eval()
    info = {
        "name": name,
        "config": config,
        "input": tuple(config["input"]),
        "outputs": config["outputs"],
        "path": str(path),
        "train": ckpt.get("train", {}),
    }
    return model, info


def list_or_value(v):
    return list(v) if isinstance(v, (list, tuple)) else v


def _load_state(model, state, path, name):
    if not isinstance(state, dict):
        raise EdgeadaptError(f"{path}: state_dict is not a mapping")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        what = f"missing '{missing[0]}'" if missing else f"unexpected '{unexpected[0]}'"
        raise EdgeadaptError(f"{path}: weights do not belong to model '{name}' ({what})")
    for key, tensor in own.items():
        theirs = state[key]
        if not isinstance(theirs, torch.Tensor) or tuple(theirs.shape) != tuple(tensor.shape):
            shape = tuple(theirs.shape) if isinstance(theirs, torch.Tensor) else type(theirs).__name__
            raise EdgeadaptError(
                f"{path}: weights do not belong to model '{name}' ({key}: {shape} vs {tuple(tensor.shape)})"
            )
    model.load_state_dict(state)
