"""Prepare a photo for the network: its full-resolution lightness and a copy at the working size.

The lightness is computed a band of rows at a time straight from the decoded pixels (uint8, uint16 or
float), so no full-resolution float RGB copy is ever made: 4 bytes a pixel for L instead of 12 + 4.
For integer pixels the sRGB decoding is a lookup table (256 or 65536 entries) computed with the very
functions the float path uses, so the values are the same.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

from .colour import _RGB_TO_XYZ, rgb_to_lightness, srgb_to_linear
from .load import pixel_scale
from .tiles import row_bands

DEFAULT_SIZE = 256  # long side of the network's input, in pixels
MIN_SIZE = 32
_EPS = 216 / 24389
_KAPPA = 24389 / 27


def lightness(pixels: np.ndarray) -> torch.Tensor:
    """CIE L (1, 1, H, W) of an sRGB image: (H, W, 3) or greyscale (H, W); float in 0..1, uint8 or uint16.
    Sepia or tinted scans lose their tint."""
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] < 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {pixels.shape}")
    height, width = pixels.shape[:2]
    out = torch.empty(1, 1, height, width)
    for top, bottom in row_bands(height, width):
        out[0, 0, top:bottom] = lightness_rows(pixels[top:bottom])
    return out


def lightness_rows(pixels: np.ndarray) -> torch.Tensor:
    """CIE L (h, W) float32 of a band of pixels (h, W) or (h, W, 3)."""
    scale = pixel_scale(pixels)
    integer = pixels.dtype != np.float32 and pixels.dtype.kind != "f"
    if pixels.ndim == 2:
        if integer:
            return _grey_table(int(scale))[_as_index(pixels)]
        rgb = torch.from_numpy(np.ascontiguousarray(pixels, np.float32))[None].expand(3, -1, -1)
        return rgb_to_lightness(rgb)[0]
    if not integer:
        rgb = torch.from_numpy(np.ascontiguousarray(pixels[..., :3], np.float32)).permute(2, 0, 1)
        return rgb_to_lightness(rgb)[0]
    linear = _linear_table(int(scale))
    r, g, b = (linear[_as_index(pixels[..., c])] for c in range(3))
    w = _RGB_TO_XYZ[1].to(torch.float32)
    y = r * w[0] + g * w[1] + b * w[2]
    return torch.where(y > _EPS, 116 * y.clamp(min=_EPS) ** (1 / 3) - 16, _KAPPA * y)


def _as_index(channel: np.ndarray) -> torch.Tensor:
    """Integer pixels as an index tensor (int32: indexing with uint8 would mean a mask)."""
    return torch.from_numpy(channel.astype(np.int32))


@cache
def _linear_table(top: int) -> torch.Tensor:
    """Linear-light value of each integer sRGB code 0..top, as the float path computes it."""
    codes = torch.from_numpy(np.divide(np.arange(top + 1), np.float32(top), dtype=np.float32))
    return srgb_to_linear(codes)


@cache
def _grey_table(top: int) -> torch.Tensor:
    """CIE L of each grey code 0..top (R = G = B), as the float path computes it."""
    codes = torch.from_numpy(np.divide(np.arange(top + 1), np.float32(top), dtype=np.float32))
    return rgb_to_lightness(codes.view(1, 1, -1).expand(3, 1, -1))[0, 0]


def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """Scale so the long side is ``size`` (never up), rounded to a multiple of 4 for the stride-4 head."""
    if size < MIN_SIZE:
        raise ValueError(f"working size must be at least {MIN_SIZE} pixels, got {size}")
    scale = min(1.0, size / max(height, width))
    return max(4, round(height * scale / 4) * 4), max(4, round(width * scale / 4) * 4)


def to_working_size(light: torch.Tensor, size: int) -> torch.Tensor:
    h, w = working_shape(*light.shape[-2:], size)
    return F.interpolate(light, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
