"""Distribution shifts for the test-time-dropout experiment: pixel noise and rotation, in NumPy.

Both take images flattened to (N, 784) in [0, 1] (as learners receive them) and return the same
shape and dtype, deterministically for a given seed.
"""

from __future__ import annotations

import math

import numpy as np

SIDE = 28


def pixel_noise(x: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Add N(0, sigma^2) to every pixel and clip to [0, 1]."""
    noise = np.random.default_rng([seed, 0xA0]).normal(0.0, sigma, x.shape)
    return np.clip(x + noise, 0.0, 1.0).astype(x.dtype)


def rotate(x: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate each 28x28 image by ``degrees`` counter-clockwise about its centre (bilinear,
    zero outside the image).

    >>> img = np.zeros((1, 784), np.float32); img[0, 14 * 28 + 20] = 1.0  # right of centre
    >>> int(rotate(img, 90).reshape(28, 28).argmax()) // 28 < 14          # now above it
    True
    """
    images = x.reshape(-1, SIDE, SIDE).astype(np.float64)
    c = (SIDE - 1) / 2.0
    theta = math.radians(degrees)
    rows, cols = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    # Each output pixel samples the input at the inverse rotation of its position (row axis down).
    dy, dx = rows - c, cols - c
    src_x = math.cos(theta) * dx - math.sin(theta) * dy + c
    src_y = math.sin(theta) * dx + math.cos(theta) * dy + c
    x0, y0 = np.floor(src_x).astype(int), np.floor(src_y).astype(int)
    fx, fy = src_x - x0, src_y - y0
    out = np.zeros_like(images)
    for oy, ox, w in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)),
                      (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        yy, xx = y0 + oy, x0 + ox
        inside = (yy >= 0) & (yy < SIDE) & (xx >= 0) & (xx < SIDE)
        vals = images[:, np.clip(yy, 0, SIDE - 1), np.clip(xx, 0, SIDE - 1)]
        out += np.where(inside, w, 0.0) * vals
    return out.reshape(x.shape).astype(x.dtype)
