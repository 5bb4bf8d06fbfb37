"""manifest.json: what the exported model(s) cost, per layer and against the target's memories.

Byte conventions: a model's `weight_bytes` are its packed weight rows plus 4 bytes of bias and 1
byte of shift per output channel (as the quantizer's cost model counts them); `flash_bytes` is
the const data of every model (their weight bytes and output-format tables) in the target's
weight memory; `ram_bytes` is the shared activation arena. `models` has the roles big and small
(a pair) or the one role "model" (a single-model export, `policy` null). Code, stacks and I/O buffers are the
`reserved` bytes of each memory in the target description.
"""

from edgeadapt.codegen.emit_c import conv_macs
from edgeadapt.codegen.kernels import kernel_name
from edgeadapt.codegen.memory import INPUT_BUFFER, scratch_name, tensor_bytes
from edgeadapt.errors import EdgeadaptError
from edgeadapt.quant.costmodel import layer_weight_bytes

MANIFEST_VERSION = 1


def layer_table(model_plan) -> list:
    """One row per runtime layer: what it computes, its cost and where its buffers are."""
    g = model_plan.graph
    rows = []
    for layer in model_plan.layers:
        node = layer.main
        weighted = node.op in ("conv", "fc")
        inputs = [INPUT_BUFFER if t == g.input else t for t in layer.inputs]
        per_core = model_plan.scratch[layer.index]
        rows.append(
            {
                "index": layer.index,
                "name": layer.name,
                "kind": layer.kind,
                "kernel": kernel_name(g, layer),
                "nodes": [n.name for n in layer.nodes],
                "inputs": inputs,
                "output": layer.output,
                "input_shapes": [list(g.tensors[t].shape) for t in layer.inputs],
                "output_shape": list(g.tensors[layer.output].shape),
                "output_dtype": g.tensors[layer.output].dtype,
                "output_fl": _fl_json(g.tensors[layer.output].fl),
                "weight_bits": node.weight_bits if weighted else None,
                "macs": conv_macs(g, layer),
                "weight_bytes": layer_weight_bytes(node, node.weight_bits) if weighted else 0,
                "output_bytes": tensor_bytes(g, layer.output),
                "scratch_bytes": per_core * model_plan.num_cores,
                "input_offsets": [model_plan.offset(t) for t in inputs],
                "output_offset": model_plan.offset(layer.output),
                "scratch_offset": model_plan.offset(scratch_name(layer)) if per_core else None,
            }
        )
    return rows


def _fl_json(fl):
    """A tensor's FL for JSON: one int, or a per-channel list for raw int32 outputs."""
    if isinstance(fl, (list, tuple)) or hasattr(fl, "tolist"):
        return [int(f) for f in list(fl)]
    return int(fl)


def model_entry(model_plan, output_fl: list, source: dict | None) -> dict:
    layers = layer_table(model_plan)
    g = model_plan.graph
    return {
        "name": g.name,
        "macs": sum(r["macs"] for r in layers),
        "weight_bytes": sum(r["weight_bytes"] for r in layers),
        "arena_bytes": model_plan.arena_bytes,
        "plan": model_plan.plan.strategy,
        "num_layers": len(layers),
        "num_outputs": len(output_fl),
        "output_fl": output_fl,
        "input_shape": list(g.tensors[g.input].shape),
        "source": source,
        "layers": layers,
    }


def memory_usage(target: dict, weight_bytes_total: int, arena_bytes: int) -> dict:
    """name -> {size, reserved, used, free}: `used` counts reserved bytes + what we place there."""
    placed = {name: 0 for name in target["memories"]}
    placed[target["placement"]["weights"]] += weight_bytes_total
    placed[target["placement"]["arena"]] += arena_bytes
    usage = {}
    for name, memory in target["memories"].items():
        used = memory["reserved"] + placed[name]
        usage[name] = {
            "size": memory["size"],
            "reserved": memory["reserved"],
            "placed": placed[name],
            "used": used,
            "free": memory["size"] - used,
        }
    return usage


def check_fit(target: dict, usage: dict, what: str = "model pair") -> None:
    """Raise naming the first memory that overflows, its need and the overflow in bytes."""
    for name, u in usage.items():
        if u["used"] > u["size"]:
            raise EdgeadaptError(
                f"{what} does not fit target '{target['name']}': memory '{name}' needs {u['used']:,} B "
                f"({u['placed']:,} B of models + {u['reserved']:,} B reserved) of {u['size']:,} B, "
                f"overflow {u['used'] - u['size']:,} B"
            )


def build_manifest(target: dict, plans: dict, output_fls: dict, sources: dict, files: list, policy: str) -> dict:
    models = {role: model_entry(plans[role], output_fls[role], sources.get(role)) for role in plans}
    arena = max(p.arena_bytes for p in plans.values())
    flash = sum(m["weight_bytes"] + m["num_outputs"] for m in models.values())
    usage = memory_usage(target, flash, arena)
    return {
        "version": MANIFEST_VERSION,
        "target": target["name"],
        "num_cores": target["num_cores"],
        "input_shape": next(iter(models.values()))["input_shape"],
        "models": models,
        "arena_bytes": arena,
        "flash_bytes": flash,
        "ram_bytes": arena,
        "memories": usage,
        "placement": dict(target["placement"]),
        "policy": policy,
        "files": sorted(files),
    }
