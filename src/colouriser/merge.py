"""Merge the full-resolution lightness with the upsampled colour into an sRGB image.

:func:`merge_rows` does it for one band of rows, fused with the guided filter's multiply-add, writing
straight into a band of the (preallocated) output; uint8 output skips the sRGB gamma's power function
by a lookup on the linear value (65536 steps: the result differs from rounding the exact value only
where that lies within 1/40 of a level of a rounding boundary).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from .colour import lab_to_linear, linear_to_srgb

MAX_CHROMA = 110.0
_LINEAR_STEPS = 65535


def merge(light: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """L (1, 1, H, W) + ab (1, 2, H, W) -> sRGB (H, W, 3) float32 in 0..1, the whole image at once (the
    pipeline's banded :func:`merge_rows` gives the same). ab is capped at the bins' chroma before the conversion
    back, and whatever still falls outside sRGB is clipped (little: the gamut is fitted at the working size).
    """
    lin = lab_to_linear(torch.cat([light, _limit(ab, 1)], 1))[0]
    return linear_to_srgb(lin.clamp_(0, 1)).permute(1, 2, 0).numpy()


def merge_rows(light: torch.Tensor, coef: torch.Tensor, out: np.ndarray) -> None:
    """One band: L (h, W), guided-filter coefficients (4, h, W) (A then b: ab = A * L / 100 + b) ->
    sRGB written into ``out`` (h, W, 3), uint8 (0..255) or float32 (0..1). The saturation is applied before,
    at the working size, where the gamut is fitted after it."""
    ab = torch.addcmul(coef[2:], coef[:2], light / 100)
    lab = torch.cat([light[None], _limit(ab, 0)], 0)
    lin = lab_to_linear(lab)
    target = torch.from_numpy(out)
    if out.dtype == np.uint8:
        index = lin.clamp_(0, 1).mul_(_LINEAR_STEPS).add_(0.5).to(torch.int32)
        target.copy_(_srgb_table()[index].permute(1, 2, 0))
    else:
        target.copy_(linear_to_srgb(lin.clamp_(min=0)).clamp_(0, 1).permute(1, 2, 0))


def _limit(ab: torch.Tensor, dim: int) -> torch.Tensor:
    """Cap the chroma at MAX_CHROMA, hue kept."""
    a, b = ab.unbind(dim)
    chroma = torch.hypot(a, b).unsqueeze(dim)  # not norm(dim=...): a strided reduction, 50x slower here
    return ab * (MAX_CHROMA / chroma.clamp_(min=MAX_CHROMA))


@cache
def _srgb_table() -> torch.Tensor:
    """uint8 sRGB code of each linear value i / 65535."""
    lin = torch.arange(_LINEAR_STEPS + 1, dtype=torch.float64) / _LINEAR_STEPS
    return (linear_to_srgb(lin) * 255).round().clamp(0, 255).to(torch.uint8)
