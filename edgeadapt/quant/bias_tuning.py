"""Global statistics tuning: BN re-estimation and bias correction on a folded, quantized layer.

BatchNorm is folded into the convolutions at import, so "re-estimating BN statistics" (CalibTIP)
means: per output channel, compare the spread (std) and the mean of the quantized layer's
pre-activation output, fed by the quantized prefix, with the float network's pre-activation
output, then rescale the channel's weight codes by sigma_float / sigma_quant and move its bias so
the means agree (the mean shift alone is the empirical bias correction of Nagel et al.). Both act
before the ReLU, where the float and quantized distributions are comparable.

A channel keeps the change only if its post-activation MSE against the float target drops on the
calibration frames; channels are independent (each has its own weights and bias), so the choice is
made per channel.
"""

import numpy as np
import torch

from edgeadapt.quant.intops import output_is_unsigned, weight_range
from edgeadapt.quant.qsim import accumulate, linear_op, requant

MIN_RESCALE = 0.002  # below this relative std mismatch the weights are left alone


def _channel_stats(y):
    dims = [0] + list(range(2, y.dim()))
    y = y.double()
    return y.mean(dim=dims), y.std(dim=dims)


def _per_channel_mse(y, target):
    dims = [0] + list(range(2, y.dim()))
    return ((y.float() - target.float()) ** 2).double().mean(dim=dims)


def tune_statistics(node, x_q, fl_in, fl_out, x_float, target, unsigned=None):
    """Rescale and re-bias node's channels in place; returns the number of channels changed.

    unsigned: the output is uint8 (default: decided by the node's activation)."""
    if unsigned is None:
        unsigned = output_is_unsigned(node.op, node.act, [False])
    with torch.no_grad():
        w = torch.as_tensor(node.weight, dtype=torch.float32)
        b = None if node.bias is None else torch.as_tensor(node.bias, dtype=torch.float32)
        pre_float = linear_op(node, x_float.float(), w, b)
        mu_f, sd_f = _channel_stats(pre_float)
        del pre_float

        old_w, old_b = node.qweight.copy(), node.qbias.copy()
        pre_q = accumulate(node, x_q, fl_in)
        mu_q, sd_q = _channel_stats(pre_q)
        old_out = _output(node, pre_q, fl_out, unsigned)
        del pre_q

        lo, hi = weight_range(node.weight_bits)
        ratio = (sd_f / torch.clamp(sd_q, min=1e-30)).numpy()
        ratio = np.where((sd_q.numpy() > 0) & (np.abs(ratio - 1) > MIN_RESCALE), ratio, 1.0)
        shape = (-1,) + (1,) * (old_w.ndim - 1)
        node.qweight = np.clip(np.floor(old_w * ratio.reshape(shape) + 0.5), lo, hi).astype(np.int8)
        acc_scale = np.exp2(fl_in + node.weight_fl.astype(np.float64))
        # re-centre: the rescaled channel's mean is mu_q * ratio (up to rounding), make it mu_f
        node.qbias = np.floor(old_b * ratio + (mu_f.numpy() - mu_q.numpy() * ratio) * acc_scale + 0.5).astype(np.int64)

        new_out = _output(node, accumulate(node, x_q, fl_in), fl_out, unsigned)
        better = (_per_channel_mse(new_out, target) < _per_channel_mse(old_out, target)).numpy()
        node.qweight = np.where(better.reshape(shape), node.qweight, old_w).astype(np.int8)
        node.qbias = np.where(better, node.qbias, old_b).astype(np.int64)
        return int(better.sum())


def _output(node, acc_real, fl_out, unsigned):
    if fl_out is None:
        return acc_real
    return requant(acc_real, fl_out, node.act, unsigned)
