"""Pinhole model of the Himax HM01B0 as used on the AI-deck.

PULP-Frontnet's frames are 160x96 crops of 160x160 images whose 160 columns span about 85 degrees
(the IMAV'22 pitch augmentation crops 96 rows of a 85 deg image). So fx = fy = 80 / tan(42.5 deg)
= 87.3 px at 160x96 (43.65 px at 80x48), principal point at the image centre, no distortion; the
96 rows then span 2 atan(48 / 87.3) = 57.6 deg (the "51 deg" of the literature is 85 * 96 / 160).

Frames: the drone's horizontal frame has x forward, y left, z up (metres). Image coordinates are
continuous: pixel column i covers u in [i, i + 1), so its centre is i + 0.5; the centre of the image
is (W / 2, H / 2), which keeps a horizontal flip exactly equal to y -> -y.
"""

import math
from dataclasses import dataclass

import numpy as np

from edgeadapt.errors import EdgeadaptError

HFOV_DEG = 85.0
SIZES = {"160x96": (160, 96), "80x48": (80, 48)}  # name -> (width, height)
NEAR_M = 0.05  # points closer than this to the camera plane are not projected


def parse_size(size) -> tuple:
    """'160x96' -> (160, 96); only the two PULP-Frontnet sizes are supported."""
    text = str(size).strip().lower()
    if text not in SIZES:
        raise EdgeadaptError(f"unsupported image size '{size}' (expected one of {', '.join(SIZES)})")
    return SIZES[text]


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def for_size(cls, size) -> "Camera":
        width, height = parse_size(size) if isinstance(size, str) else size
        f = (width / 2.0) / math.tan(math.radians(HFOV_DEG / 2.0))
        return cls(width, height, f, f, width / 2.0, height / 2.0)

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2 * math.atan(self.cx / self.fx))

    @property
    def vfov_deg(self) -> float:
        return math.degrees(2 * math.atan(self.cy / self.fy))

    def project(self, points, pitch: float = 0.0):
        """Points (..., 3) in the drone's horizontal frame -> (u, v, depth), each (...).

        pitch [rad] tilts the camera nose-down (positive) about the y axis; depth is the distance
        along the optical axis. Points with depth < NEAR_M get u = v = nan.
        """
        p = np.asarray(points, dtype=np.float64)
        c, s = math.cos(pitch), math.sin(pitch)
        depth = p[..., 0] * c - p[..., 2] * s
        up = p[..., 0] * s + p[..., 2] * c
        safe = np.where(depth >= NEAR_M, depth, np.nan)
        u = self.cx - self.fx * p[..., 1] / safe
        v = self.cy - self.fy * up / safe
        return u, v, depth

    def to_dict(self) -> dict:
        return {
            "model": "pinhole",
            "width": self.width,
            "height": self.height,
            "fx": round(self.fx, 6),
            "fy": round(self.fy, 6),
            "cx": self.cx,
            "cy": self.cy,
            "hfov_deg": round(self.hfov_deg, 4),
            "vfov_deg": round(self.vfov_deg, 4),
            "frame": "x forward, y left, z up; u right, v down; pixel i spans [i, i+1)",
        }
