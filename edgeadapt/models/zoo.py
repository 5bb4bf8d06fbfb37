"""The shipped pair (`zoo:big`, `zoo:small`) and its manifest, edgeadapt/zoo/zoo.json.

The manifest is derived, never hand-written: `python -m edgeadapt.models.zoo` reads the two
checkpoints' training records and the registry's cost figures and writes it atomically.
"""

import json

from edgeadapt.errors import EdgeadaptError
from edgeadapt.models.checkpoint import ZOO_DIR, ZOO_NAMES, read_checkpoint
from edgeadapt.models.cost import summarize
from edgeadapt.models.registry import build_from_config, model_config
from edgeadapt.textio import write_json

MANIFEST = ZOO_DIR / "zoo.json"


def describe(key: str) -> dict:
    """One zoo entry: model, cost figures, the command that trained it and its metrics."""
    ckpt, path = read_checkpoint(f"zoo:{key}")
    train = ckpt.get("train", {})
    config = model_config(ckpt["model"], outputs=ckpt["config"].get("outputs", 4))
    cost = summarize(build_from_config(config), config["input"])  # with the aux row, if any
    return {
        "file": path.name,
        "model": ckpt["model"],
        "outputs": ckpt["config"].get("outputs", 4),
        "input": list(config["input"]),
        "params": cost["params"],
        "macs": cost["macs"],
        "weight_bytes": cost["weight_bytes"],
        "max_layer_bytes": cost["max_layer_bytes"],
        "command": train.get("command"),
        "init_command": train.get("init_command"),
        "data": train.get("data"),
        "seed": train.get("seed"),
        "epochs_run": train.get("epochs_run"),
        "best_epoch": train.get("best_epoch"),
        "seconds": train.get("seconds"),
        "val": train.get("val"),
        "test": train.get("test"),
        "aux": train.get("aux"),
    }


def write_manifest() -> dict:
    entries = {key: describe(key) for key in ZOO_NAMES}
    big, small = entries["big"], entries["small"]
    manifest = {
        "format": "edgeadapt-zoo",
        "version": 1,
        "models": entries,
        "pair": {
            "weight_bytes": big["weight_bytes"] + small["weight_bytes"],
            "max_layer_bytes": max(big["max_layer_bytes"], small["max_layer_bytes"]),
            "mac_ratio": round(big["macs"] / small["macs"], 3),
            "test_mae_sum": {"big": big["test"]["mae"]["sum"], "small": small["test"]["mae"]["sum"]},
        },
    }
    write_json(MANIFEST, manifest)
    return manifest


def read_manifest() -> dict:
    try:
        return json.loads(MANIFEST.read_text())
    except FileNotFoundError:
        raise EdgeadaptError(f"zoo manifest missing: {MANIFEST.name}") from None
    except json.JSONDecodeError as exc:
        raise EdgeadaptError(f"{MANIFEST.name}: corrupt JSON (line {exc.lineno})") from None


if __name__ == "__main__":
    m = write_manifest()
    print(json.dumps(m["pair"], indent=2))
