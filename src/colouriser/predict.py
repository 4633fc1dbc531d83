"""Run the network at the working size and decode its colour distribution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .bins import annealed_mean
from .colour import lab_to_rgb


@torch.inference_mode()
def predict_logits(model: nn.Module, light: torch.Tensor, hint_ab: torch.Tensor | None = None,
                   hint_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Bin logits (B, Q, h/4, w/4) for lightness (B, 1, h, w)."""
    return model(light.contiguous(memory_format=torch.channels_last), hint_ab, hint_mask)


def decode_ab(logits: torch.Tensor, centres: torch.Tensor, temperature: float, size: tuple[int, int]) -> torch.Tensor:
    """Annealed-mean ab, bilinearly brought to ``size`` (the working size)."""
    ab = annealed_mean(logits, centres, temperature)
    return F.interpolate(ab, size=size, mode="bilinear", align_corners=False)


def fit_gamut(light: torch.Tensor, ab: torch.Tensor, steps: int = 6) -> torch.Tensor:
    """Shrink each pixel's chroma (hue kept) until L+ab is a displayable sRGB colour.

    Done at the working size so that the full-resolution merge has next to nothing left to clip.
    """
    lo = torch.zeros_like(light)
    hi = torch.ones_like(light)
    ok = _in_gamut(light, ab)
    if bool(ok.all()):
        return ab
    for _ in range(steps):  # bisection on the chroma factor, only where out of gamut
        mid = (lo + hi) / 2
        inside = _in_gamut(light, ab * mid)
        lo = torch.where(inside, mid, lo)
        hi = torch.where(inside, hi, mid)
    return torch.where(ok, ab, ab * lo)


def _in_gamut(light: torch.Tensor, ab: torch.Tensor, tol: float = 1e-3) -> torch.Tensor:
    rgb = lab_to_rgb(torch.cat([light, ab], 1), clip=False)
    return ((rgb >= -tol) & (rgb <= 1 + tol)).all(1, keepdim=True)

