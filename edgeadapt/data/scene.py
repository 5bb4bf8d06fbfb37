"""The room behind the subject, the occluders in front of it, and the sensor's photometry.

A room has a few walls, each a panorama of the wall and floor wide enough for the drone's yaw range:
each frame crops the wall behind the subject at the offset the drone's yaw, altitude and pitch
imply (so clutter shifts coherently with the drone's motion). Intensities are linear reflectances;
the sensor model turns them into uint8 pixels the way the HM01B0 does: lens blur, an uneven light
field and vignetting, an auto-exposure that meters the previous frame and lags changes of light,
exposure time then analog gain, shot and read noise growing with the gain, row noise, a black
pedestal, gamma and 8-bit saturation (a low dynamic range).
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from edgeadapt.data.camera import NEAR_M, Camera
from edgeadapt.data.raster import Layer

ALTITUDE_REF = 1.4  # the panorama is drawn as seen from this altitude with zero pitch
YAW_RANGE = 0.6  # rad of drone yaw the panorama covers either side
PITCH_RANGE = 0.5  # rad: the pitch episodes' range plus hover wobble
ALTITUDE_SPAN = 0.8  # m of altitude above or below ALTITUDE_REF the panorama covers
WALLS = 3  # walls per room: the drone can swing round to any of them
STYLES = ("lab", "unseen")
TEXTURES = ("brick", "tiles", "blinds", "planks")  # wall finishes of the unseen rooms only


@dataclass
class Wall:
    pano: np.ndarray  # float32 (H + 2 pad_v, W + 2 pad_u): reflectance of wall, floor and clutter
    window: np.ndarray  # float32, same shape: coverage of the window (its glass shows the daylight)


@dataclass
class Room:
    walls: list
    pad_u: int
    pad_v: int
    wall_distance: float
    style: str

    def view(self, cam: Camera, ego_yaw: float, altitude: float, pitch: float, wall: int = 0,
             window: float = 1.0) -> np.ndarray:
        """The background the camera sees, float32 (H, W); `window` scales the daylight behind
        the window (1: blinds down, about the wall's brightness)."""
        du = -cam.fx * ego_yaw
        dv = cam.fy * math.tan(pitch) - cam.fy * (altitude - ALTITUDE_REF) / self.wall_distance
        w = self.walls[wall % len(self.walls)]
        # the crop centred on the panorama's centre (pad_u, pad_v for the frame size it was drawn
        # for; less for a larger canvas, attitude.canvas), then shifted
        spare_v, spare_u = w.pano.shape[0] - cam.height, w.pano.shape[1] - cam.width
        c0 = int(np.clip(round(spare_u // 2 + du), 0, spare_u))
        r0 = int(np.clip(round(spare_v // 2 + dv), 0, spare_v))
        crop = (slice(r0, r0 + cam.height), slice(c0, c0 + cam.width))
        pano, glass = w.pano[crop], w.window[crop]
        return pano * (1.0 - glass) + glass * (WINDOW_GLASS * window)

    def shift(self, cam: Camera, d_yaw: float) -> float:
        """Horizontal image motion [px] of the background for a change of drone yaw."""
        return -cam.fx * d_yaw


WINDOW_GLASS = 0.35  # reflectance-equivalent of a window with the blinds down


def make_room(rng: np.random.Generator, cam: Camera, style: str = "lab", walls: int = WALLS,
              margin: int = 0) -> Room:
    """A room of `walls` walls. 'lab' rooms are the known environments (painted walls, the
    clutter of a lab); 'unseen' rooms are finished with textures no lab room has (brick, tiles,
    blinds, wood planks) and are only ever used by the test-unseen split. `margin` [px] widens
    the panorama on every side for views on a canvas that many pixels larger (attitude.canvas)."""
    if style not in STYLES:
        raise ValueError(style)
    pad_u = int(math.ceil(cam.fx * YAW_RANGE)) + 2 + margin
    wall_distance = float(rng.uniform(4.5, 9.0))
    pad_v = int(math.ceil(cam.fy * (math.tan(PITCH_RANGE) + ALTITUDE_SPAN / wall_distance))) + 2 + margin
    wall_tone = float(rng.uniform(0.15, 0.65))
    floor_tone = float(rng.uniform(0.08, 0.55))
    built = [_wall(rng, cam, pad_u, pad_v, wall_distance, wall_tone * float(rng.uniform(0.8, 1.25)), floor_tone, style)
             for _ in range(walls)]
    return Room(built, pad_u, pad_v, wall_distance, style)


def _wall(rng, cam, pad_u, pad_v, wall_distance, wall, floor, style) -> Wall:
    h, w = cam.height + 2 * pad_v, cam.width + 2 * pad_u
    scale = cam.width / 160.0  # clutter sizes in 160x96 pixels, scaled to the frame size
    floor_row = int(round(pad_v + cam.cy + cam.fy * ALTITUDE_REF / wall_distance))

    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.arange(w, dtype=np.float32)[None, :]
    pano = wall * (1.0 + float(rng.uniform(-0.25, 0.25)) * (rows / h - 0.5) + float(rng.uniform(-0.3, 0.3)) * (cols / w - 0.5))
    pano = pano * _smooth_noise(rng, h, w, 0.15)
    if style == "unseen":
        pano = pano * _texture(rng, h, w, scale, TEXTURES[int(rng.integers(len(TEXTURES)))])
    # wall segments (room corners, alcoves): piecewise brightness steps across columns
    for c in np.sort(rng.integers(0, w, size=rng.integers(0, 3))):
        pano[:, c:] *= float(rng.uniform(0.7, 1.3))
    # the floor below the wall's base line, brighter or darker, with a distance gradient
    depth_ramp = (rows[floor_row:] - floor_row) / max(h - floor_row, 1)
    pano[floor_row:] = floor * (1.0 + float(rng.uniform(-0.4, 0.4)) * depth_ramp) * _smooth_noise(rng, h - floor_row, w, 0.1)
    if style == "unseen":  # tiled or checkered floors
        pano[floor_row:] *= _texture(rng, h - floor_row, w, scale, "tiles")
    # the window: a bright rectangle in the upper wall, near the middle of the panorama
    glass = np.zeros((h, w), np.float32)
    ww, wh = rng.uniform(20, 45) * scale, rng.uniform(18, 35) * scale
    wc0 = w / 2 + rng.uniform(-0.35, 0.35) * cam.width - ww / 2
    wr1 = floor_row - rng.uniform(12, 25) * scale
    _rect(glass, wr1 - wh, wr1, wc0, wc0 + ww, 1.0)

    def tone():  # most clutter is near the wall's own tone; some stands out
        return float(np.clip(wall * math.exp(rng.normal(0.0, 0.35)), 0.03, 0.95)) if rng.random() < 0.75 else float(rng.uniform(0.03, 0.95))

    for _ in range(int(rng.integers(2, 9))):  # doors, posters, shelves on the wall
        rw, rh = rng.uniform(8, 45) * scale, rng.uniform(8, 50) * scale
        c0 = rng.uniform(-rw / 2, w - rw / 2)
        on_floor = rng.random() < 0.35
        r1 = floor_row if on_floor else rng.uniform(pad_v - 10 * scale, floor_row - 4 * scale)
        r0 = r1 - rh
        value = float(rng.uniform(1.1, 2.0)) if rng.random() < 0.08 else tone()
        _rect(pano, r0, r1, c0, c0 + rw, value)
        _rect(glass, r0, r1, c0, c0 + rw, 0.0)  # in front of the window
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
        _rect(glass, r1 - rh, r1, c0, c0 + rw, 0.0)
    blobs = Layer(h, w)  # round things: lamps, plants, coats on hooks (person-like dark blobs)
    for _ in range(int(rng.integers(0, 4))):
        cu, cv = rng.uniform(0, w), rng.uniform(pad_v, floor_row)
        if rng.random() < 0.6:
            blobs.paint(blobs.ellipse((cu, cv), rng.uniform(2, 12) * scale, rng.uniform(2, 12) * scale), tone())
        else:
            length = rng.uniform(8, 30) * scale
            blobs.paint(blobs.capsule((cu, cv), (cu, cv + length), rng.uniform(2, 6) * scale), tone())
    pano = blobs.value + pano * (1.0 - blobs.alpha)
    glass = glass * (1.0 - blobs.alpha)
    for _ in range(int(rng.integers(0, 6))):  # thin lines: cables, edges, pipes
        if rng.random() < 0.5:
            c = rng.uniform(0, w)
            _rect(pano, rng.uniform(0, h / 2), rng.uniform(h / 2, h), c, c + max(1.0, scale * rng.uniform(0.5, 2)), tone())
        else:
            r = rng.uniform(0, h)
            _rect(pano, r, r + max(1.0, scale * rng.uniform(0.5, 2)), rng.uniform(0, w / 2), rng.uniform(w / 2, w), tone())
    return Wall(pano.astype(np.float32), glass.astype(np.float32))


def _texture(rng, h, w, scale, kind) -> np.ndarray:
    """A multiplicative surface pattern (mean about 1) of a wall or floor finish."""
    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.arange(w, dtype=np.float32)[None, :]
    contrast = float(rng.uniform(0.15, 0.4))
    if kind == "brick":
        bh = float(rng.uniform(3.0, 7.0)) * scale
        course = np.floor(rows / bh)
        bw = bh * float(rng.uniform(2.0, 3.0))
        offset = (course % 2) * bw / 2
        brick = np.floor((cols + offset) / bw)
        tone = 1.0 + contrast * 0.5 * np.sin(course * 12.9898 + brick * 78.233) ** 3
        mortar = (((rows % bh) < max(scale, 0.8)) | (((cols + offset) % bw) < max(scale, 0.8)))
        return np.where(mortar, 1.0 + contrast, tone).astype(np.float32)
    if kind == "tiles":
        side = float(rng.uniform(5.0, 12.0)) * scale
        checker = ((np.floor(rows / side) + np.floor(cols / side)) % 2) * 2 - 1
        grout = ((rows % side) < max(scale, 0.8)) | ((cols % side) < max(scale, 0.8))
        out = 1.0 + contrast * 0.6 * checker * float(rng.random() < 0.5)
        return np.where(grout, 1.0 - contrast, out).astype(np.float32) * np.ones((h, w), np.float32)
    if kind == "blinds":
        period = float(rng.uniform(2.5, 5.0)) * scale
        return (1.0 + contrast * np.sign(np.sin(2 * math.pi * rows / period)) * np.ones((1, w))).astype(np.float32)
    # planks: vertical boards with a fine grain
    pw = float(rng.uniform(6.0, 14.0)) * scale
    board = np.floor(cols / pw)
    grain = 0.5 * contrast * np.sin(cols * 2.3 + 3.0 * np.sin(rows * 0.21 + board))
    seam = (cols % pw) < max(scale, 0.8)
    return np.where(seam, 1.0 - contrast, 1.0 + grain + 0.5 * contrast * np.sin(board * 43.1)).astype(np.float32)


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


def draw_occluder(layer: Layer, cam: Camera, pitch: float, occ, t: int, cut_behind: bool = False) -> tuple:
    """Paint the occluder at frame t; returns its image-space centre (u, v) for motion blur.

    A close occluder under strong pitch can reach behind the camera plane; with `cut_behind` it
    is cut where its end, far outside the view, is still in front (the visible part is
    unchanged). Without it such a frame gets NaN pixels (a black patch once cast to uint8): 89
    frames of the version-3 test split have one, kept so the known splits stay byte-identical
    to those the shipped models were measured on (docs/decisions.md D24)."""
    y = occ.y_at(t)
    z_top, z_bottom = occ.z_top, occ.z_bottom
    c, s = math.cos(pitch), math.sin(pitch)
    if cut_behind and occ.depth * c - z_top * s < NEAR_M:
        z_top = (occ.depth * c - 2 * NEAR_M) / s
    if cut_behind and occ.depth * c - z_bottom * s < NEAR_M:
        z_bottom = (occ.depth * c - 2 * NEAR_M) / s
    corners = np.array([
        [occ.depth, y + occ.width / 2, z_top],
        [occ.depth, y - occ.width / 2, z_top],
        [occ.depth, y - occ.width / 2, z_bottom],
        [occ.depth, y + occ.width / 2, z_bottom],
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


# Illumination and exposure. Scene radiance = reflectance * ILLUMINATION * exp(log_light); the
# auto-exposure scales it by exp(log_e), exposure time first (up to the frame time) and analog gain
# beyond (up to MAX_GAIN), aiming the frame's mean at AE_TARGET from the previous frame's statistics.
ILLUMINATION = 2.5
AE_TARGET = 0.38
MAX_GAIN = 4.0
MIN_EXPOSURE = 0.02  # of the frame time
EXPOSURE_WINDOW = 0.8  # longest exposure, as a fraction of the frame time (sets motion blur)
REGIMES = ("lab", "dim", "side", "flicker")  # lighting; all but "lab" are only in test-unseen


@dataclass
class Sensor:
    """Per-sequence photometric parameters of the HM01B0-like sensor, and its exposure state."""

    gamma: float
    black: float  # black level pedestal (fraction of full scale)
    read_noise: float  # at unit gain
    shot_noise: float
    row_noise: float  # at unit gain
    optical_blur: float  # Gaussian sigma [px]
    light_field: np.ndarray  # (H, W): uneven illumination times vignetting
    ae_rate: float  # fraction of the exposure error the auto-exposure corrects per frame
    log_light_offset: float  # the lighting regime's level
    banding: tuple  # (amplitude, period [rows], drift [periods per frame]): mains flicker, rolling shutter
    log_e: float = 0.0  # current exposure (log of time fraction x gain)
    frame: int = 0

    @property
    def exposure_time(self) -> float:
        """Exposure time as a fraction of EXPOSURE_WINDOW (motion blur scales with it)."""
        return float(min(math.exp(self.log_e), 1.0))

    @property
    def gain(self) -> float:
        return float(max(math.exp(self.log_e), 1.0))

    def settle(self, scene: np.ndarray, log_light: float) -> None:
        """Start a sequence with the exposure already converged on this scene."""
        self.log_e = self._wanted(scene, log_light)

    def _wanted(self, scene, log_light) -> float:
        mean = float(np.mean(scene * self.light_field)) * ILLUMINATION * math.exp(log_light + self.log_light_offset)
        wanted = math.log(AE_TARGET / max(mean, 1e-6))
        return float(np.clip(wanted, math.log(MIN_EXPOSURE), math.log(MAX_GAIN)))

    def capture(self, rng: np.random.Generator, scene: np.ndarray, log_light: float) -> np.ndarray:
        """One frame at the current exposure; then the auto-exposure steps towards this frame's
        target, so it lags a change of light by a few frames, as the HM01B0's does."""
        if self.optical_blur > 0:  # the small plastic lens is never quite sharp
            scene = ndimage.gaussian_filter(scene, self.optical_blur, mode="nearest", truncate=2.5)
        radiance = scene * self.light_field * (ILLUMINATION * math.exp(log_light + self.log_light_offset))
        amp, period, drift = self.banding
        if amp > 0:
            rows = np.arange(scene.shape[0], dtype=np.float32)[:, None]
            radiance = radiance * (1.0 + amp * np.sin(2 * math.pi * (rows / period + drift * self.frame)))
        gain = self.gain
        lin = radiance * math.exp(self.log_e) * (1.0 + 0.01 * float(rng.standard_normal()))
        # noise grows with the analog gain: shot noise with the signal, read and row noise with the gain
        sigma = np.sqrt((self.read_noise * gain) ** 2 + self.shot_noise * gain * np.maximum(lin, 0.0))
        lin = lin + sigma * rng.standard_normal(lin.shape, dtype=np.float32)
        lin += self.row_noise * gain * rng.standard_normal((lin.shape[0], 1), dtype=np.float32)
        lin = self.black + (1.0 - self.black) * lin
        out = 255.0 * np.clip(lin, 0.0, 1.0) ** (1.0 / self.gamma)
        self.log_e += self.ae_rate * (self._wanted(scene, log_light) - self.log_e)
        self.frame += 1
        return np.rint(out).astype(np.uint8)


def make_sensor(rng: np.random.Generator, cam: Camera, regime: str = "lab") -> Sensor:
    """The sensor of one sequence; `regime` is its lighting (REGIMES): the known 'lab' lighting,
    or one only test-unseen has: 'dim' (a dark room, the sensor at high gain), 'side' (strong
    light from one side) or 'flicker' (mains-powered lamps banding the rolling-shutter frame)."""
    if regime not in REGIMES:
        raise ValueError(regime)
    u = (np.arange(cam.width, dtype=np.float32)[None, :] + 0.5 - cam.cx) / cam.cx
    v = (np.arange(cam.height, dtype=np.float32)[:, None] + 0.5 - cam.cy) / cam.cx
    vignetting = 1.0 - float(rng.uniform(0.15, 0.45)) * (u * u + v * v)
    side = 0.25 if regime != "side" else float(rng.uniform(0.5, 0.75))
    light = 1.0 + float(rng.choice([-1.0, 1.0]) * rng.uniform(0.0, side)) * u + float(rng.uniform(-0.2, 0.2)) * v
    light = np.maximum(light, 0.1)
    offset = float(rng.uniform(-1.9, -1.3)) if regime == "dim" else float(rng.uniform(-0.3, 0.3))
    banding = (float(rng.uniform(0.08, 0.18)), float(rng.uniform(14.0, 40.0)) * cam.height / 96.0,
               float(rng.uniform(0.1, 0.4))) if regime == "flicker" else (0.0, 1.0, 0.0)
    return Sensor(
        gamma=float(rng.uniform(0.85, 1.25)),
        black=float(rng.uniform(0.02, 0.06)),
        read_noise=float(rng.uniform(0.006, 0.018)),
        shot_noise=float(rng.uniform(0.0005, 0.002)),
        row_noise=float(rng.uniform(0.0, 0.008)),
        optical_blur=float(rng.uniform(0.35, 0.9)) * cam.width / 160.0,
        light_field=(vignetting * light).astype(np.float32),
        ae_rate=float(rng.uniform(0.12, 0.3)),
        log_light_offset=offset,
        banding=banding,
    )
