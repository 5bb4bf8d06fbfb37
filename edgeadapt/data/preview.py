"""A contact sheet of frames (PNG) with the label's head position marked: to eyeball a dataset."""

import math
from pathlib import Path

import numpy as np

from edgeadapt.data.camera import Camera


def contact_sheet(frames, indices, columns: int = 6, mark: bool = True, scale: int = 2, pitch=None,
                  roll=None) -> np.ndarray:
    """uint8 RGB (rows*H*scale, columns*W*scale, 3): the frames, with a red dot where the label
    projects (with the camera pitch and roll of each frame when given)."""
    h, w = frames.size
    cam = Camera.for_size((w, h))
    indices = list(indices)
    rows = max(1, -(-len(indices) // columns))
    sheet = np.full((rows * (h + 2), columns * (w + 2), 3), 255, np.uint8)
    for k, i in enumerate(indices):
        tile = np.repeat(frames.images[i][:, :, None], 3, axis=2)
        if mark:
            u, v, _ = cam.project(frames.labels[i, :3], 0.0 if pitch is None else float(pitch[i]))
            if roll is not None:  # the image turns the other way about the principal point
                c, s = math.cos(roll[i]), math.sin(roll[i])
                du, dv = u - cam.cx, v - cam.cy
                u, v = cam.cx + c * du + s * dv, cam.cy - s * du + c * dv
            if np.isfinite(u) and np.isfinite(v):
                c, r = int(u), int(v)
                tile[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2] = (255, 0, 0)
        r0, c0 = (k // columns) * (h + 2), (k % columns) * (w + 2)
        sheet[r0 : r0 + h, c0 : c0 + w] = tile
    return np.repeat(np.repeat(sheet, scale, axis=0), scale, axis=1)


def save_png(path, image: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    mpimg.imsave(str(path), image)
