"""Run a float IR graph on numpy arrays (inference only; see torch_exec for autograd)."""

import numpy as np
import torch

from edgeadapt.errors import EdgeadaptError
from edgeadapt.ir.torch_exec import GraphModule


def run_float(graph, x, collect=False, batch_size=256):
    """x: float (N, H, W, C) or (N, H, W) normalized input. Returns float32 outputs (N, n_out)
    (a list when the graph has several outputs) and, with collect=True, also a dict
    tensor name -> float32 (N, H, W, C) activations of every tensor."""
    module = GraphModule(graph).eval()
    x = np.asarray(x, dtype=np.float32)
    outs, acts = [], {}
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            result = module(torch.from_numpy(x[start : start + batch_size]), collect=collect)
            if collect:
                result, values = result
                for name, v in values.items():
                    acts.setdefault(name, []).append(v.numpy())
            outs.append(result if isinstance(result, tuple) else (result,))
    if not outs:
        raise EdgeadaptError(f"graph '{graph.name}': no input frames to run")
    outputs = [np.concatenate([o[i].numpy() for o in outs]) for i in range(len(graph.outputs))]
    outputs = outputs[0] if len(outputs) == 1 else outputs
    if not collect:
        return outputs
    return outputs, {name: np.concatenate(parts) for name, parts in acts.items()}
