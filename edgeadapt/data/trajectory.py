"""Per-sequence scripts: smooth random pose trajectories and episodes of difficulty.

Every quantity follows a critically damped spring towards a target that is redrawn every 0.7-2.5 s
(0.25-0.7 s and a 4x stiffer spring during a fast-motion burst), plus a little hover jitter, so
motion is smooth with occasional fast moves. Difficulty comes in EPISODES of 1-3.5 s (fast motion,
an occluder crossing, a dark or over-exposed stretch, a far, near or off-centre subject), so hard
frames cluster in time, as the adaptive big/small policy assumes. Each frame records which
episodes are active as a bit mask (CONDITIONS).
"""

import math
from dataclasses import dataclass

import numpy as np

FPS = 15.0
CONDITIONS = {"fast": 1, "occluded": 2, "dark": 4, "bright": 8, "far": 16, "edge": 32, "near": 64}
X_RANGE = (0.5, 4.0)  # distance ahead [m]
MAX_BEARING = 0.74  # rad: the head centre stays within the 85 deg horizontal field of view
MAX_ELEVATION = 0.45  # rad: and within the 57.6 deg vertical one
PHI_LIMIT = math.pi / 2


@dataclass
class Occluder:
    """An object crossing between drone and subject: a box from z_bottom to z_top (drone frame),
    `width` wide, at distance `depth`, moving laterally from y0 to y1 during frames [start, end)."""

    start: int
    end: int
    depth: float
    y0: float
    y1: float
    width: float
    z_bottom: float
    z_top: float
    value: float
    rounded: bool

    def y_at(self, t: float) -> float:
        s = (t - self.start) / max(self.end - 1 - self.start, 1)
        return self.y0 + (self.y1 - self.y0) * s


@dataclass
class Script:
    """Per-frame arrays (length L) of one sequence."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    phi: np.ndarray
    torso_phi: np.ndarray
    pitch: np.ndarray  # camera pitch, nose down positive [rad]
    altitude: np.ndarray  # drone altitude above the floor [m]
    ego_yaw: np.ndarray  # drone yaw in the room [rad] (moves the background)
    log_gain: np.ndarray  # exposure, natural log of the gain
    walk_phase: np.ndarray
    walk_amplitude: np.ndarray
    arm_raise: np.ndarray  # (L, 2)
    conditions: np.ndarray  # uint8 bit mask of CONDITIONS
    occluders: list

    @property
    def labels(self) -> np.ndarray:
        return np.stack([self.x, self.y, self.z, self.phi], axis=1).astype(np.float32)


def episodes(rng: np.random.Generator, length: int) -> np.ndarray:
    """Bit mask per frame: a few episodes of each difficulty, 15-52 frames long."""
    mask = np.zeros(length, np.uint8)
    rate = length / 90.0  # expected episodes per kind-mix: about one every 6 s
    kinds = list(CONDITIONS)
    weights = np.array([3, 2, 1.2, 1.0, 1.2, 1.0, 0.8])
    for _ in range(rng.poisson(rate * 1.6)):
        kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())]
        dur = int(rng.integers(15, 53))
        start = int(rng.integers(0, max(length - 5, 1)))
        bit = CONDITIONS[kind]
        if kind in ("far", "near") and (mask[start : start + dur] & (CONDITIONS["far"] | CONDITIONS["near"])).any():
            continue
        if kind in ("dark", "bright") and (mask[start : start + dur] & (CONDITIONS["dark"] | CONDITIONS["bright"])).any():
            continue
        mask[start : start + dur] |= bit
    return mask


def make_script(rng: np.random.Generator, length: int, head_height: float) -> Script:
    dt = 1.0 / FPS
    mask = episodes(rng, length)
    fast = (mask & CONDITIONS["fast"]) > 0

    x = _Spring(float(np.exp(rng.uniform(math.log(0.9), math.log(3.2)))))
    bearing = _Spring(float(np.clip(rng.normal(0.0, 0.25), -0.5, 0.5)))
    phi = _Spring(float(rng.uniform(-1.2, 1.2)))
    altitude = _Spring(float(rng.uniform(1.0, 1.8)))
    ego = _Spring(float(rng.uniform(-0.3, 0.3)))
    gain = _Spring(float(rng.normal(0.0, 0.15)))
    jitter = _Jitter(rng, 4)
    torso_off = 0.0
    walk_phase = float(rng.uniform(0, 2 * math.pi))
    raise_l = _Spring(0.0)
    raise_r = _Spring(0.0)

    out = {k: np.zeros(length) for k in ("x", "y", "z", "phi", "torso_phi", "pitch", "altitude", "ego_yaw", "log_gain",
                                          "walk_phase", "walk_amplitude")}
    arm_raise = np.zeros((length, 2))
    next_pose, next_ego, next_alt, next_light, next_arm = 0, 0, 0, 0, 0
    pitch = 0.0
    prev_mask = None
    for t in range(length):
        m = int(mask[t])
        changed = prev_mask is None or (m & ~CONDITIONS["occluded"]) != (prev_mask & ~CONDITIONS["occluded"])
        if t >= next_pose or changed:
            x.target = _distance_target(rng, m)
            bearing.target = _bearing_target(rng, m)
            phi.target = float(np.clip(rng.normal(0.0, 0.8), -PHI_LIMIT, PHI_LIMIT))
            hold = rng.uniform(0.25, 0.7) if fast[t] else rng.uniform(0.7, 2.5)
            next_pose = t + max(int(hold * FPS), 1)
        if t >= next_ego:  # the drone's heading drifts on its own clock, not the subject's
            ego.target = float(np.clip(ego.p + rng.normal(0.0, 0.25), -0.55, 0.55))
            next_ego = t + int(rng.uniform(1.0, 4.0) * FPS)
        if t >= next_alt:
            altitude.target = float(rng.uniform(1.0, 1.8))
            next_alt = t + int(rng.uniform(3.0, 7.0) * FPS)
        if t >= next_light or changed:
            gain.target = _gain_target(rng, m)
            next_light = t + int(rng.uniform(2.0, 5.0) * FPS)
        if t >= next_arm:
            gestures = rng.random(2) < 0.12
            raise_l.target = float(rng.uniform(0.6, 2.6)) if gestures[0] else float(rng.uniform(0.0, 0.25))
            raise_r.target = float(rng.uniform(0.6, 2.6)) if gestures[1] else float(rng.uniform(0.0, 0.25))
            next_arm = t + int(rng.uniform(1.0, 3.0) * FPS)
        prev_mask = m

        stiff = 6.0 if fast[t] else 2.2
        x.step(stiff, dt)
        bearing.step(stiff, dt)
        phi.step(stiff * 1.2, dt)
        ego.step(6.0 if fast[t] else 1.6, dt)
        altitude.step(1.0, dt)
        gain.step(2.5 if m & (CONDITIONS["dark"] | CONDITIONS["bright"]) else 1.0, dt)
        raise_l.step(3.0, dt)
        raise_r.step(3.0, dt)
        j = jitter.step(dt, 2.5 if fast[t] else 1.0)

        # hard limits with the velocity zeroed, so the springs never push the subject out of range
        x.clamp(*X_RANGE)
        phi.clamp(-PHI_LIMIT, PHI_LIMIT)
        bearing.clamp(-MAX_BEARING, MAX_BEARING)
        xt = float(np.clip(x.p + 0.02 * j[0], *X_RANGE))
        bt = float(np.clip(bearing.p + 0.01 * j[1], -MAX_BEARING, MAX_BEARING))
        pt = float(np.clip(phi.p + 0.03 * j[2], -PHI_LIMIT, PHI_LIMIT))
        # the drone keeps the head within the vertical field of view by adjusting its altitude
        limit = xt * math.tan(MAX_ELEVATION)
        altitude.clamp(head_height - limit, head_height + limit)
        pitch += (-pitch / 0.5 + (0.09 if fast[t] else 0.036) * j[3]) * dt  # ~0.6 deg std, 1.5 deg in bursts

        speed = math.hypot(x.v, xt * bearing.v)
        walk_phase += 2 * math.pi * dt * min(speed, 2.0) / 0.7
        torso_off += (-torso_off / 1.0) * dt + 0.15 * math.sqrt(dt) * rng.normal()

        out["x"][t] = xt
        out["y"][t] = xt * math.tan(bt)
        out["z"][t] = head_height - altitude.p
        out["phi"][t] = pt
        out["torso_phi"][t] = float(np.clip(pt + torso_off, -PHI_LIMIT - 0.3, PHI_LIMIT + 0.3))
        out["pitch"][t] = pitch
        out["altitude"][t] = altitude.p
        out["ego_yaw"][t] = ego.p
        out["log_gain"][t] = gain.p
        out["walk_phase"][t] = walk_phase
        out["walk_amplitude"][t] = min(0.45, 0.35 * speed)
        arm_raise[t] = (raise_l.p, raise_r.p)

    return Script(**out, arm_raise=arm_raise, conditions=mask, occluders=_occluders(rng, mask, out["x"]))


def _distance_target(rng, m):
    if m & CONDITIONS["far"]:
        return float(rng.uniform(3.3, 4.0))
    if m & CONDITIONS["near"]:
        return float(rng.uniform(0.5, 0.75))
    return float(np.exp(rng.uniform(math.log(0.7), math.log(3.4))))


def _bearing_target(rng, m):
    if m & CONDITIONS["edge"]:
        return float(rng.choice([-1.0, 1.0]) * rng.uniform(0.6, MAX_BEARING))
    return float(np.clip(rng.normal(0.0, 0.25), -0.55, 0.55))


def _gain_target(rng, m):
    if m & CONDITIONS["dark"]:
        return float(rng.uniform(-1.8, -1.1))
    if m & CONDITIONS["bright"]:
        return float(rng.uniform(0.8, 1.3))
    return float(rng.normal(0.0, 0.2))


def _occluders(rng, mask, xs):
    """One occluder per contiguous occlusion episode, crossing in front of the subject."""
    occ = (mask & CONDITIONS["occluded"]) > 0
    result = []
    t = 0
    while t < len(mask):
        if not occ[t]:
            t += 1
            continue
        start = t
        while t < len(mask) and occ[t]:
            t += 1
        x_min = float(xs[start:t].min())
        depth = float(rng.uniform(0.3, max(0.35, x_min - 0.25)))
        side = float(rng.choice([-1.0, 1.0]))
        span = depth * math.tan(0.9)
        kind = rng.integers(3)
        if kind == 0:  # a pole or a person walking past: floor to above the camera
            z0, z1, width = -2.0, float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.15, 0.5))
        elif kind == 1:  # a low box or table edge: from the floor up to below the camera
            z0, z1, width = -2.0, float(rng.uniform(-0.9, -0.2)), float(rng.uniform(0.4, 1.2))
        else:  # something held up: a board in mid air
            z0 = float(rng.uniform(-0.6, 0.0))
            z1, width = z0 + float(rng.uniform(0.25, 0.6)), float(rng.uniform(0.2, 0.5))
        # at most ~30 % of the view and ~2/3 of the subject's shoulder width (0.45 m), so the
        # subject always stays partly visible
        width = min(width, 0.6 * depth, 0.3 * depth / x_min)
        result.append(Occluder(start, t, depth, -side * span, side * span, width, z0, z1,
                               float(rng.uniform(0.05, 0.9)), bool(kind == 0)))
    return result


class _Spring:
    """Critically damped second-order follower: smooth motion towards `target`."""

    def __init__(self, p: float):
        self.p, self.v, self.target = p, 0.0, p

    def step(self, omega: float, dt: float):
        a = omega * omega * (self.target - self.p) - 2.0 * omega * self.v
        self.v += a * dt
        self.p += self.v * dt

    def clamp(self, lo: float, hi: float):
        if self.p < lo or self.p > hi:
            self.p = min(max(self.p, lo), hi)
            self.v = 0.0


class _Jitter:
    """Ornstein-Uhlenbeck noise (unit stationary std, 0.3 s correlation): hover wobble."""

    def __init__(self, rng, n):
        self.rng, self.state = rng, np.zeros(n)

    def step(self, dt, scale):
        tau = 0.3
        self.state += -self.state / tau * dt + math.sqrt(2 * dt / tau) * self.rng.normal(size=self.state.shape)
        return self.state * scale
