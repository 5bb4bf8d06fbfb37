"""Float execution of the IR in torch, with trainable parameters.

`GraphModule(graph)` is an nn.Module running the graph on NHWC float tensors. Conv / fc weights
and biases are Parameters in the IR's layout (OHWI, [C_out, K]) so gradients line up with the
graph's arrays; `write_back()` copies them into the graph's float weights. Inside, activations are
NCHW (torch's fast path); `flatten` and `fc` read HWC order, the order of the IR's fc weights.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgeadapt.errors import EdgeadaptError


def _act(y, act):
    if act == "relu":
        return torch.relu(y)
    if act == "relu6":
        return torch.clamp(y, 0.0, 6.0)
    return y


def nchw_to_hwc_flat(x):
    return x.permute(0, 2, 3, 1).reshape(len(x), -1) if x.dim() == 4 else x


class GraphModule(nn.Module):
    def __init__(self, graph, dtype=torch.float32):
        super().__init__()
        self.graph = graph
        self.weights = nn.ParameterDict()
        self.biases = nn.ParameterDict()
        for node in graph.nodes:
            if node.has_weights:
                self.weights[node.name] = nn.Parameter(torch.tensor(np.asarray(node.weight), dtype=dtype))
                bias = node.bias if node.bias is not None else np.zeros(len(node.weight))
                self.biases[node.name] = nn.Parameter(torch.tensor(np.asarray(bias), dtype=dtype))

    def forward(self, x, collect=False):
        """x: (N, H, W, C) or (N, H, W) float. Returns the outputs as (N, n_out) tensors (one tensor
        if the graph has one output) and, with collect=True, also {tensor: (N, H, W, C) activation}."""
        if x.dim() == 3:
            x = x.unsqueeze(-1)
        values = {self.graph.input: x.permute(0, 3, 1, 2)}
        for node in self.graph.nodes:
            values[node.output] = self.run_node(node, [values[n] for n in node.inputs])
        outs = [values[name].reshape(len(x), -1) if values[name].dim() == 2 else
                nchw_to_hwc_flat(values[name]) for name in self.graph.outputs]
        result = outs[0] if len(outs) == 1 else tuple(outs)
        if not collect:
            return result
        return result, {name: self.to_hwc(name, v) for name, v in values.items()}

    def to_hwc(self, tensor_name, value):
        """An internal activation (NCHW or flat) as (N, H, W, C) in the graph's tensor shape."""
        if value.dim() == 4:
            return value.permute(0, 2, 3, 1)
        return value.reshape(len(value), *self.graph.tensors[tensor_name].shape)

    def run_node(self, node, inputs):
        """One node on NCHW (or flat (N, K)) float tensors."""
        x = inputs[0]
        a = node.attrs
        if node.op == "conv":
            w = self.weights[node.name].permute(0, 3, 1, 2)
            x = _pad(x, a.get("pads", (0, 0, 0, 0)), 0.0)
            y = F.conv2d(x, w, self.biases[node.name], stride=tuple(a.get("stride", (1, 1))),
                         groups=a.get("groups", 1))
            return _act(y, node.act)
        if node.op == "fc":
            return _act(F.linear(nchw_to_hwc_flat(x), self.weights[node.name], self.biases[node.name]), node.act)
        if node.op == "maxpool":
            x = _pad(x, a.get("pads", (0, 0, 0, 0)), float("-inf"))
            return F.max_pool2d(x, tuple(a["kernel"]), tuple(a.get("stride", a["kernel"])))
        if node.op == "avgpool":
            x = _pad(x, a.get("pads", (0, 0, 0, 0)), 0.0)  # count_include_pad: zeros count
            return _act(F.avg_pool2d(x, tuple(a["kernel"]), tuple(a.get("stride", a["kernel"]))), node.act)
        if node.op == "gap":
            return _act(x.mean(dim=(2, 3), keepdim=True), node.act)
        if node.op == "add":
            return _act(inputs[0] + inputs[1], node.act)
        if node.op == "concat":
            return torch.cat(inputs, dim=1)
        if node.op == "flatten":
            return nchw_to_hwc_flat(x)
        raise EdgeadaptError(f"node {node.name}: unsupported op '{node.op}'")

    @torch.no_grad()
    def write_back(self):
        """Copy the (fine-tuned) parameters into the graph's float weight / bias arrays."""
        for node in self.graph.nodes:
            if node.has_weights:
                node.weight = self.weights[node.name].detach().cpu().numpy().astype(np.float32)
                node.bias = self.biases[node.name].detach().cpu().numpy().astype(np.float32)


def _pad(x, pads, value):
    top, left, bottom, right = pads
    if not any(pads):
        return x
    return F.pad(x, (left, right, top, bottom), value=value)
