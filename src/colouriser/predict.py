"""Run the network at the working size and decode its colour distribution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .bins import annealed_mean
from .colour import ChromaLine, channel_range, srgb_bounds_in_linear


@torch.inference_mode()
def predict_logits(model: nn.Module, light: torch.Tensor, hint_ab: torch.Tensor | None = None,
                   hint_mask: torch.Tensor | None = None, flip_average: bool = False) -> torch.Tensor:
    """Bin logits (B, Q, h/4, w/4), or (B, Q, h/2, w/2) with a fine branch, for lightness (B, 1, h, w).

    ``flip_average``: run the network on the mirror image too and return the mean of the two logits (the mirror's
    mirrored back): after a softmax, which a per-pixel constant does not change, that is the normalised geometric
    mean of the two distributions, and the annealed mean, the variants and the confidence map all read it through
    one. Twice the network's time, for a colour that no longer depends on which way the photo faces (README:
    Colourise photos)."""
    logits = model(light.contiguous(memory_format=torch.channels_last), hint_ab, hint_mask)
    if not flip_average:
        return logits
    mirror = model(_mirror(light).contiguous(memory_format=torch.channels_last), _mirror(hint_ab), _mirror(hint_mask))
    return (logits + mirror.flip(-1)) / 2


def _mirror(x: torch.Tensor | None) -> torch.Tensor | None:
    return None if x is None else x.flip(-1)


def decode_ab(logits: torch.Tensor, centres: torch.Tensor, temperature: float, size: tuple[int, int]) -> torch.Tensor:
    """Annealed-mean ab, bilinearly brought to ``size`` (the working size)."""
    ab = annealed_mean(logits, centres, temperature)
    return F.interpolate(ab, size=size, mode="bilinear", align_corners=False)


CHROMA_FLOOR = 3.3  # mean ab chroma an automatic colouring is lifted to (evaluation calls under 3 "left grey")
MAX_LIFT = 2.0  # never scale the colour more than this: near-zero colour is a guess too weak to amplify


def lift_chroma(light: torch.Tensor, ab: torch.Tensor, floor: float = CHROMA_FLOOR,
                max_lift: float = MAX_LIFT, rounds: int = 4) -> torch.Tensor:
    """Scale a nearly grey, in-gamut colouring up to a mean chroma of ``floor`` (hue kept, at most
    ``max_lift`` times), keeping it in gamut.

    The annealed mean of a wide distribution averages colours out, and the gamut takes chroma from white
    skies and black shadows: overcast street scenes came back with a mean chroma under 3, which looks
    like a grey photo handed back. A colouring already above the floor is untouched. A few rounds, because
    the gamut takes part of each round's lift back."""
    scale, lifted = 1.0, ab
    for _ in range(rounds):
        reached = float(lifted.norm(dim=1).mean())
        if reached >= floor * 0.995 or scale >= max_lift:
            break
        scale = min(max_lift, scale * floor / max(reached, 1e-6))
        lifted = fit_gamut(light, ab * scale)
    return lifted


def fit_gamut(light: torch.Tensor, ab: torch.Tensor, steps: int = 6, tol: float = 1e-3) -> torch.Tensor:
    """Shrink each pixel's chroma (hue kept) until L+ab is a displayable sRGB colour (within ``tol`` of 0..1).

    Done at the working size so that the full-resolution merge has next to nothing left to clip; the merge
    fits the few pixels it still finds outside with it too.
    """
    line = ChromaLine(light, ab)
    low, high = srgb_bounds_in_linear(tol)

    def inside(t: torch.Tensor | float) -> torch.Tensor:
        lowest, highest = channel_range(line(t))
        return (lowest >= low) & (highest <= high)

    ok = inside(1.0).unsqueeze(-3)
    if bool(ok.all()):
        return ab
    lo = torch.zeros_like(light)
    hi = torch.ones_like(light)
    for _ in range(steps):  # bisection on the chroma factor
        mid = (lo + hi) / 2
        fits = inside(mid).unsqueeze(-3)
        lo = torch.where(fits, mid, lo)
        hi = torch.where(fits, hi, mid)
    return torch.where(ok, ab, ab * lo)


SURE_SPREAD = 8.0  # ab units: a distribution this narrow (or narrower) reads as confidence 1
UNSURE_SPREAD = 40.0  # ab units: this wide (about a third of the ab gamut) or wider reads as confidence 0


def colour_spread(logits: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Per pixel, how far the colour may lie from the predicted mean: the root-mean-square ab distance of
    the predicted distribution from its mean (B, 1, h', w'), at the logits' resolution, in ab units."""
    prob = F.softmax(logits.float(), 1)
    cen = centres.float()
    mean = torch.einsum("bqhw,qc->bchw", prob, cen)
    square = torch.einsum("bqhw,q->bhw", prob, (cen**2).sum(1)).unsqueeze(1)
    return (square - (mean**2).sum(1, keepdim=True)).clamp(min=0).sqrt()


def confidence(logits: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Per pixel, 0..1: 1 where the network's colour distribution is narrow (spread of SURE_SPREAD ab or
    less), 0 where it is wide (UNSURE_SPREAD or more: every colour is about as likely), linear between.
    (The spread reads in colour units, and separates ambiguous from clear regions better than the
    distribution's entropy, whose normalised value stayed between 0.2 and 0.6 on real photos.)"""
    spread = colour_spread(logits, centres)
    return (1 - (spread - SURE_SPREAD) / (UNSURE_SPREAD - SURE_SPREAD)).clamp(0, 1)


def smooth_noise(logits: torch.Tensor, generator: torch.Generator, cell: int = 8) -> torch.Tensor:
    """Gumbel noise for every bin that varies smoothly in space (drawn on a grid of ``cell``-pixel cells at
    the logits' resolution and resized), so a sample picks one colour per region instead of per pixel."""
    b, q, h, w = logits.shape
    gh, gw = max(2, -(-h // cell)), max(2, -(-w // cell))
    u = torch.rand(b, q, gh, gw, generator=generator).clamp(1e-6, 1 - 1e-6)
    gumbel = -torch.log(-torch.log(u))
    return F.interpolate(gumbel, size=(h, w), mode="bicubic", align_corners=False)
