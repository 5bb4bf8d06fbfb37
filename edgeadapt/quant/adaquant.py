"""AdaQuant (Hubara et al.), sequential flavour, on the fixed-point grid of one layer.

The layer's input is the output of the already quantized prefix (cached on the calibration
frames), its target is the float network's activation at the layer's output. Weights live as
continuous codes v (in units of the channel's LSB 2^-FL_w), rounded half up with a straight-through
estimator and saturated to the bit width; the bias is a real value rounded to the accumulator's
LSB the same way. Adam minimizes the output MSE after saturation and the fused activation.

Two guards keep a few hundred frames from overfitting a large layer (the final FC has far more
weights than calibration outputs): every code stays within one step of its float value (AdaRound's
up-or-down choice, plus one), and the result is kept only if it beats nearest rounding on
held-out frames.
"""

import numpy as np
import torch

from edgeadapt.quant.intops import act_range, output_is_unsigned, weight_range
from edgeadapt.quant.qsim import linear_op

DEFAULT_ITERATIONS = 150
DEFAULT_BATCH = 16
# forward multiply-accumulates one layer's optimization may spend (iterations x batch x MACs per
# frame): layers with large feature maps get smaller batches, so the time per layer stays bounded
MAC_BUDGET = 6e8
LR_CODES = 0.01  # Adam step on the weight codes, in LSBs
LR_BIAS = 0.05  # Adam step on the bias, in output LSBs
HOLDOUT_FRACTION = 0.125
MAX_MOVE = 1.0  # codes stay within this many LSBs of their float value


def ste_round(v):
    """Round half up forward, identity backward."""
    return v + (torch.floor(v + 0.5) - v).detach()


def _channel_shape(ndim):
    return (-1,) + (1,) * (ndim - 1)


class LayerProblem:
    """Everything needed to evaluate one layer's quantized output against its float target."""

    def __init__(self, node, x_q, fl_in, fl_out, target, unsigned=None):
        self.node = node
        # the output's code range: uint8 after a fused ReLU / ReLU6 (docs/fixed-point.md 1.3)
        if unsigned is None:
            unsigned = output_is_unsigned(node.op, node.act, [False])
        self.code_lo, self.code_hi = act_range(unsigned)
        self.x = x_q.float()
        self.target = target.float()
        self.fl_in = fl_in
        self.fl_out = fl_out
        self.raw_out = fl_out is None  # final FC: raw int32 accumulators, no saturation
        dims = [0] + list(range(2, self.target.dim()))
        if self.raw_out:
            # outputs of very different scales (x in m, phi in rad): weigh each by 1/variance
            var = self.target.var(dim=dims) if len(self.target) > 1 else torch.ones(self.target.shape[1])
            self.weights = 1.0 / torch.clamp(var, min=1e-12)
        else:
            self.weights = torch.ones(self.target.shape[1])
        self.dims = dims

    def output(self, x, w_real, b_real):
        y = linear_op(self.node, x, w_real, b_real)
        if self.raw_out:
            return y
        lsb = 2.0**-self.fl_out
        y = torch.clamp(y, self.code_lo * lsb, self.code_hi * lsb)
        if self.node.act == "relu":
            y = torch.relu(y)
        elif self.node.act == "relu6":
            y = torch.clamp(y, 0.0, 6.0)
        return y

    def loss(self, y, target):
        per_channel = ((y - target) ** 2).mean(dim=self.dims)
        return (per_channel * self.weights).sum() / self.weights.sum()


def optimize_layer(node, x_q, fl_in, fl_out, target, iterations=DEFAULT_ITERATIONS, batch=DEFAULT_BATCH, seed=0,
                   unsigned=None):
    """Fit node.qweight / node.qbias (weight_fl fixed) by AdaQuant; returns (before, after) held-out loss.

    x_q: the quantized prefix's output (real values), target: the float layer output, both over
    the calibration frames. fl_out is None for a raw int32 output. unsigned: the output is uint8
    (default: decided by the node's activation, docs/fixed-point.md section 1.3).
    """
    problem = LayerProblem(node, x_q, fl_in, fl_out, target, unsigned)
    n = len(problem.x)
    n_hold = max(1, int(round(n * HOLDOUT_FRACTION))) if n > 1 else 0
    train_idx = np.arange(n - n_hold) if n_hold else np.arange(n)
    hold = slice(n - n_hold, n) if n_hold else slice(0, n)

    lo, hi = weight_range(node.weight_bits)
    ndim = node.weight.ndim
    fl_w = torch.as_tensor(node.weight_fl.astype(np.float64))
    w_lsb = torch.exp2(-fl_w).float().reshape(_channel_shape(ndim))
    acc_lsb = torch.exp2(-(fl_w + fl_in)).float()

    start_codes = torch.as_tensor(node.weight, dtype=torch.float32) / w_lsb
    codes = start_codes.clone().requires_grad_(True)
    floor_codes = torch.clamp(start_codes - MAX_MOVE, lo, hi)
    ceil_codes = torch.clamp(start_codes + MAX_MOVE, lo, hi)
    bias0 = torch.as_tensor(node.bias if node.bias is not None else np.zeros(len(node.weight)), dtype=torch.float32)
    # the bias is learned in output LSBs (for a raw output: 1/64 of its spread, an int8-like LSB),
    # so one Adam step moves it by about LR_BIAS of those
    if problem.raw_out:
        out_lsb = torch.clamp(problem.target.std(dim=problem.dims), min=1e-12) / 64.0
    else:
        out_lsb = torch.full_like(bias0, 2.0**-fl_out)
    bias_units = (bias0 / out_lsb).clone().requires_grad_(True)

    def realize(c, b_units):
        w = torch.clamp(ste_round(c), lo, hi) * w_lsb
        return w, ste_round(b_units * out_lsb / acc_lsb) * acc_lsb

    with torch.no_grad():
        before = float(problem.loss(problem.output(problem.x[hold], *realize(start_codes, bias0 / out_lsb)), problem.target[hold]))

    macs_per_frame = problem.target[0].numel() * int(np.prod(node.weight.shape[1:]))
    batch = int(np.clip(MAC_BUDGET / max(1, int(iterations) * macs_per_frame), 2, batch))
    optimizer = torch.optim.Adam([{"params": [codes], "lr": LR_CODES}, {"params": [bias_units], "lr": LR_BIAS}])
    generator = torch.Generator().manual_seed(int(seed))
    for _ in range(int(iterations)):
        pick = torch.as_tensor(train_idx)[torch.randint(len(train_idx), (min(batch, len(train_idx)),), generator=generator)]
        optimizer.zero_grad()
        loss = problem.loss(problem.output(problem.x[pick], *realize(codes, bias_units)), problem.target[pick])
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            codes.copy_(torch.maximum(torch.minimum(codes, ceil_codes), floor_codes))

    with torch.no_grad():
        after = float(problem.loss(problem.output(problem.x[hold], *realize(codes, bias_units)), problem.target[hold]))
        if after < before:
            node.qweight = torch.clamp(torch.floor(codes + 0.5), lo, hi).numpy().astype(np.int8)
            acc = (bias_units * out_lsb / acc_lsb).double().numpy()
            node.qbias = np.floor(acc + 0.5).astype(np.int64)
    return before, min(before, after)
