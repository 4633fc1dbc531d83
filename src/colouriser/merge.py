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

from .colour import LUMINANCE, lab_to_linear, linear_to_srgb

MAX_CHROMA = 110.0
_LINEAR_STEPS = 65535


def merge(light: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """L (1, 1, H, W) + ab (1, 2, H, W) -> sRGB (H, W, 3) float32 in 0..1, the whole image at once (the
    pipeline's banded :func:`merge_rows` gives the same). ab is capped at the bins' chroma before the conversion
    back, and the pixels still outside sRGB are brought in at their own luminance (see :func:`_fit_stray_pixels`).
    """
    lin = lab_to_linear(torch.cat([light, _limit(ab, 1)], 1))[0]
    _fit_stray_pixels(lin)
    return linear_to_srgb(lin.clamp_(0, 1)).permute(1, 2, 0).numpy()


def merge_rows(light: torch.Tensor, coef: torch.Tensor, out: np.ndarray) -> None:
    """One band: L (h, W), guided-filter coefficients (4, h, W) (A then b: ab = A * L / 100 + b) ->
    sRGB written into ``out`` (h, W, 3), uint8 (0..255) or float32 (0..1). The saturation is applied before,
    at the working size, where the gamut is fitted after it."""
    ab = torch.addcmul(coef[2:], coef[:2], light / 100)
    lab = torch.cat([light[None], _limit(ab, 0)], 0)
    lin = lab_to_linear(lab)
    _fit_stray_pixels(lin)
    target = torch.from_numpy(out)
    if out.dtype == np.uint8:
        index = lin.clamp_(0, 1).mul_(_LINEAR_STEPS).add_(0.5).to(torch.int32)
        target.copy_(_srgb_table()[index].permute(1, 2, 0))
    else:
        target.copy_(linear_to_srgb(lin.clamp_(min=0)).clamp_(0, 1).permute(1, 2, 0))


def _fit_stray_pixels(lin: torch.Tensor) -> None:
    """Bring the few pixels of ``lin`` (3, h, W) outside sRGB back in, at their own luminance.

    The colour is fitted to the gamut at the working size, but at full resolution the guided filter's edges
    (A * L + b across a lightness step) carry some pixels out of it. Clipped per RGB
    channel, those shift in lightness (by up to 9) and hue: small blotches along edges at a high saturation.
    Instead each is mixed, in linear light, with the grey of its own luminance (R = G = B = Y) just as far as
    it fits: luminance, so lightness, is kept exactly, and the hue moves along the line to white, much as chroma
    scaling does. Closed form, on the stray pixels only (a few percent, most of them dark pixels a hair under 0):
    the render takes 10-30% longer than with clipping. Continuous: a pixel on the gamut's edge is left as it is."""
    outside = (lin - 0.5).abs_().amax(0) > 0.5  # some channel under 0 or over 1, in one pass
    if not bool(outside.any()):
        return
    rgb = lin[:, outside]  # (3, N)
    y = LUMINANCE.to(rgb.dtype) @ rgb
    d = rgb - y
    inf = torch.full_like(d, torch.inf)
    reach = torch.where(d > 0, (1 - y) / d, torch.where(d < 0, -y / d, inf))  # how far each channel may go
    lin[:, outside] = y + d * reach.amin(0).clamp(max=1)


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
