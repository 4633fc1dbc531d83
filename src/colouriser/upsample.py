"""Edge-aware upsampling of the predicted colour, guided by the full-resolution lightness.

This is the fast guided filter (He & Sun 2015): the linear model ab = A * L + b is fitted on windows
at the working size, and only its coefficients are upsampled, so the full-resolution work is a
bilinear resize and a multiply-add per pixel (memory-bound). kornia's ``guided_blur`` needs the guide
and the input at one resolution, which would mean filtering at full resolution, so the few lines of
the cross-resolution variant are written here on top of kornia's box filter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.filters import box_blur

RADIUS = 4  # window radius at the working size
EPS = 1e-3  # regularisation, in (L / 100) squared units: larger is smoother


def guided_upsample(ab_work: torch.Tensor, light_work: torch.Tensor, light_full: torch.Tensor,
                    radius: int = RADIUS, eps: float = EPS) -> torch.Tensor:
    """ab (B, 2, h, w) at the working size -> (B, 2, H, W), with edges following ``light_full``."""
    guide = light_work / 100
    k = (2 * radius + 1, 2 * radius + 1)
    mean_i = box_blur(guide, k, border_type="reflect")
    mean_p = box_blur(ab_work, k, border_type="reflect")
    cov_ip = box_blur(guide * ab_work, k, border_type="reflect") - mean_i * mean_p
    var_i = box_blur(guide * guide, k, border_type="reflect") - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    a = box_blur(a, k, border_type="reflect")
    b = box_blur(b, k, border_type="reflect")
    size = light_full.shape[-2:]
    if a.shape[-2:] != size:
        a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
        b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
    return a * (light_full / 100) + b
