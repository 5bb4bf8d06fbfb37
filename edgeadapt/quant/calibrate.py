"""Calibration: the float network's activations on the calibration frames, and activation formats.

Every tensor's float activations are kept (float32, NCHW) because the later steps need them as
targets: AdaQuant fits each layer's quantized output to them, bias correction compares channel
means against them, and the report's QSNR is measured against them.
"""

import numpy as np
import torch

from edgeadapt.quant import formats
from edgeadapt.quant.qsim import float_forward, images_to_input

# activation samples used for the MSE search of one tensor (a strided subset keeps it fast)
MAX_SAMPLES = 1 << 20
BATCH = 64


def calibration_frames(n_available: int, n_wanted: int) -> np.ndarray:
    """Indices of n_wanted frames spread evenly over a split (consecutive frames are near copies)."""
    n = min(int(n_wanted), int(n_available))
    return np.unique(np.linspace(0, n_available - 1, n).round().astype(np.int64))


@torch.no_grad()
def float_activations(graph, images) -> dict:
    """tensor name -> float32 torch tensor over all frames (NCHW, or (N, K) after flatten/fc)."""
    x = images_to_input(images)
    acts = {graph.input: x}
    for node in graph.nodes:
        acts[node.output] = float_forward(node, [acts[t] for t in node.inputs]).float()
    return acts


def sample_values(t: torch.Tensor) -> np.ndarray:
    flat = t.reshape(-1)
    step = max(1, flat.numel() // MAX_SAMPLES)
    return flat[::step].double().numpy()


def choose_activation_fl(values: torch.Tensor, adapt: bool, unsigned: bool = False) -> int:
    """MSE-optimal power-of-two clipping (AdaPT formats on) or the no-clip FL (min/max only), over
    the int8 codes or, for a uint8 tensor (unsigned), the codes [0, 255]."""
    if adapt:
        return int(formats.activation_fl_mse(sample_values(values), unsigned=unsigned))
    return int(formats.activation_fl_minmax(float(values.max()), float(values.min()), unsigned))
