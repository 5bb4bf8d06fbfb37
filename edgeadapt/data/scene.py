"""The room behind the subject, the occluders in front of it, and the sensor's photometry.

The room is a panorama of the back wall and floor, built once per sequence and wide enough for the
drone's yaw range: each frame crops it at the offset the drone's yaw, altitude and pitch imply
(so clutter shifts coherently with the drone's motion). Intensities are linear reflectances; the
sensor model turns them into uint8 pixels with lens blur, exposure gain and flicker, an uneven light field, vignetting,
shot and read noise, row noise, gamma, and saturation.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from edgeadapt.data.camera import Camera
from edgeadapt.data.raster import Layer

ALTITUDE_REF = 1.4  # the panorama is drawn as seen from this altitude with zero pitch
YAW_RANGE = 0.6  # rad of drone yaw the panorama covers either side
PITCH_RANGE = 0.12  # rad


@dataclass
class Room:
    pano: np.ndarray  # float32 (H + 2 pad_v, W + 2 pad_u)
    pad_u: int
    pad_v: int
    wall_distance: float

    def view(self, cam: Camera, ego_yaw: float, altitude: float, pitch: float) -> np.ndarray:
        """The background the camera sees, float32 (H, W)."""
        du = -cam.fx * ego_yaw
        dv = cam.fy * math.tan(pitch) - cam.fy * (altitude - ALTITUDE_REF) / self.wall_distance
        c0 = int(np.clip(round(self.pad_u + du), 0, 2 * self.pad_u))
        r0 = int(np.clip(round(self.pad_v + dv), 0, 2 * self.pad_v))
        return self.pano[r0 : r0 + cam.height, c0 : c0 + cam.width]

    def shift(self, cam: Camera, d_yaw: float) -> float:
        """Horizontal image motion [px] of the background for a change of drone yaw."""
        return -cam.fx * d_yaw


def make_room(rng: np.random.Generator, cam: Camera) -> Room:
    pad_u = int(math.ceil(cam.fx * YAW_RANGE)) + 2
    pad_v = int(math.ceil(cam.fy * (PITCH_RANGE + 0.5 / 3.0))) + 2
    h, w = cam.height + 2 * pad_v, cam.width + 2 * pad_u
    scale = cam.width / 160.0  # clutter sizes in 160x96 pixels, scaled to the frame size
    wall_distance = float(rng.uniform(4.5, 9.0))
    floor_row = int(round(pad_v + cam.cy + cam.fy * ALTITUDE_REF / wall_distance))

    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.arange(w, dtype=np.float32)[None, :]
    wall = float(rng.uniform(0.15, 0.65))
    pano = wall * (1.0 + float(rng.uniform(-0.25, 0.25)) * (rows / h - 0.5) + float(rng.uniform(-0.3, 0.3)) * (cols / w - 0.5))
    pano = pano * _smooth_noise(rng, h, w, 0.15)
    # wall segments (room corners, alcoves): piecewise brightness steps across columns
    for c in np.sort(rng.integers(0, w, size=rng.integers(0, 3))):
        pano[:, c:] *= float(rng.uniform(0.7, 1.3))
    # the floor below the wall's base line, brighter or darker, with a distance gradient
    floor = float(rng.uniform(0.08, 0.55))
    depth_ramp = (rows[floor_row:] - floor_row) / max(h - floor_row, 1)
    pano[floor_row:] = floor * (1.0 + float(rng.uniform(-0.4, 0.4)) * depth_ramp) * _smooth_noise(rng, h - floor_row, w, 0.1)

    def tone():  # most clutter is near the wall's own tone; some stands out
        return float(np.clip(wall * math.exp(rng.normal(0.0, 0.35)), 0.03, 0.95)) if rng.random() < 0.75 else float(rng.uniform(0.03, 0.95))

    for _ in range(int(rng.integers(2, 9))):  # doors, windows, posters, shelves on the wall
        rw, rh = rng.uniform(8, 45) * scale, rng.uniform(8, 50) * scale
        c0 = rng.uniform(-rw / 2, w - rw / 2)
        on_floor = rng.random() < 0.35
        r1 = floor_row if on_floor else rng.uniform(pad_v - 10 * scale, floor_row - 4 * scale)
        r0 = r1 - rh
        value = float(rng.uniform(1.1, 2.0)) if rng.random() < 0.08 else tone()
        _rect(pano, r0, r1, c0, c0 + rw, value)
        if rng.random() < 0.35:  # stripes: shelves, blinds, frames
            n = int(rng.integers(2, 6))
            for k in range(n):
                rr = r0 + (k + 1) * rh / (n + 1)
                _rect(pano, rr, rr + max(1.0, scale), c0, c0 + rw, tone())
    for _ in range(int(rng.integers(0, 4))):  # furniture standing on the floor, in front of the wall
        rw, rh = rng.uniform(15, 60) * scale, rng.uniform(6, 30) * scale
        c0 = rng.uniform(-rw / 2, w - rw / 2)
        r1 = floor_row + rng.uniform(0, 12) * scale
        _rect(pano, r1 - rh, r1, c0, c0 + rw, tone())
    blobs = Layer(h, w)  # round things: lamps, plants, coats on hooks (person-like dark blobs)
    for _ in range(int(rng.integers(0, 4))):
        cu, cv = rng.uniform(0, w), rng.uniform(pad_v, floor_row)
        if rng.random() < 0.6:
            blobs.paint(blobs.ellipse((cu, cv), rng.uniform(2, 12) * scale, rng.uniform(2, 12) * scale), tone())
        else:
            length = rng.uniform(8, 30) * scale
            blobs.paint(blobs.capsule((cu, cv), (cu, cv + length), rng.uniform(2, 6) * scale), tone())
    pano = blobs.value + pano * (1.0 - blobs.alpha)
    for _ in range(int(rng.integers(0, 6))):  # thin lines: cables, edges, pipes
        if rng.random() < 0.5:
            c = rng.uniform(0, w)
            _rect(pano, rng.uniform(0, h / 2), rng.uniform(h / 2, h), c, c + max(1.0, scale * rng.uniform(0.5, 2)), tone())
        else:
            r = rng.uniform(0, h)
            _rect(pano, r, r + max(1.0, scale * rng.uniform(0.5, 2)), rng.uniform(0, w / 2), rng.uniform(w / 2, w), tone())
    return Room(pano.astype(np.float32), pad_u, pad_v, wall_distance)


def _rect(img, r0, r1, c0, c1, value):
    r0, r1 = int(max(round(r0), 0)), int(min(round(r1), img.shape[0]))
    c0, c1 = int(max(round(c0), 0)), int(min(round(c1), img.shape[1]))
    if r0 < r1 and c0 < c1:
        img[r0:r1, c0:c1] = value


def _smooth_noise(rng, h, w, amplitude):
    """1 + low-frequency noise (a coarse random grid, bilinearly upsampled)."""
    gh, gw = max(2, h // 24), max(2, w // 24)
    grid = rng.normal(0.0, amplitude, size=(gh, gw))
    up = ndimage.zoom(grid, (h / gh, w / gw), order=1, mode="nearest", grid_mode=True)
    return 1.0 + up[:h, :w].astype(np.float32)


def draw_occluder(layer: Layer, cam: Camera, pitch: float, occ, t: int) -> tuple:
    """Paint the occluder at frame t; returns its image-space centre (u, v) for motion blur."""
    y = occ.y_at(t)
    corners = np.array([
        [occ.depth, y + occ.width / 2, occ.z_top],
        [occ.depth, y - occ.width / 2, occ.z_top],
        [occ.depth, y - occ.width / 2, occ.z_bottom],
        [occ.depth, y + occ.width / 2, occ.z_bottom],
    ])
    u, v, _ = cam.project(corners, pitch)
    if occ.rounded:  # a person or pole: a tall capsule
        r = 0.5 * abs(u[1] - u[0])
        top = ((u[0] + u[1]) / 2, v[0] + r)
        bottom = ((u[2] + u[3]) / 2, v[2])
        shape = layer.capsule(top, bottom, r)
    else:
        shape = layer.polygon(np.stack([u, v], axis=1))
    layer.paint(shape, occ.value)
    return float(u.mean()), float(v.mean())


@dataclass
class Sensor:
    """Per-sequence photometric parameters of the HM01B0-like sensor."""

    exposure: float
    gamma: float
    read_noise: float
    shot_noise: float
    row_noise: float
    optical_blur: float  # Gaussian sigma [px]
    light_field: np.ndarray  # (H, W): uneven illumination times vignetting

    def capture(self, rng: np.random.Generator, scene: np.ndarray, log_gain: float) -> np.ndarray:
        if self.optical_blur > 0:  # the small plastic lens is never quite sharp
            scene = ndimage.gaussian_filter(scene, self.optical_blur, mode="nearest", truncate=2.5)
        flicker = 1.0 + 0.02 * float(rng.standard_normal())
        lin = scene * self.light_field * (self.exposure * flicker * math.exp(log_gain))
        sigma = np.sqrt(self.read_noise**2 + self.shot_noise * np.maximum(lin, 0.0))
        lin = lin + sigma * rng.standard_normal(lin.shape, dtype=np.float32)
        lin += self.row_noise * rng.standard_normal((lin.shape[0], 1), dtype=np.float32)
        out = 255.0 * np.clip(lin, 0.0, 1.0) ** (1.0 / self.gamma)
        return np.rint(out).astype(np.uint8)


def make_sensor(rng: np.random.Generator, cam: Camera) -> Sensor:
    u = (np.arange(cam.width, dtype=np.float32)[None, :] + 0.5 - cam.cx) / cam.cx
    v = (np.arange(cam.height, dtype=np.float32)[:, None] + 0.5 - cam.cy) / cam.cx
    vignetting = 1.0 - float(rng.uniform(0.1, 0.45)) * (u * u + v * v)
    light = 1.0 + float(rng.uniform(-0.25, 0.25)) * u + float(rng.uniform(-0.2, 0.2)) * v
    return Sensor(
        exposure=float(rng.uniform(0.65, 1.0)),
        gamma=float(rng.uniform(0.8, 1.3)),
        read_noise=float(rng.uniform(0.008, 0.025)),
        shot_noise=float(rng.uniform(0.0005, 0.003)),
        row_noise=float(rng.uniform(0.0, 0.01)),
        optical_blur=float(rng.uniform(0.35, 0.9)) * cam.width / 160.0,
        light_field=(vignetting * light).astype(np.float32),
    )
