"""Show a 0..1 map (the confidence map) as a colour heat-map image, and overlay it on a photo."""

from __future__ import annotations

import numpy as np

# viridis at five stops: dark purple (unsure) -> blue -> green -> yellow (sure)
_STOPS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float32) / 255


def heatmap(values: np.ndarray) -> np.ndarray:
    """(H, W) in 0..1 -> (H, W, 3) sRGB in 0..1."""
    v = np.clip(values, 0, 1) * (len(_STOPS) - 1)
    low = np.floor(v).astype(int).clip(0, len(_STOPS) - 2)
    t = (v - low)[..., None]
    return _STOPS[low] * (1 - t) + _STOPS[low + 1] * t


def overlay(rgb: np.ndarray, values: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    return rgb * (1 - opacity) + heatmap(values) * opacity
