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



def confidence(logits: torch.Tensor) -> torch.Tensor:
    """Per pixel, one minus the normalised entropy of the predicted colour distribution: 1 where the
    network is sure of one colour, 0 where every bin is equally likely. (B, 1, h/4, w/4)."""
    logp = F.log_softmax(logits, 1)
    entropy = -(logp.exp() * logp).sum(1, keepdim=True)
    return 1 - entropy / torch.log(torch.tensor(float(logits.shape[1])))


def smooth_noise(logits: torch.Tensor, generator: torch.Generator, cell: int = 8) -> torch.Tensor:
    """Gumbel noise for every bin that varies smoothly in space (drawn on a grid of ``cell``-pixel cells at
    the logits' resolution and resized), so a sample picks one colour per region instead of per pixel."""
    b, q, h, w = logits.shape
    gh, gw = max(2, -(-h // cell)), max(2, -(-w // cell))
    u = torch.rand(b, q, gh, gw, generator=generator).clamp(1e-6, 1 - 1e-6)
    gumbel = -torch.log(-torch.log(u))
    return F.interpolate(gumbel, size=(h, w), mode="bicubic", align_corners=False)


def pin_hints(ab: torch.Tensor, light: torch.Tensor, hint_ab: torch.Tensor, mask: torch.Tensor,
              radius: float = 3.0, tone: float = 10.0) -> torch.Tensor:
    """Make the colour at each hinted patch the hint's, fading out over ``radius`` pixels and across
    lightness edges (``tone`` L units), so a user's colour holds where it was placed."""
    if not bool(mask.any()):
        return ab
    ys, xs = torch.nonzero(mask[0, 0], as_tuple=True)
    h, w = ab.shape[-2:]
    yy = torch.arange(h, dtype=ab.dtype).view(h, 1)
    xx = torch.arange(w, dtype=ab.dtype).view(1, w)
    out = ab.clone()
    delta = (hint_ab - ab)[0, :, ys, xs]  # 2, K
    weight_sum = torch.zeros(h, w, dtype=ab.dtype)
    shift = torch.zeros(2, h, w, dtype=ab.dtype)
    for k in range(len(ys)):
        spatial = torch.exp(-((yy - ys[k]) ** 2 + (xx - xs[k]) ** 2) / (2 * radius**2))
        tonal = torch.exp(-((light[0, 0] - light[0, 0, ys[k], xs[k]]) ** 2) / (2 * tone**2))
        wk = spatial * tonal
        shift += delta[:, k].view(2, 1, 1) * wk
        weight_sum += wk
    out[0] += shift / weight_sum.clamp(min=1.0)
    return out
