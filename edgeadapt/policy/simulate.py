"""Replay a policy over precomputed outputs of both models, as the firmware's ea_app_step would."""

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.policy.engine import BIG, RUN_BOTH, SMALL, Policy


def simulate(config, small_int_outputs, big_int_outputs, output_fl, output_fl_big=None) -> list:
    """Models used per frame of one sequence: SMALL (0), BIG (1) or RUN_BOTH (2, small then big).

    small_int_outputs (N, n_small) and big_int_outputs (N, n_big) are the raw int32 outputs each
    model gives on every frame; output_fl are the small model's output FLs (output_fl_big the big
    model's, which a partition policy needs). The policy state starts
    fresh (one call = one sequence). A frame's final output is big's when the value is 1 or 2.
    """
    small = np.asarray(small_int_outputs, dtype=np.int64)
    big = np.asarray(big_int_outputs, dtype=np.int64)
    if small.ndim != 2 or big.ndim != 2 or len(small) != len(big):
        raise EdgeadaptError(f"simulate: expected (N, outputs) arrays of equal N, got shapes "
                             f"{small.shape} and {big.shape}")
    policy = Policy(config, output_fl, output_fl_big)
    small_rows, big_rows = small.tolist(), big.tolist()
    model = policy.reset()
    used = []
    for t in range(len(small_rows)):
        nxt = policy.decide_next(model, small_rows[t] if model == SMALL else big_rows[t])
        if policy.rerun:
            nxt = policy.decide_next(BIG, big_rows[t])
            used.append(RUN_BOTH)
        else:
            used.append(model)
        model = nxt
    return used
