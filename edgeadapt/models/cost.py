"""Static cost of a model: MACs, parameters, int8 weight bytes and per-layer activation bytes.

MAC convention (used everywhere in edgeadapt): multiply-accumulates of convolutions and fully
connected layers only; BN, ReLU and pooling are free (BN folds into the conv, the rest are
compares). Activation bytes are what the deployed graph holds: int8, HWC, no batch, one byte per
element; BN and ReLU fuse into the conv before them, and a conv whose output goes straight into a
max pool is one layer (docs/fixed-point.md 4.3), so only the pooled map is stored. The last fully
connected layer writes int32 (D5): 4 bytes per output.
"""

from dataclasses import dataclass

import torch
from torch import nn

COUNTED = (nn.Conv2d, nn.Linear)
LAYER_TYPES = (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)


@dataclass
class LayerCost:
    name: str  # module name; "conv+pool" names for fused pairs
    kind: str  # "conv", "dwconv", "fc", "maxpool", "avgpool"
    in_bytes: int
    out_bytes: int
    macs: int
    weights: int  # conv/fc weight elements (= int8 bytes at 8 bits)

    @property
    def act_bytes(self) -> int:
        return self.in_bytes + self.out_bytes


def layer_costs(model: nn.Module, input_hw) -> list[LayerCost]:
    """Run one dummy frame through the model and return its deployed layers in execution order."""
    records = []

    def hook(module, inputs, output):
        records.append((module, int(inputs[0][0].numel()), int(output[0].numel()), output.shape))

    names = {m: n for n, m in model.named_modules()}
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, LAYER_TYPES)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 1, *input_hw))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()

    layers = []
    for module, n_in, n_out, shape in records:
        kind, macs, weights = _describe(module, n_out, shape)
        prev = layers[-1] if layers else None
        if kind == "maxpool" and prev is not None and prev.kind in ("conv", "dwconv"):
            # fused conv + max pool: the conv's full output is never stored
            prev.name = f"{prev.name}+{names[module]}"
            prev.out_bytes = n_out
            continue
        layers.append(LayerCost(names[module], kind, n_in, n_out, macs, weights))
    if layers and layers[-1].kind == "fc":
        layers[-1].out_bytes *= 4  # the network output is raw int32 accumulators (D5)
    return layers


def _describe(module, n_out, shape):
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        per_output = kh * kw * module.in_channels // module.groups
        kind = "dwconv" if module.groups > 1 else "conv"
        return kind, n_out * per_output, module.weight.numel()
    if isinstance(module, nn.Linear):
        return "fc", module.in_features * module.out_features, module.weight.numel()
    if isinstance(module, nn.MaxPool2d):
        return "maxpool", 0, 0
    return "avgpool", 0, 0


def count_macs(model: nn.Module, input_hw) -> int:
    return sum(layer.macs for layer in layer_costs(model, input_hw))


def count_params(model: nn.Module) -> int:
    """Trainable parameters, BN included (the figure torchsummary and the papers quote)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def summarize(model: nn.Module, input_hw) -> dict:
    layers = layer_costs(model, input_hw)
    worst = max(layers, key=lambda layer: layer.act_bytes)
    return {
        "macs": sum(layer.macs for layer in layers),
        "params": count_params(model),
        "weight_bytes": sum(layer.weights for layer in layers),
        "max_layer_bytes": worst.act_bytes,
        "max_layer": worst.name,
    }
