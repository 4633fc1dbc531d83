"""Merge the full-resolution lightness with the upsampled colour into an sRGB image.

:class:`BandedMerge` does it a band of rows at a time, fused with the guided filter's multiply-add, writing
straight into a band of the (preallocated) output; uint8 output skips the sRGB gamma's power function
by a lookup on the linear value (65536 steps: the result differs from rounding the exact value only
where that lies within 1/40 of a level of a rounding boundary).

The gamut is fitted at the working size, but the full-resolution lightness differs from the working one
at edges and in fine texture, so some pixels fall outside sRGB there, and clipping each RGB channel would
shift their lightness and hue (0.05-0.1% of a photo's pixels by more than 1 L: small blotches).
:func:`_pixels_to_fit` finds those pixels and :func:`_fitted` shrinks their chroma instead, hue and lightness kept.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from .colour import channel_range, lab_to_linear, linear_to_lab, linear_to_srgb
from .predict import fit_gamut

MAX_CHROMA = 110.0
_LINEAR_STEPS = 65535
_GAMUT_TOL = 1e-4  # linear RGB this far outside 0..1 counts as inside
_FIT_TOL = 1e-5  # sRGB: fitted pixels end this close to 0..1 (the working size's 1e-3 turns near-white hues)
MAX_CLIP_SHIFT = 0.5  # a pixel whose lightness and hue clipping would move further (CIE76, chroma left out) is fitted


def merge(light: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """L (1, 1, H, W) + ab (1, 2, H, W) -> sRGB (H, W, 3) float32 in 0..1: the whole image as one band of
    :class:`BandedMerge` (which the pipeline feeds the guided filter's coefficients band by band). ab is capped at
    the bins' chroma before the conversion back, and a pixel still outside sRGB whose lightness or hue clipping would
    move has its chroma shrunk until it fits (few: the gamut is fitted at the working size)."""
    out = np.empty((*light.shape[-2:], 3), np.float32)
    merged = BandedMerge(out)
    merged.add(0, light[0, 0], torch.cat([torch.zeros_like(ab[0]), ab[0]], 0))  # one band, A = 0 and b = ab
    merged.finish()
    return out


class BandedMerge:
    """The merge into a preallocated output ``out`` (H, W, 3), uint8 (0..255) or float32 (0..1), a band of rows
    at a time (:meth:`add`), fused with the guided filter's multiply-add. Each band is written clipped into sRGB;
    the pixels a clip would visibly move are gathered from the bands and fitted together, written over their
    clipped values, once ``FIT_BATCH`` of them wait and by :meth:`finish` (which must be called last): one bisection
    over all of a photo's (about 1% of its pixels) instead of one a band (47 bands at 12 Mpx, each a few thousand
    pixels, where torch's per-call cost outweighed the arithmetic), and the memory they take bounded (about 110
    bytes a pixel at the fit's peak) however many a grainy or over-saturated scan has."""

    FIT_BATCH = 1 << 20

    def __init__(self, out: np.ndarray) -> None:
        self.out = out
        self.fitted = 0
        self._pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._waiting = 0

    def add(self, top: int, light: torch.Tensor, coef: torch.Tensor) -> None:
        """Rows ``top`` to ``top + h``: L (h, W) and the guided-filter coefficients (4, h, W) (A then b:
        ab = A * L / 100 + b). The saturation is applied before, at the working size, where the gamut is fitted
        after it."""
        ab = _limit(torch.addcmul(coef[2:], coef[:2], light / 100), 0)
        lin = lab_to_linear(torch.cat([light[None], ab], 0))
        rows, cols, wanted = _pixels_to_fit(light, ab, lin)
        torch.from_numpy(self.out[top:top + len(light)]).copy_(self._encode(lin).permute(1, 2, 0))
        if len(rows):
            self._pending.append((rows + top, cols, wanted))
            self._waiting += len(rows)
            if self._waiting >= self.FIT_BATCH:
                self._fit_waiting()

    def finish(self) -> int:
        """Fit the pixels still waiting and write them; returns how many pixels were fitted in all."""
        self._fit_waiting()
        return self.fitted

    def _fit_waiting(self) -> None:
        if not self._pending:
            return
        rows, cols, wanted = (torch.cat(parts, -1) for parts in zip(*self._pending, strict=True))
        self._pending, self._waiting = [], 0
        self.out[rows.numpy(), cols.numpy()] = self._encode(_fitted(wanted)).T.numpy()
        self.fitted += len(rows)

    def _encode(self, lin: torch.Tensor) -> torch.Tensor:
        """Linear RGB (3, ...) -> the output's sRGB codes (3, ...), clipped into 0..1 (``lin`` is clamped in place)."""
        if self.out.dtype == np.uint8:
            return _srgb_table()[lin.clamp_(0, 1).mul_(_LINEAR_STEPS).add_(0.5).to(torch.int32)]
        return linear_to_srgb(lin.clamp_(min=0)).clamp_(0, 1)


def _limit(ab: torch.Tensor, dim: int) -> torch.Tensor:
    """Cap the chroma at MAX_CHROMA, hue kept."""
    a, b = ab.unbind(dim)
    chroma = torch.hypot(a, b).unsqueeze(dim)  # not norm(dim=...): a strided reduction, 50x slower here
    return ab * (MAX_CHROMA / chroma.clamp_(min=MAX_CHROMA))


def _pixels_to_fit(light: torch.Tensor, ab: torch.Tensor,
                   lin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """L (h, W), ab (2, h, W) and their linear RGB (3, h, W) -> the rows, columns and Lab (3, n) of the pixels whose
    lightness or hue clipping ``lin`` to 0..1 would move by more than MAX_CLIP_SHIFT.

    About 5% of a photo's pixels lie a hair outside (the working-size fit leaves colours on the gamut's edge, and
    upsampling spreads them either side); clipping those moves nothing visible, and fitting them all took chroma
    from dark photos (one validation photo lost a fifth of its mean chroma) and doubled the merge's time. The
    ones worth fitting are under 1%: a min/max over the band finds the candidates, and only they are converted."""
    low, high = channel_range(lin)
    rows, cols = torch.nonzero((low < -_GAMUT_TOL) | (high > 1 + _GAMUT_TOL), as_tuple=True)
    if len(rows) == 0:
        return rows, cols, lin.new_empty((3, 0))
    wanted = torch.cat([light[rows, cols][None], ab[:, rows, cols]], 0)  # (3, n): L, a, b
    clipped = linear_to_lab(lin[:, rows, cols].unsqueeze(-1).clamp(0, 1))[..., 0]
    shifted = _lightness_and_hue_shift(wanted, clipped) > MAX_CLIP_SHIFT
    return rows[shifted], cols[shifted], wanted[:, shifted]


def _fitted(lab: torch.Tensor) -> torch.Tensor:
    """Lab (3, n) -> linear RGB (3, n) inside sRGB, each colour's chroma shrunk until it fits at its own lightness and
    hue by the working size's bisection (:func:`predict.fit_gamut`, 6 halvings from the inside)."""
    light = lab[:1].view(1, 1, -1, 1)  # the pixels as a (1, ·, n, 1) image
    ab = fit_gamut(light, lab[1:].view(1, 2, -1, 1), tol=_FIT_TOL)
    return lab_to_linear(torch.cat([light, ab], 1))[0, :, :, 0]


def _lightness_and_hue_shift(lab: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """sqrt(dL^2 + dH^2) between Lab colours (3, n): the CIE76 difference without its chroma part (dH is the
    CIE hue difference, in ab units)."""
    d_light = lab[0] - other[0]
    # 2 (C1 C2 - a1 a2 - b1 b2): the stable form of |d ab|^2 - dC^2 (as skimage.color's get_dH2)
    d_hue_squared = 2 * (torch.hypot(lab[1], lab[2]) * torch.hypot(other[1], other[2]) - (lab[1:] * other[1:]).sum(0))
    return (d_light**2 + d_hue_squared.clamp(min=0)).sqrt()


@cache
def _srgb_table() -> torch.Tensor:
    """uint8 sRGB code of each linear value i / 65535."""
    lin = torch.arange(_LINEAR_STEPS + 1, dtype=torch.float64) / _LINEAR_STEPS
    return (linear_to_srgb(lin) * 255).round().clamp(0, 255).to(torch.uint8)
