"""The policy sweep: every switching policy over a parameter grid, simulated on recorded outputs.

Both models' integer outputs on every frame are computed once (the integer reference, bit-exact
with the device); a policy is then replayed with edgeadapt.policy.simulate, one call per
sequence (the device resets its policy at every sequence start too). A policy's figures:

- MAE: of the outputs of whichever model ran on each frame (big's after a rerun), dequantized
  exactly (q * 2^-FL in float64) against the labels, per output and summed;
- cycles: mean over frames of the chosen model's cycles on that frame (small + big after a
  rerun) plus the decision's overhead, from a cycle model (per model, constant or per frame);
- big share: the fraction of frames on which the big model ran.

The grid covers temporal-consistency policies (threshold x K x weight preset x rerun), auxiliary-
output policies on each extra output of the small model (the switching logit, the predicted own
error), output-based partitions fitted on the sweep's own frames (cells of predicted distance,
|lateral offset| and |yaw|, ranked by the big model's mean gain on the frame that follows), and
always-small / always-big; random policies (p grid, fixed seed) and the oracle at equal big share
are baselines, not candidates.
The paper's three figures are measured against always-big: the latency cut at its MAE, the MAE
change at its latency, and the best MAE.
"""

from dataclasses import dataclass, field

import numpy as np

from edgeadapt.errors import EdgeadaptError
from edgeadapt.policy.config import PolicyConfig, validate_policy_config
from edgeadapt.policy.engine import BIG, RUN_BOTH, SMALL
from edgeadapt.policy.simulate import simulate

POSE = ("x", "y", "z", "phi")
ADAPTIVE = ("temporal", "aux", "partition")
# output-based partitions: (channels, absolute, quantiles of each channel's predicted values)
PARTITION_LAYOUTS = (
    ((3,), (True,), ((0.25, 0.5, 0.75),)),  # |yaw| alone
    ((0, 3), (False, True), ((1 / 3, 2 / 3), (1 / 3, 2 / 3))),  # distance x |yaw|
    ((0, 1, 3), (False, True, True), ((1 / 3, 2 / 3), (0.5,), (1 / 3, 2 / 3))),  # distance x |offset| x |yaw|
)
DEFAULT_K = (1, 2, 3, 5)
DEFAULT_QUANTILES = tuple(np.round(np.linspace(0.04, 0.96, 24), 4))
RANDOM_P = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))
RANDOM_SEED = 1
SELECT_RULES = ("iso-mae", "iso-latency", "best-mae", "latency-budget")


def dequantize(int_outputs, fls) -> np.ndarray:
    """Exact real values of raw outputs: q * 2^-FL per column, in float64 (no rounding at all)."""
    q = np.asarray(int_outputs, dtype=np.int64)
    return q.astype(np.float64) * np.exp2(-np.asarray(fls, dtype=np.float64))


def pose_mae(pred, labels) -> dict:
    """{x, y, z, phi, sum}: mean absolute error of the first four outputs against the labels."""
    err = np.abs(np.asarray(pred, dtype=np.float64)[:, :4] - np.asarray(labels, dtype=np.float64))
    mae = err.mean(axis=0)
    out = {name: float(v) for name, v in zip(POSE, mae)}
    out["sum"] = float(mae.sum())
    return out


@dataclass
class CycleModel:
    """Cycles of each model per frame (arrays of N, or one value each) and the decision overhead."""

    small: np.ndarray
    big: np.ndarray
    overhead: float = 0.0  # cycles of one policy decision
    source: str = ""
    clock_hz: float | None = None  # turns cycles into latency, when known

    def per_frame(self, used) -> np.ndarray:
        used = np.asarray(used)
        small = np.broadcast_to(np.asarray(self.small, dtype=np.float64), used.shape)
        big = np.broadcast_to(np.asarray(self.big, dtype=np.float64), used.shape)
        cycles = np.where(used == SMALL, small, big) + np.where(used == RUN_BOTH, small, 0.0)
        return cycles + self.overhead * np.where(used == RUN_BOTH, 2.0, 1.0)


@dataclass
class SweepData:
    """Everything a policy is replayed on: raw outputs of both models, labels, sequences, cycles."""

    small_int: np.ndarray  # (N, n_small) raw int32 outputs
    big_int: np.ndarray  # (N, n_big)
    small_fl: list
    big_fl: list
    labels: np.ndarray  # (N, 4)
    sequences: list  # index arrays of the contiguous sequences, in order
    cycles: CycleModel
    small_pred: np.ndarray = field(init=False)
    big_pred: np.ndarray = field(init=False)

    def __post_init__(self):
        self.small_int = np.asarray(self.small_int, dtype=np.int64)
        self.big_int = np.asarray(self.big_int, dtype=np.int64)
        n = len(self.labels)
        if self.small_int.shape[0] != n or self.big_int.shape[0] != n or n == 0:
            raise EdgeadaptError(f"sweep: outputs for {len(self.small_int)} and {len(self.big_int)} frames, "
                                 f"labels for {n}")
        if self.small_int.shape[1] < 4 or self.big_int.shape[1] < 4:
            raise EdgeadaptError("sweep: both models need at least the 4 pose outputs")
        if sum(len(s) for s in self.sequences) != n:
            raise EdgeadaptError("sweep: the sequences do not cover every frame exactly once")
        self.small_pred = dequantize(self.small_int, self.small_fl)
        self.big_pred = dequantize(self.big_int, self.big_fl)

    def __len__(self):
        return len(self.labels)


@dataclass
class PolicyPoint:
    config: PolicyConfig
    used: np.ndarray  # per frame: 0 small, 1 big, 2 small then big
    mae: dict
    cycles_mean: float
    kind: str = ""  # "candidate", "random", "oracle"

    @property
    def big_share(self) -> float:
        return float(np.mean(self.used != SMALL))

    @property
    def mae_sum(self) -> float:
        return self.mae["sum"]

    def to_dict(self, clock_hz=None) -> dict:
        params = {k: v for k, v in self.config.to_dict().items() if k not in ("policy", "meta")}
        name = self.config.policy
        if self.kind == "oracle":
            name, params = "oracle", {"share": self.config.meta.get("oracle_share")}
        if "preset" in self.config.meta:
            params["preset"] = self.config.meta["preset"]
        out = {"policy": name, "params": params, "big_share": self.big_share,
               "mae_sum": self.mae_sum, "mae": dict(self.mae), "cycles_mean": self.cycles_mean}
        out["latency_ms"] = self.cycles_mean / clock_hz * 1e3 if clock_hz else None
        return out


def evaluate(config, data: SweepData, kind="candidate") -> PolicyPoint:
    """Replay one policy over every sequence and measure it."""
    config = config if isinstance(config, PolicyConfig) else validate_policy_config(config)
    used = np.concatenate([np.asarray(simulate(config, data.small_int[idx], data.big_int[idx], data.small_fl,
                                               data.big_fl), dtype=np.int64) for idx in data.sequences])
    return point_from_usage(config, used, data, kind)


def point_from_usage(config, used, data: SweepData, kind="candidate") -> PolicyPoint:
    final_big = np.asarray(used) != SMALL
    pred = np.where(final_big[:, None], data.big_pred[:, :4], data.small_pred[:, :4])
    cycles = float(np.mean(data.cycles.per_frame(used)))
    return PolicyPoint(config, np.asarray(used), pose_mae(pred, data.labels), cycles, kind)


# ------------------------------------------------------------------ the grid


def consecutive_distances(data: SweepData, weights) -> np.ndarray:
    """sum_c w_c |s_t,c - s_t-1,c| of the small model's real outputs, within sequences."""
    w = np.asarray(weights, dtype=np.float64)
    parts = []
    for idx in data.sequences:
        s = data.small_pred[idx][:, : len(w)]
        if len(s) > 1:
            parts.append(np.abs(np.diff(s, axis=0)) @ w)
    return np.concatenate(parts) if parts else np.zeros(0)


def weight_presets(data: SweepData) -> dict:
    """Uniform over the pose; position only; each output scaled by 1/std (equal say per output)."""
    std = data.small_pred[:, :4].std(axis=0)
    scaled = np.where(std > 0, 1.0 / np.maximum(std, 1e-12), 0.0)
    scaled = scaled / scaled[scaled > 0].min() if np.any(scaled > 0) else np.ones(4)
    return {"uniform": [1.0, 1.0, 1.0, 1.0], "position": [1.0, 1.0, 1.0, 0.0],
            "scaled": [float(np.round(v, 3)) for v in scaled]}


def _grid_values(values, quantiles) -> list:
    if len(values) == 0:
        return [0.0]
    qs = np.quantile(values, quantiles)
    return sorted({0.0, *(float(f"{v:.6g}") for v in qs)})


def policy_grid(data: SweepData, ks=DEFAULT_K, quantiles=DEFAULT_QUANTILES, reruns=(False, True)) -> list:
    """Candidate configs: always-small, always-big, temporal and (with an extra output) aux."""
    configs = [PolicyConfig("always-small"), PolicyConfig("always-big")]
    for preset, weights in weight_presets(data).items():
        for threshold in _grid_values(consecutive_distances(data, weights), quantiles):
            for k in ks:
                for rerun in reruns:
                    configs.append(validate_policy_config({"policy": "temporal", "weights": weights,
                                                           "threshold": threshold, "k": k, "rerun": rerun,
                                                           "meta": {"preset": preset}}))
    for index in range(4, data.small_int.shape[1]):  # every auxiliary output of the small model
        for threshold in _grid_values(data.small_pred[:, index], quantiles):
            for k in ks:
                for rerun in reruns:
                    configs.append(validate_policy_config({"policy": "aux", "aux_index": index,
                                                           "threshold": threshold, "k": k, "rerun": rerun}))
    return configs + partition_grid(data)


def partition_grid(data: SweepData, layouts=PARTITION_LAYOUTS) -> list:
    """Output-based partitions fitted on these frames: for each layout, cut points at quantiles of
    both models' predictions (pooled); each cell is scored by the big model's mean gain (small's
    summed error - big's) on the frames that FOLLOW a frame whose output (of either model) falls in
    the cell, since the decision for frame t+1 is made from the output at t of whichever model ran;
    the configs run big on the best 1, 2, ... cells (cells with a positive gain only)."""
    gain = np.abs(data.small_pred[:, :4] - data.labels).sum(1) - np.abs(data.big_pred[:, :4] - data.labels).sum(1)
    prev = np.concatenate([idx[:-1] for idx in data.sequences if len(idx) > 1]).astype(np.int64)
    if len(prev) == 0:
        return []
    configs = []
    both = (data.small_pred, data.big_pred)  # the next model is chosen from whichever model's output
    for channels, absolute, quantiles in layouts:
        values = [[np.abs(p[:, c]) if a else p[:, c] for c, a in zip(channels, absolute)] for p in both]
        cuts = [sorted({float(f"{q:.6g}") for q in np.quantile(np.concatenate([values[0][i], values[1][i]]), qs)})
                for i, qs in enumerate(quantiles)]
        cells = []
        for model_values in values:
            cell = np.zeros(len(gain), np.int64)
            for i, (v, c) in enumerate(zip(model_values, cuts)):
                cell += (v[:, None] > np.asarray(c)[None, :]).sum(1) * 4**i
            cells.append(cell[prev])
        ids, inverse = np.unique(np.concatenate(cells), return_inverse=True)
        following = np.concatenate([gain[prev + 1], gain[prev + 1]])
        mean_gain = np.bincount(inverse, weights=following) / np.bincount(inverse)
        order = [int(ids[j]) for j in np.argsort(-mean_gain, kind="stable") if mean_gain[j] > 0]
        for n in range(1, len(order) + 1):
            configs.append(validate_policy_config({
                "policy": "partition", "channels": list(channels), "absolute": list(absolute),
                "cuts": [list(c) for c in cuts], "big_cells": order[:n],
                "meta": {"preset": "+".join(("|{}|" if a else "{}").format(POSE[c]) for c, a in zip(channels, absolute))}}))
    return configs


def pareto_front(points) -> list:
    """Points no other point beats on both mean cycles and MAE, cheapest first."""
    ordered = sorted(points, key=lambda p: (p.cycles_mean, p.mae_sum))
    front, best = [], np.inf
    for p in ordered:
        if p.mae_sum < best:
            front.append(p)
            best = p.mae_sum
    return front


# ------------------------------------------------------------------ baselines


def random_at_share(data: SweepData, share: float, seed=RANDOM_SEED) -> PolicyPoint:
    """The seeded random policy whose realized big share is closest to `share`.

    The device restarts the generator at every sequence, so few sequences draw few independent
    numbers and p alone can miss the share by several points; p is searched around it instead.
    """
    best = None
    for p in np.unique(np.clip(np.round(share + np.arange(-0.15, 0.1501, 0.005), 4), 0.0, 1.0)):
        cfg = validate_policy_config({"policy": "random", "p": float(p), "seed": seed})
        point = evaluate(cfg, data, kind="random")
        key = (abs(point.big_share - share), abs(p - share))
        if best is None or key < best[0]:
            best = (key, point)
    return best[1]


def oracle_at_share(data: SweepData, share: float) -> PolicyPoint:
    """Big on the round(share * N) frames where it helps most (largest drop of summed abs error)."""
    n = len(data)
    err_small = np.abs(data.small_pred[:, :4] - data.labels).sum(axis=1)
    err_big = np.abs(data.big_pred[:, :4] - data.labels).sum(axis=1)
    count = int(round(share * n))
    order = np.argsort(-(err_small - err_big), kind="stable")
    used = np.full(n, SMALL, dtype=np.int64)
    used[order[:count]] = BIG
    cfg = PolicyConfig("always-big", meta={"oracle_share": share})
    return point_from_usage(cfg, used, data, kind="oracle")


# ------------------------------------------------------------------ selection and metrics


def select_point(points, big: PolicyPoint, rule="iso-mae", budget_cycles=None) -> PolicyPoint:
    """iso-mae: the cheapest point whose MAE is no worse than always-big's; iso-latency: the best
    MAE at no more cycles than always-big; best-mae: the best MAE at any cost (the paper's third
    figure); latency-budget: the best MAE within budget_cycles.

    Adaptive (temporal / aux) points come first; a single model is chosen only when no adaptive
    point meets the rule. On frames where always-small happens to match always-big, shipping
    always-small would drop the big model exactly where the small one fails on other frames.
    """
    if rule == "iso-latency":
        budget_cycles = big.cycles_mean
    elif rule == "best-mae":
        budget_cycles = np.inf
    elif rule == "latency-budget" and budget_cycles is None:
        raise EdgeadaptError("--latency-budget needs a clock to turn milliseconds into cycles")
    elif rule not in SELECT_RULES:
        raise EdgeadaptError(f"unknown selection rule '{rule}' (expected {', '.join(SELECT_RULES)})")
    adaptive = [p for p in points if p.config.policy in ADAPTIVE]
    for pool in (adaptive, points):
        if rule == "iso-mae":
            ok = [p for p in pool if p.mae_sum <= big.mae_sum]
            if ok:
                return min(ok, key=lambda p: (p.cycles_mean, p.mae_sum))
        else:
            ok = [p for p in pool if p.cycles_mean <= budget_cycles]
            if ok:
                return min(ok, key=lambda p: (p.mae_sum, p.cycles_mean))
    cheapest = min(points, key=lambda p: p.cycles_mean)
    raise EdgeadaptError(f"no policy fits the latency budget: the cheapest needs {cheapest.cycles_mean:,.0f} "
                         f"cycles per frame, the budget is {budget_cycles:,.0f}")


def paper_metrics(adaptive, big: PolicyPoint) -> dict:
    """The DATE'24 figures against always-big, over the adaptive (temporal / aux) points."""
    iso_mae = [p for p in adaptive if p.mae_sum <= big.mae_sum]
    iso_lat = [p for p in adaptive if p.cycles_mean <= big.cycles_mean]
    out = {"latency_cut_at_big_mae": None, "mae_change_at_big_latency": None, "best_mae": None}
    if iso_mae:
        p = min(iso_mae, key=lambda q: (q.cycles_mean, q.mae_sum))
        out["latency_cut_at_big_mae"] = {"value": 1.0 - p.cycles_mean / big.cycles_mean, "point": p}
    if iso_lat:
        p = min(iso_lat, key=lambda q: (q.mae_sum, q.cycles_mean))
        out["mae_change_at_big_latency"] = {"value": p.mae_sum / big.mae_sum - 1.0, "point": p}
    if adaptive:
        p = min(adaptive, key=lambda q: (q.mae_sum, q.cycles_mean))
        out["best_mae"] = {"value": p.mae_sum, "change": p.mae_sum / big.mae_sum - 1.0, "point": p}
    return out


@dataclass
class SweepResult:
    data: SweepData
    points: list  # every candidate
    front: list
    small: PolicyPoint
    big: PolicyPoint
    selected: PolicyPoint
    rule: str
    metrics: dict
    random: list  # the random p grid
    baselines: dict  # {"share", "random", "oracle"} at the selected point's big share

    def select(self, rule) -> PolicyPoint:
        """The operating point of another rule (iso-mae, iso-latency, best-mae) among the same points."""
        return select_point(self.points, self.big, rule)

    def to_dict(self) -> dict:
        clock = self.data.cycles.clock_hz

        def pt(p):
            return p.to_dict(clock)

        metrics = {}
        for name, m in self.metrics.items():
            metrics[name] = None if m is None else {**{k: v for k, v in m.items() if k != "point"},
                                                    "point": pt(m["point"])}
        return {
            "frames": len(self.data),
            "sequences": len(self.data.sequences),
            "cycles_source": self.data.cycles.source,
            "clock_hz": clock,
            "evaluated": len(self.points),
            "small": pt(self.small),
            "big": pt(self.big),
            "front": [pt(p) for p in self.front],
            "selected": {**pt(self.selected), "rule": self.rule},
            "metrics": metrics,
            "baselines": {"big_share": self.baselines["share"], "random": pt(self.baselines["random"]),
                          "oracle": pt(self.baselines["oracle"])},
            "random": [pt(p) for p in self.random],
        }


def run_sweep(data: SweepData, rule="iso-mae", latency_budget_ms=None, configs=None) -> SweepResult:
    """Evaluate the grid (or `configs`), build the front, select, and compute metrics and baselines."""
    if rule not in SELECT_RULES:
        raise EdgeadaptError(f"unknown selection rule '{rule}' (expected {', '.join(SELECT_RULES)})")
    configs = policy_grid(data) if configs is None else configs
    from edgeadapt.console import progress

    points = [evaluate(c, data) for c in progress(configs, desc="sweep", unit="policy")]
    small = next((p for p in points if p.config.policy == "always-small"), None) or evaluate(
        PolicyConfig("always-small"), data)
    big = next((p for p in points if p.config.policy == "always-big"), None) or evaluate(
        PolicyConfig("always-big"), data)
    candidates = points + [p for p in (small, big) if p not in points]
    budget = None
    if latency_budget_ms is not None:
        if not data.cycles.clock_hz:
            raise EdgeadaptError("--latency-budget needs the target's clock (give --target or a manifest)")
        budget = latency_budget_ms * 1e-3 * data.cycles.clock_hz
    selected = select_point(candidates, big, rule, budget)
    adaptive = [p for p in candidates if p.config.policy in ADAPTIVE]
    share = selected.big_share
    return SweepResult(
        data=data, points=candidates, front=pareto_front(candidates), small=small, big=big, selected=selected,
        rule=rule, metrics=paper_metrics(adaptive, big),
        random=[evaluate(validate_policy_config({"policy": "random", "p": p, "seed": RANDOM_SEED}), data, "random")
                for p in RANDOM_P],
        baselines={"share": share, "random": random_at_share(data, share), "oracle": oracle_at_share(data, share)},
    )


def selected_policy_json(result: SweepResult, extra_meta=None) -> dict:
    """The policy.json of the selected point, with the sweep's prediction in its meta."""
    p = result.selected
    cfg = p.config.to_dict()
    meta = dict(cfg.get("meta", {}))
    meta.update({
        "selected_by": result.rule,
        "predicted": {"frames": len(result.data), "big_share": p.big_share, "mae": dict(p.mae),
                      "cycles_mean": p.cycles_mean, "cycles_source": result.data.cycles.source},
        "always_big": {"mae_sum": result.big.mae_sum, "cycles_mean": result.big.cycles_mean},
        # the front and the random baseline on the frames the choice was made on, for the HIL
        # report's plot beside the front replayed on the measured frames
        "front": [_plane_point(q) for q in sorted(result.front, key=lambda q: q.cycles_mean)],
        "random": [_plane_point(q) for q in sorted(result.random, key=lambda q: q.cycles_mean)],
        "always_small": _plane_point(result.small),
    })
    meta.update(extra_meta or {})
    cfg["meta"] = meta
    return cfg


def _plane_point(p) -> dict:
    return {"big_share": p.big_share, "mae_sum": p.mae_sum, "cycles_mean": p.cycles_mean}
