"""Anti-aliased 2D rasterization of filled shapes into premultiplied layers, and motion blur.

Shapes are given by signed distance (pixels, negative inside); coverage = clip(0.5 - d, 0, 1) is
an area estimate good to a fraction of a pixel. Each shape only touches its bounding box, so a
frame of a dozen shapes costs well under a millisecond at 160x96.
"""

import math

import numpy as np


class Layer:
    """A premultiplied intensity plane `value` and its coverage `alpha`, both float32 (H, W)."""

    def __init__(self, height: int, width: int):
        self.height, self.width = height, width
        self.value = np.zeros((height, width), np.float32)
        self.alpha = np.zeros((height, width), np.float32)
        # pixel centres: column i is at u = i + 0.5 (camera.py convention)
        self._u = (np.arange(width, dtype=np.float32) + 0.5)[None, :]
        self._v = (np.arange(height, dtype=np.float32) + 0.5)[:, None]

    def box(self, umin, umax, vmin, vmax):
        """Slices of the pixels whose centres may lie within [umin, umax] x [vmin, vmax], or None."""
        if not all(math.isfinite(t) for t in (umin, umax, vmin, vmax)):
            return None
        c0, c1 = max(int(math.floor(umin)), 0), min(int(math.ceil(umax)) + 1, self.width)
        r0, r1 = max(int(math.floor(vmin)), 0), min(int(math.ceil(vmax)) + 1, self.height)
        if c0 >= c1 or r0 >= r1:
            return None
        return (slice(r0, r1), slice(c0, c1))

    def grid(self, sl):
        return self._u[:, sl[1]], self._v[sl[0], :]

    # --- coverage of primitive shapes: (slices, coverage) or None ---------------------------------
    def capsule(self, a, b, radius):
        """A segment a-b (pixel coordinates) thickened by radius."""
        r = max(float(radius), 0.3)
        sl = self.box(min(a[0], b[0]) - r - 1, max(a[0], b[0]) + r + 1, min(a[1], b[1]) - r - 1, max(a[1], b[1]) + r + 1)
        if sl is None:
            return None
        u, v = self.grid(sl)
        bx, by = b[0] - a[0], b[1] - a[1]
        pu, pv = u - a[0], v - a[1]
        t = np.clip((pu * bx + pv * by) / max(bx * bx + by * by, 1e-9), 0.0, 1.0)
        d = np.sqrt((pu - bx * t) ** 2 + (pv - by * t) ** 2) - r
        return sl, np.clip(0.5 - d, 0.0, 1.0)

    def ellipse(self, centre, ru, rv):
        ru, rv = max(float(ru), 0.3), max(float(rv), 0.3)
        sl = self.box(centre[0] - ru - 1, centre[0] + ru + 1, centre[1] - rv - 1, centre[1] + rv + 1)
        if sl is None:
            return None
        u, v = self.grid(sl)
        k = np.sqrt(((u - centre[0]) / ru) ** 2 + ((v - centre[1]) / rv) ** 2)
        return sl, np.clip(0.5 - (k - 1.0) * min(ru, rv), 0.0, 1.0)

    def polygon(self, points):
        """A convex polygon given by its corners (K, 2) in either winding order."""
        p = np.asarray(points, dtype=np.float64)
        if not np.isfinite(p).all():
            return None
        sl = self.box(p[:, 0].min() - 1, p[:, 0].max() + 1, p[:, 1].min() - 1, p[:, 1].max() + 1)
        if sl is None:
            return None
        u, v = self.grid(sl)
        q = np.roll(p, -1, axis=0)
        area2 = float(np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]))
        sign = 1.0 if area2 > 0 else -1.0
        d = None
        for (x0, y0), (x1, y1) in zip(p, q):
            ex, ey = x1 - x0, y1 - y0
            length = math.hypot(ex, ey)
            if length < 1e-9:
                continue
            # outward normal of a counter-clockwise (in u-right, v-down axes: area2 > 0) polygon
            nx, ny = sign * ey / length, -sign * ex / length
            de = (u - x0) * nx + (v - y0) * ny
            d = de if d is None else np.maximum(d, de)
        if d is None:
            return None
        return sl, np.clip(0.5 - d, 0.0, 1.0)

    # --- painting ---------------------------------------------------------------------------------
    def paint(self, shape, value, shade=0.0, centre_u=0.0, half_width=1.0):
        """Composite a shape over the layer. value * (1 + shade * (u - centre_u) / half_width)
        gives a horizontal light gradient across the part (the side facing the light is brighter)."""
        if shape is None:
            return
        sl, cov = shape
        if shade:
            u, _ = self.grid(sl)
            value = value * (1.0 + shade * np.clip((u - centre_u) / max(half_width, 0.5), -1.0, 1.0))
        keep = 1.0 - cov
        self.value[sl] = value * cov + self.value[sl] * keep
        self.alpha[sl] = cov + self.alpha[sl] * keep


def intersect(shape, mask_shape):
    """Coverage of `shape` restricted to `mask_shape` (both from the same layer)."""
    if shape is None or mask_shape is None:
        return None
    (sl, cov), (msl, mcov) = shape, mask_shape
    r0, r1 = max(sl[0].start, msl[0].start), min(sl[0].stop, msl[0].stop)
    c0, c1 = max(sl[1].start, msl[1].start), min(sl[1].stop, msl[1].stop)
    if r0 >= r1 or c0 >= c1:
        return None
    a = cov[r0 - sl[0].start : r1 - sl[0].start, c0 - sl[1].start : c1 - sl[1].start]
    b = mcov[r0 - msl[0].start : r1 - msl[0].start, c0 - msl[1].start : c1 - msl[1].start]
    return (slice(r0, r1), slice(c0, c1)), a * b


def motion_blur(planes, du: float, dv: float, max_taps: int = 9):
    """Average of shifted copies along (du, dv) pixels, centred so the blurred object stays where
    it is at mid-exposure (labels remain exact). Borders repeat the edge pixels."""
    length = math.hypot(du, dv)
    if not length >= 0.75:  # also a motion that could not be projected (NaN)
        return planes
    taps = min(int(math.ceil(length)) + 1, max_taps)
    steps = np.linspace(-0.5, 0.5, taps)
    offsets = [(int(round(s * dv)), int(round(s * du))) for s in steps]
    pad_r = max(abs(o[0]) for o in offsets)
    pad_c = max(abs(o[1]) for o in offsets)
    out = []
    for plane in planes:
        h, w = plane.shape
        padded = np.pad(plane, ((pad_r, pad_r), (pad_c, pad_c)), mode="edge")
        acc = np.zeros_like(plane)
        for dr, dc in offsets:
            acc += padded[pad_r - dr : pad_r - dr + h, pad_c - dc : pad_c - dc + w]
        out.append(acc / taps)
    return out
