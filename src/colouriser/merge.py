"""Merge the full-resolution lightness with the upsampled colour into an sRGB image."""

from __future__ import annotations

import numpy as np
import torch

from .colour import lab_to_rgb

MAX_CHROMA = 110.0


def merge(light: torch.Tensor, ab: torch.Tensor, saturation: float = 1.0) -> np.ndarray:
    """L (1, 1, H, W) + ab (1, 2, H, W) -> sRGB (H, W, 3) float32 in 0..1.

    ``saturation`` scales the chroma; ab is clipped to the bins' range before the conversion back,
    and whatever still falls outside sRGB is clipped there (rare: the gamut is fitted at working size).
    """
    ab = ab * saturation
    chroma = ab.norm(dim=1, keepdim=True)
    ab = ab * (MAX_CHROMA / chroma.clamp(min=MAX_CHROMA))
    rgb = lab_to_rgb(torch.cat([light, ab], 1))
    return rgb[0].permute(1, 2, 0).numpy()
