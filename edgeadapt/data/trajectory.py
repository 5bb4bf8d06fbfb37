"""Per-sequence scripts: smooth pose trajectories of a subject, the drone's motion, the light, and
episodes of difficulty.

Every pose quantity follows a critically damped spring towards a target redrawn every 0.7-2.5 s
(0.25-0.7 s and a 3x stiffer spring during a fast-motion burst), plus hover jitter, so motion is
smooth with occasional fast moves, at the 30 fps the AI-deck streams (the real recordings are
logged at up to 60 Hz). Difficulty comes in EPISODES of 0.5-3 s, the failure modes the real
recordings show (datasets/README.md names the source of each): fast motion, an occluder crossing,
low light where the auto-exposure runs out of gain, a bright window behind the subject, a far or
near subject, the subject at the edge of or out of the view, camera pitch beyond +-10 deg, the
subject kneeling, the background changing (the drone swings round to another wall) and a light
switched on or off (the auto-exposure lags). Each frame records which episodes are active as a
bit mask (CONDITIONS).
"""

import math
from dataclasses import dataclass

import numpy as np

from edgeadapt.data.body import HEAD_CENTRE, KNEEL_DROP

FPS = 30.0
CONDITIONS = {
    "fast": 1, "occluded": 2, "dark": 4, "bright": 8, "far": 16, "edge": 32, "near": 64,
    "pitch": 128, "out": 256, "kneel": 512, "scene": 1024, "light": 2048,
}
X_RANGE = (0.5, 4.5)  # distance ahead [m]
HALF_HFOV = math.atan(80.0 / (80.0 / math.tan(math.radians(42.5))))  # 0.742 rad
MAX_BEARING = 1.0  # rad: beyond the half field of view, so the head can leave the frame
MAX_ELEVATION = 0.42  # rad: the drone keeps a standing subject's head within the 57.6 deg view
PHI_LIMIT = math.pi / 2
# label spread, set so the mean predictor's MAE matches the real test set's (0.46/0.61/0.17/0.55):
# the subject walks anywhere across the view (the drone hovers, it does not follow), turns freely
BEARING_SPREAD = 0.72  # rad, uniform either side
PHI_SPREAD = 1.0  # rad, std of the heading targets
PITCH_MAX = 0.45  # rad, the largest camera pitch of a pitch episode (about 26 deg)

# episode kinds: relative rate, duration range [s]
EPISODES = {
    "fast": (2.5, (0.7, 2.5)), "occluded": (1.6, (0.7, 2.5)), "dark": (0.9, (1.0, 3.0)),
    "bright": (0.8, (1.0, 3.0)), "far": (1.0, (1.0, 3.0)), "edge": (1.0, (0.7, 2.5)),
    "near": (0.8, (1.0, 3.0)), "pitch": (1.2, (0.5, 2.0)), "out": (0.6, (0.7, 1.6)),
    "kneel": (0.6, (1.5, 3.5)), "scene": (0.6, (0.6, 1.2)), "light": (0.7, (0.8, 1.5)),
}
EXCLUSIVE = (("far", "near"), ("dark", "bright", "light"), ("edge", "out"))
EPISODES_PER_SECOND = 0.38


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
    wall: np.ndarray  # which wall of the room is behind the subject (int)
    log_light: np.ndarray  # natural log of the scene illumination (0: the room's usual light)
    window: np.ndarray  # brightness of the window region of the wall (1: blinds down)
    crouch: np.ndarray  # 0 standing .. 1 kneeling
    walk_phase: np.ndarray
    walk_amplitude: np.ndarray
    arm_raise: np.ndarray  # (L, 2)
    conditions: np.ndarray  # uint16 bit mask of CONDITIONS
    occluders: list

    @property
    def labels(self) -> np.ndarray:
        return np.stack([self.x, self.y, self.z, self.phi], axis=1).astype(np.float32)


def episodes(rng: np.random.Generator, length: int) -> np.ndarray:
    """Bit mask per frame: episodes of each kind, at their rates, never two exclusive ones at once."""
    mask = np.zeros(length, np.uint16)
    kinds = list(EPISODES)
    weights = np.array([EPISODES[k][0] for k in kinds])
    for _ in range(rng.poisson(EPISODES_PER_SECOND * length / FPS)):
        kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())]
        lo, hi = EPISODES[kind][1]
        dur = int(round(rng.uniform(lo, hi) * FPS))
        start = int(rng.integers(0, max(length - 5, 1)))
        group = next((g for g in EXCLUSIVE if kind in g), (kind,))
        bits = sum(CONDITIONS[k] for k in group)
        if (mask[start : start + dur] & bits).any():
            continue
        mask[start : start + dur] |= CONDITIONS[kind]
    return mask


def make_script(rng: np.random.Generator, length: int, head_height: float, walls: int = 1) -> Script:
    dt = 1.0 / FPS
    mask = episodes(rng, length)
    on = {k: (mask & b) > 0 for k, b in CONDITIONS.items()}

    x = _Spring(float(np.exp(rng.uniform(math.log(0.8), math.log(3.3)))))
    bearing = _Spring(float(rng.uniform(-BEARING_SPREAD, BEARING_SPREAD)))
    phi = _Spring(float(np.clip(rng.normal(0.0, PHI_SPREAD), -1.4, 1.4)))
    altitude = _Spring(float(head_height + rng.uniform(-0.45, 0.25)))
    ego = _Spring(float(rng.uniform(-0.3, 0.3)))
    pitch = _Spring(0.0)
    crouch = _Spring(0.0)
    light = _Spring(0.0)
    window = _Spring(1.0)
    jitter = _Jitter(rng, 5)
    torso_off = 0.0
    walk_phase = float(rng.uniform(0, 2 * math.pi))
    raise_l, raise_r = _Spring(0.0), _Spring(0.0)
    wall = int(rng.integers(walls))
    base_light, dark_level, window_level = 0.0, 0.0, 1.0

    names = ("x", "y", "z", "phi", "torso_phi", "pitch", "altitude", "ego_yaw", "log_light", "window", "crouch",
             "walk_phase", "walk_amplitude")
    out = {k: np.zeros(length) for k in names}
    wall_of = np.zeros(length, np.int32)
    arm_raise = np.zeros((length, 2))
    next_pose, next_ego, next_alt, next_arm = 0, 0, 0, 0
    prev_mask = None
    for t in range(length):
        m = int(mask[t])
        changed = prev_mask is None or (m & ~CONDITIONS["occluded"]) != (prev_mask & ~CONDITIONS["occluded"])
        started = m & ~(prev_mask or 0)
        if t >= next_pose or changed:
            x.target = _distance_target(rng, m)
            bearing.target = _bearing_target(rng, m, bearing.p)
            phi.target = float(np.clip(rng.normal(0.0, PHI_SPREAD), -PHI_LIMIT, PHI_LIMIT))
            hold = rng.uniform(0.25, 0.7) if on["fast"][t] else rng.uniform(0.7, 2.5)
            next_pose = t + max(int(hold * FPS), 1)
        if started & CONDITIONS["pitch"]:  # the drone accelerates or brakes hard: large pitch
            pitch.target = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.17, PITCH_MAX))
        elif not on["pitch"][t]:
            pitch.target = 0.0
        if started & CONDITIONS["scene"]:  # the drone swings round: another wall comes behind the subject
            ego.target = float(np.clip(ego.p + rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.5), -0.55, 0.55))
            if walls > 1:
                wall = (wall + 1 + int(rng.integers(walls - 1))) % walls
        elif t >= next_ego:  # otherwise the drone's heading drifts on its own clock
            ego.target = float(np.clip(ego.p + rng.normal(0.0, 0.2), -0.55, 0.55))
            next_ego = t + int(rng.uniform(1.0, 4.0) * FPS)
        if t >= next_alt:
            altitude.target = float(head_height + rng.uniform(-0.45, 0.25))
            next_alt = t + int(rng.uniform(3.0, 7.0) * FPS)
        if started & CONDITIONS["light"]:  # a light switched on or off: a lasting step
            base_light = float(np.clip(base_light + rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.2), -1.2, 0.8))
        if started & CONDITIONS["dark"]:  # dim light, below what the auto-exposure can make up for
            dark_level = float(rng.uniform(-3.0, -2.2))
        if started & CONDITIONS["bright"]:  # sunlight through the window behind the subject
            window_level = float(rng.uniform(3.0, 6.0))
        light.target = dark_level if on["dark"][t] else base_light
        window.target = window_level if on["bright"][t] else 1.0
        crouch.target = 1.0 if on["kneel"][t] else 0.0
        if t >= next_arm:
            gestures = rng.random(2) < 0.12
            raise_l.target = float(rng.uniform(0.6, 2.6)) if gestures[0] else float(rng.uniform(0.0, 0.25))
            raise_r.target = float(rng.uniform(0.6, 2.6)) if gestures[1] else float(rng.uniform(0.0, 0.25))
            next_arm = t + int(rng.uniform(1.0, 3.0) * FPS)
        prev_mask = m

        stiff = 6.0 if on["fast"][t] else 2.2
        x.step(stiff, dt)
        bearing.step(stiff * (2.5 if on["out"][t] else 1.0), dt)
        phi.step(stiff * 1.2, dt)
        ego.step(9.0 if on["scene"][t] else 6.0 if on["fast"][t] else 1.6, dt)
        altitude.step(1.0, dt)
        pitch.step(8.0, dt)
        crouch.step(3.0, dt)
        light.step(12.0, dt)  # a switch is near-instant; the auto-exposure (in the sensor) lags
        window.step(2.0, dt)
        raise_l.step(3.0, dt)
        raise_r.step(3.0, dt)
        j = jitter.step(dt, 2.5 if on["fast"][t] else 1.0)

        # hard limits with the velocity zeroed, so the springs never push the subject out of range
        x.clamp(*X_RANGE)
        phi.clamp(-PHI_LIMIT, PHI_LIMIT)
        bearing.clamp(-MAX_BEARING, MAX_BEARING)
        xt = float(np.clip(x.p + 0.02 * j[0], *X_RANGE))
        bt = float(np.clip(bearing.p + 0.01 * j[1], -MAX_BEARING, MAX_BEARING))
        pt = float(np.clip(phi.p + 0.03 * j[2], -PHI_LIMIT, PHI_LIMIT))
        # the drone keeps a standing subject's head in the vertical view; a kneeling one can drop out
        limit = xt * math.tan(MAX_ELEVATION)
        altitude.clamp(head_height - limit, head_height + limit)
        # hover wobble: ~0.7 deg of pitch, 1.7 deg in fast bursts, on top of the episode's pitch
        cam_pitch = pitch.p + (0.03 if on["fast"][t] else 0.012) * j[3]

        speed = math.hypot(x.v, xt * bearing.v)
        walk_phase += 2 * math.pi * dt * min(speed, 2.0) / 0.7
        torso_off += (-torso_off / 1.0) * dt + 0.15 * math.sqrt(dt) * rng.normal()
        head_now = head_height - KNEEL_DROP * (head_height / HEAD_CENTRE) * crouch.p

        out["x"][t] = xt
        out["y"][t] = xt * math.tan(bt)
        out["z"][t] = head_now - altitude.p
        out["phi"][t] = pt
        out["torso_phi"][t] = float(np.clip(pt + torso_off, -PHI_LIMIT - 0.3, PHI_LIMIT + 0.3))
        out["pitch"][t] = cam_pitch
        out["altitude"][t] = altitude.p
        out["ego_yaw"][t] = ego.p
        out["log_light"][t] = light.p
        out["window"][t] = window.p
        out["crouch"][t] = crouch.p
        out["walk_phase"][t] = walk_phase
        out["walk_amplitude"][t] = min(0.45, 0.35 * speed) * (1.0 - crouch.p)
        wall_of[t] = wall
        arm_raise[t] = (raise_l.p, raise_r.p)

    return Script(**out, wall=wall_of, arm_raise=arm_raise, conditions=mask,
                  occluders=_occluders(rng, mask, out["x"]))


def _distance_target(rng, m):
    if m & CONDITIONS["far"]:
        return float(rng.uniform(3.3, 4.5))
    if m & CONDITIONS["near"]:
        return float(rng.uniform(0.5, 0.75))
    return float(np.exp(rng.uniform(math.log(0.8), math.log(3.3))))


def _bearing_target(rng, m, current):
    side = float(np.sign(current) or rng.choice([-1.0, 1.0]))
    if m & CONDITIONS["out"]:  # the head leaves the view (the body may still show at the edge)
        return side * float(rng.uniform(HALF_HFOV + 0.05, MAX_BEARING))
    if m & CONDITIONS["edge"]:  # the head near the edge, part of the body cut off
        return side * float(rng.uniform(0.5, HALF_HFOV - 0.04))
    return float(rng.uniform(-BEARING_SPREAD, BEARING_SPREAD))


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
        # at most ~45 % of the view and the subject's shoulder width: partial occlusion, as recorded
        width = min(width, 0.9 * depth, 0.45 * depth / x_min)
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
