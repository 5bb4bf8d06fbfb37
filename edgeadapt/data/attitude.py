"""The drone's attitude in the never-seen environments: pitch and roll that change all the time.

DCOSS'21 recorded its never-seen set D3 with the drone held by hand and moved freely, "constantly
changing its pitch and roll, to mimic in-flight conditions", while its known lab set was taken
from a cart at about 0 deg; IMAV'22: in flight "the quadrotor maneuvers by continuously adjusting
its pitch". The known splits here keep the lab's hover (pitch episodes and a small wobble, no
roll); test-unseen adds this motion on top. Each of pitch and roll is a smooth random sway
(noise through two lags, about a second long, like a hand-held or manoeuvring drone's).

A roll of the camera about its optical axis is exactly an in-plane rotation of the pinhole image
about the principal point, so a rolled frame is rendered on a canvas with a margin, turned, and
cropped back. The label stays in the drone's horizontal frame (PULP-Frontnet's convention: roll
and pitch are not part of the pose), so it does not move.
"""

import math

import numpy as np
from scipy import ndimage

from edgeadapt.data.camera import Camera

# stationary std of the added pitch and of the roll: +-2 std span the +-17 deg that IMAV'22's pitch
# augmentation is built to cover in flight (the papers give no std of the real sway; not tuned on
# any model: docs/decisions.md D24)
SWAY_STD_DEG = 8.5
SWAY_TAU_S = 0.4  # time constant of each lag [s]: a slow sway, hand-held or manoeuvring
ROLL_LIMIT = math.radians(20.0)  # the canvas margin below covers this much roll
CANVAS_MARGIN = 26  # px at 160x96 on every side (the 160x96 frame turned by 20 deg stays inside)


def sway(rng: np.random.Generator, length: int, fps: float, std_deg: float = None) -> tuple:
    """(pitch, roll) [rad], each float64 (length,): smooth random sway of stationary std `std_deg`
    (default SWAY_STD_DEG), roll clipped to ROLL_LIMIT. White noise through two first-order lags
    (an attitude has inertia: its rate is continuous, unlike a single lag's), after a burn-in."""
    std = math.radians(SWAY_STD_DEG if std_deg is None else std_deg)
    a = math.exp(-1.0 / (SWAY_TAU_S * fps))
    # var of the second lag's output is (1 + a^2) / (1 + a)^2 times the first's: scale it back
    gain = (1.0 + a) / math.sqrt(1.0 + a * a)
    burn = int(math.ceil(5 * SWAY_TAU_S * fps))
    first = rng.normal(0.0, std, 2)
    second = first.copy()
    out = np.empty((length, 2))
    for t in range(burn + length):
        first = a * first + math.sqrt(1.0 - a * a) * std * rng.standard_normal(2)
        second = a * second + (1.0 - a) * first
        if t >= burn:
            out[t - burn] = gain * second
    return out[:, 0], np.clip(out[:, 1], -ROLL_LIMIT, ROLL_LIMIT)


def margin(cam: Camera) -> int:
    return int(round(CANVAS_MARGIN * cam.width / 160.0))


def canvas(cam: Camera) -> Camera:
    """The camera with margin(cam) more pixels on every side (same focal length and centre)."""
    m = margin(cam)
    return Camera(cam.width + 2 * m, cam.height + 2 * m, cam.fx, cam.fy, cam.cx + m, cam.cy + m)


def roll_view(image: np.ndarray, big: Camera, cam: Camera, roll: float) -> np.ndarray:
    """The frame of `cam` seen with the camera rolled by `roll` [rad, positive: right side down],
    from `image` rendered on the canvas camera `big`: the scene turns the other way about the
    principal point. Bilinear; float32 (cam.height, cam.width)."""
    c, s = math.cos(roll), math.sin(roll)
    # output index (i, j) has its centre at (i + 0.5, j + 0.5); offset d from the principal point,
    # turned by the roll, lands at big's principal point + R d (continuous), index = that - 0.5
    matrix = np.array([[c, s], [-s, c]])  # (row, col): the right side down lifts the horizon on the right
    centre_out = np.array([cam.cy, cam.cx])
    centre_in = np.array([big.cy, big.cx])
    offset = centre_in - 0.5 - matrix @ (centre_out - 0.5)
    return ndimage.affine_transform(image, matrix, offset=offset, output_shape=(cam.height, cam.width),
                                    order=1, mode="nearest").astype(np.float32)
