"""Edge-aware upsampling of the predicted colour, guided by the full-resolution lightness.

This is the fast guided filter (He & Sun 2015): the linear model ab = A * L + b is fitted on windows
at the working size, and only its coefficients are upsampled, so the full-resolution work is a
bilinear resize and a multiply-add per pixel (memory-bound). kornia's ``guided_blur`` needs the guide
and the input at one resolution, which would mean filtering at full resolution, so the few lines of
the cross-resolution variant are written here on top of kornia's box filter.

For big photos the coefficients are resized a band of rows at a time (:class:`CoefficientRows`): first
across, once, to the full width at the working height (small: h x W), then down, for just the rows of a
band, so nothing of the full size but the result is ever held.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.filters import box_blur

# Window radius at the working size. The filter box-blurs twice in a row (the window statistics, then the fitted
# coefficients), each over (2r + 1)^2 pixels of the working size, so it smooths the colour on top of the network's
# stride-4 grid: radius 4 cost the true colour on that grid 1.6 dB and a classifier's agreement 72.5% against
# 77.5%, and our colouring agreement 52.8% against 56.7% at 0.04 dB less PSNR, against radius 1
# (benchmarks/upsampling.py; README, How it works).
RADIUS = 1
EPS = 1e-3  # regularisation, in (L / 100) squared units: larger is smoother


def guided_coefficients(ab_work: torch.Tensor, light_work: torch.Tensor, radius: int = RADIUS,
                        eps: float = EPS) -> torch.Tensor:
    """The guided filter's linear model at the working size: (B, 4, h, w) = A (2 channels), then b (2),
    with ab = A * L / 100 + b."""
    guide = light_work / 100
    k = (2 * radius + 1, 2 * radius + 1)
    mean_i = box_blur(guide, k, border_type="reflect")
    mean_p = box_blur(ab_work, k, border_type="reflect")
    cov_ip = box_blur(guide * ab_work, k, border_type="reflect") - mean_i * mean_p
    var_i = box_blur(guide * guide, k, border_type="reflect") - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return torch.cat([box_blur(a, k, border_type="reflect"), box_blur(b, k, border_type="reflect")], 1)


def guided_upsample(ab_work: torch.Tensor, light_work: torch.Tensor, light_full: torch.Tensor,
                    radius: int = RADIUS, eps: float = EPS) -> torch.Tensor:
    """ab (B, 2, h, w) at the working size -> (B, 2, H, W), with edges following ``light_full``."""
    coef = guided_coefficients(ab_work, light_work, radius, eps)
    size = light_full.shape[-2:]
    if coef.shape[-2:] != size:
        coef = F.interpolate(coef, size=size, mode="bilinear", align_corners=False)
    return coef[:, :2] * (light_full / 100) + coef[:, 2:]


class CoefficientRows:
    """Bilinear resizing (as ``F.interpolate(..., mode="bilinear", align_corners=False)``) of the
    coefficients (1, C, h, w) to (H, W), served a band of rows at a time."""

    def __init__(self, coef: torch.Tensor, height: int, width: int) -> None:
        h = coef.shape[-2]
        self.across = F.interpolate(coef, size=(h, width), mode="bilinear", align_corners=False)[0]  # C, h, W
        self.height = height
        self.scale = h / height

    def rows(self, top: int, bottom: int) -> torch.Tensor:
        """(C, bottom - top, W) rows of the full-size coefficients."""
        h = self.across.shape[1]
        if h == self.height:
            return self.across[:, top:bottom]
        y = torch.arange(top, bottom, dtype=torch.float64)
        src = ((y + 0.5) * self.scale - 0.5).clamp(min=0)
        upper = src.floor().long().clamp(max=h - 1)
        lower = (upper + 1).clamp(max=h - 1)
        weight = (src - upper).to(torch.float32).view(1, -1, 1)
        return torch.lerp(self.across.index_select(1, upper), self.across.index_select(1, lower), weight)
