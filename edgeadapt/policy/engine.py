"""The switching state machine: firmware/policy/ea_policy.c line for line, in Python integers."""

from edgeadapt.errors import EdgeadaptError
from edgeadapt.policy.intconfig import IntPolicyConfig, partition_cell, quantize_policy

SMALL, BIG = 0, 1
RUN_BOTH = 2  # a frame run on small, then re-run on big (EA_RUN_BOTH)
_ALWAYS_SMALL, _ALWAYS_BIG, _RANDOM, _TEMPORAL, _AUX, _PARTITION = range(6)
_MASK32 = 0xFFFFFFFF


def xorshift32(state: int) -> int:
    """One step of Marsaglia's xorshift32 (13, 17, 5) on a uint32."""
    x = state
    x ^= (x << 13) & _MASK32
    x ^= x >> 17
    x ^= (x << 5) & _MASK32
    return x


class Policy:
    """Decides, run by run, which model runs next.

    reset() starts a sequence and returns the first frame's model; decide_next(model_used,
    int_outputs) takes the raw int32 outputs of the run just made and returns the next run's model.
    After decide_next, `rerun` is True when that next run is the same frame again (on big).
    """

    def __init__(self, config, output_fl_small=None, output_fl_big=None):
        if isinstance(config, IntPolicyConfig):
            self.config = config
        else:
            if output_fl_small is None:
                raise EdgeadaptError("policy: the small model's output FLs are needed to apply a float config")
            self.config = quantize_policy(config, output_fl_small, output_fl_big)
        self.reset()

    def reset(self) -> int:
        c = self.config
        self.prev = [0] * c.num_channels
        self.have_prev = False
        self.big_left = 0
        self.rng = c.seed or 1
        self.rerun = False
        if c.kind == _ALWAYS_BIG:
            self.next_model = BIG
        elif c.kind == _RANDOM:
            self.next_model = self._draw()
        else:
            self.next_model = SMALL
        return self.next_model

    def distance(self, a, b) -> int:
        """Temporal distance sum_c W_c |a_c - b_c| (exact; bounded below 2^63 by the config check)."""
        return sum(w * abs(int(x) - int(y)) for w, x, y in zip(self.config.weight, a, b))

    def decide_next(self, model_used, int_outputs) -> int:
        c = self.config
        self.rerun = False
        if c.kind in (_ALWAYS_SMALL, _ALWAYS_BIG):
            self.next_model = SMALL if c.kind == _ALWAYS_SMALL else BIG
            return self.next_model
        if c.kind == _RANDOM:
            self.next_model = self._draw()
            return self.next_model
        if c.kind == _PARTITION:  # the output of whichever model ran picks the next model
            self.next_model = BIG if self.config.part_mask >> partition_cell(c, model_used, int_outputs) & 1 else SMALL
            return self.next_model
        if model_used == SMALL and self._small_triggers(int_outputs):
            self.big_left = c.k
            if c.rerun:
                self.rerun = True
                self.next_model = BIG
                return self.next_model
        if self.big_left > 0:
            self.big_left -= 1
            self.next_model = BIG
        else:
            self.next_model = SMALL
        return self.next_model

    def _draw(self) -> int:
        self.rng = xorshift32(self.rng)
        return BIG if (self.rng >> 8) < self.config.p_big else SMALL

    def _small_triggers(self, out) -> bool:
        c = self.config
        if c.kind == _TEMPORAL:
            current = [int(v) for v in out[: c.num_channels]]
            trigger = self.have_prev and self.distance(current, self.prev) > c.threshold
            self.prev = current
            self.have_prev = True
            return trigger
        return int(out[c.aux_index]) > c.aux_threshold
