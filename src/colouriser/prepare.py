"""Prepare a photo for the network: its full-resolution lightness and a copy at the working size."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .colour import rgb_to_lightness

DEFAULT_SIZE = 256  # long side of the network's input, in pixels
MIN_SIZE = 32


def lightness(rgb: np.ndarray) -> torch.Tensor:
    """CIE L (1, 1, H, W) of an sRGB image (H, W, 3) in 0..1; sepia or tinted scans lose their tint."""
    t = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)
    return rgb_to_lightness(t)[None]


def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """Scale so the long side is ``size`` (never up), rounded to a multiple of 4 for the stride-4 head."""
    if size < MIN_SIZE:
        raise ValueError(f"working size must be at least {MIN_SIZE} pixels, got {size}")
    scale = min(1.0, size / max(height, width))
    return max(4, round(height * scale / 4) * 4), max(4, round(width * scale / 4) * 4)


def to_working_size(light: torch.Tensor, size: int) -> torch.Tensor:
    h, w = working_shape(*light.shape[-2:], size)
    return F.interpolate(light, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
