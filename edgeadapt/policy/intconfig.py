"""The integer form of a policy config: what the device runs (ea_policy_config_t).

All float-to-integer conversion happens here, once, with exact rational arithmetic and the one
rounding rule of docs/fixed-point.md (round half up), so C and Python agree bit for bit.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from edgeadapt.errors import EdgeadaptError
from edgeadapt.policy.config import KINDS, PART_RADIX, PolicyConfig, load_policy_config

MAX_WEIGHT = 2**27  # EA_POLICY_MAX_WEIGHT: 8 channels * 2^27 * 2^32 stays below 2^63
ONE_Q24 = 2**24
MIN_SCALE_BITS = 24
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class IntPolicyConfig:
    """Field for field the C struct ea_policy_config_t (firmware/policy/ea_policy.h)."""

    kind: int  # index into KINDS
    num_channels: int = 0
    weight: tuple = ()  # W_c, len == num_channels
    threshold: int = 0  # temporal T
    aux_index: int = 0
    aux_threshold: int = 0  # aux A, in the aux output's FL
    k: int = 0
    rerun: int = 0
    seed: int = 1
    p_big: int = 0  # Q24
    part_n: int = 0  # partition: channels split
    part_channel: tuple = ()
    part_abs: int = 0  # bit i: channel i is split on |value|
    part_ncut: tuple = ()
    part_cut: tuple = ()  # [model][channel] -> cut points, raw in that model's output FL
    part_mask: int = 0  # uint64: bit c set = cell c runs big next
    scale_bits: int = 0  # S of the temporal distance (documentation only; not on the device)

    @property
    def name(self) -> str:
        return KINDS[self.kind]


def round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def temporal_scale_bits(output_fl, num_channels) -> int:
    """S: the distance is in units of 2^-S, at least 8 bits finer than every weighed output."""
    return max(MIN_SCALE_BITS, max(int(f) for f in output_fl[:num_channels]) + 8)


def quantize_policy(config, output_fl_small, output_fl_big=None) -> IntPolicyConfig:
    """The IntPolicyConfig of a float config for a small model whose outputs have these FLs (and,
    for a partition, which reads whichever model ran, the big model's output FLs too)."""
    cfg = load_policy_config(config)
    fls = [int(f) for f in output_fl_small]
    if not fls:
        raise EdgeadaptError("policy: the small model has no outputs")
    kind = KINDS.index(cfg.policy)
    if cfg.policy in ("always-small", "always-big"):
        return IntPolicyConfig(kind=kind)
    if cfg.policy == "random":
        return IntPolicyConfig(kind=kind, seed=cfg.seed,
                               p_big=round_half_up(Fraction(cfg.p) * ONE_Q24))
    if cfg.policy == "temporal":
        return _quantize_temporal(cfg, kind, fls)
    if cfg.policy == "partition":
        if output_fl_big is None:
            raise EdgeadaptError("policy: a partition policy needs the big model's output FLs too")
        return _quantize_partition(cfg, kind, fls, [int(f) for f in output_fl_big])
    return _quantize_aux(cfg, kind, fls)


def partition_cut(cut, fl) -> int:
    """The raw threshold of a cut point: q > floor(cut * 2^FL) exactly when q * 2^-FL > cut."""
    raw = math.floor(Fraction(cut) * Fraction(2) ** fl)
    return min(max(raw, INT32_MIN), INT32_MAX)


def _quantize_partition(cfg: PolicyConfig, kind, fls_small, fls_big) -> IntPolicyConfig:
    for role, fls in (("small", fls_small), ("big", fls_big)):
        if max(cfg.channels) >= len(fls):
            raise EdgeadaptError(f"policy: partition channel {max(cfg.channels)} but the {role} model has "
                                 f"{len(fls)} outputs")
    cuts = tuple(tuple(tuple(partition_cut(x, fls[ch]) for x in c) for ch, c in zip(cfg.channels, cfg.cuts))
                 for fls in (fls_small, fls_big))
    mask = 0
    for cell in cfg.big_cells:
        mask |= 1 << cell
    return IntPolicyConfig(kind=kind, part_n=len(cfg.channels), part_channel=tuple(cfg.channels),
                           part_abs=sum(1 << i for i, a in enumerate(cfg.absolute) if a),
                           part_ncut=tuple(len(c) for c in cfg.cuts), part_cut=cuts, part_mask=mask)


def partition_cell(c: IntPolicyConfig, model: int, outputs) -> int:
    """The cell of raw outputs of `model` (0 small, 1 big): sum_i bin_i * 4^i, bin_i = how many of
    channel i's cut points its value (or |value|) exceeds."""
    cell = 0
    for i in range(c.part_n):
        v = int(outputs[c.part_channel[i]])
        if c.part_abs >> i & 1:
            v = abs(v)
        cell += sum(1 for t in c.part_cut[model][i] if v > t) * PART_RADIX**i
    return cell


def _quantize_temporal(cfg: PolicyConfig, kind, fls) -> IntPolicyConfig:
    n = len(cfg.weights)
    if n > len(fls):
        raise EdgeadaptError(f"policy: {n} temporal weights but the small model has only {len(fls)} outputs")
    s = temporal_scale_bits(fls, n)
    weights = []
    for c, (w, fl) in enumerate(zip(cfg.weights, fls)):
        q = round_half_up(Fraction(w) * Fraction(2) ** (s - fl))
        if q > MAX_WEIGHT:
            raise EdgeadaptError(f"policy: weight {w} on output {c} (FL {fl}) is too large: "
                                 f"{q} > 2^27 after scaling by 2^{s - fl}")
        if w > 0 and q == 0:
            raise EdgeadaptError(f"policy: weight {w} on output {c} (FL {fl}) rounds to 0")
        weights.append(q)
    t = round_half_up(Fraction(cfg.threshold) * Fraction(2) ** s)
    if not 0 <= t < 2**62:
        raise EdgeadaptError(f"policy: temporal threshold {cfg.threshold} must be in 0..2^{62 - s}")
    return IntPolicyConfig(kind=kind, num_channels=n, weight=tuple(weights), threshold=t, k=cfg.k,
                           rerun=int(cfg.rerun), scale_bits=s)


def _quantize_aux(cfg: PolicyConfig, kind, fls) -> IntPolicyConfig:
    index = len(fls) - 1 if cfg.aux_index is None else cfg.aux_index
    if index >= len(fls):
        raise EdgeadaptError(f"policy: aux_index {index} but the small model has {len(fls)} outputs")
    a = round_half_up(Fraction(cfg.threshold) * Fraction(2) ** fls[index])
    if not INT32_MIN <= a <= INT32_MAX:
        raise EdgeadaptError(f"policy: aux threshold {cfg.threshold} does not fit int32 at FL {fls[index]}")
    return IntPolicyConfig(kind=kind, aux_index=index, aux_threshold=a, k=cfg.k, rerun=int(cfg.rerun))
