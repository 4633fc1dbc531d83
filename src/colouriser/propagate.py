"""Spread the user's hints beyond the patch the network was given.

The network takes hints as input and already recolours around them, but at this model's training it
propagates a hint only a little way. So after decoding, each hint's correction (its ab minus the ab the
network predicted there) is spread, as in Levin et al. 2004's colourisation by optimisation, to the
pixels that are near it, of similar lightness, and that the network coloured alike (which tends to mean
the same object), fading out where no hint is similar. At the hinted pixels the colour is the hint's.

The constants were chosen on the validation photos (``benchmarks/hint_propagation.py``, 10 sampled
hints): each of its two halves gained about 0.2 dB over the first guesses (tone 10, colour 10,
confidence 0.3). A wider lightness sigma (20) scored up to 0.07 dB more but let a lone hint leak across
a strong lightness edge (a dark coat taking the colour meant for a bright wall), which the tests forbid;
a term without distance (the same tone and colour anywhere in the photo) added 0.01 dB and let one hint
recolour every similar grey of a dull photo, so it was left out.

Written here rather than taken from a library: it is a normalised, cross-bilateral sum over a handful of
hint pixels (a few lines of tensor code), which no imaging library offers for sparse points.
"""

from __future__ import annotations

import torch

REACH = 0.3  # spatial sigma, as a share of the working image's longer side
TONE = 12.0  # lightness sigma, L units
COLOUR = 5.0  # sigma of the predicted colour's difference, ab units
CONFIDENCE = 0.05  # total hint weight at which half of a hint's correction applies
CHUNK = 32  # hint pixels weighed at once (bounds memory at large working sizes)


def propagate_hints(ab: torch.Tensor, light: torch.Tensor, hint_ab: torch.Tensor, mask: torch.Tensor,
                    reach: float = REACH, tone: float = TONE, colour: float = COLOUR,
                    confidence: float = CONFIDENCE) -> torch.Tensor:
    """ab (1, 2, h, w) decoded at the working size, lightness (1, 1, h, w) 0..100, hints as rasterised
    (ab map and mask at the working size) -> ab with every hint's correction spread over its region."""
    if not bool(mask.any()):
        return ab
    ys, xs = torch.nonzero(mask[0, 0], as_tuple=True)
    h, w = ab.shape[-2:]
    sigma = max(1.0, reach * max(h, w))
    yy = torch.arange(h, dtype=ab.dtype).view(1, h, 1)
    xx = torch.arange(w, dtype=ab.dtype).view(1, 1, w)
    lum, pred = light[0, 0], ab[0]
    delta = (hint_ab - ab)[0, :, ys, xs]  # (2, K)
    total = torch.zeros(h, w, dtype=ab.dtype)
    shift = torch.zeros(2, h, w, dtype=ab.dtype)
    for start in range(0, len(ys), CHUNK):
        y, x = ys[start:start + CHUNK], xs[start:start + CHUNK]
        log_w = -((yy - y.view(-1, 1, 1)) ** 2 + (xx - x.view(-1, 1, 1)) ** 2) / (2 * sigma**2)
        log_w = log_w - (lum - lum[y, x].view(-1, 1, 1)) ** 2 / (2 * tone**2)
        log_w = log_w - ((pred.unsqueeze(1) - pred[:, y, x].view(2, -1, 1, 1)) ** 2).sum(0) / (2 * colour**2)
        weight = log_w.exp()  # (k, h, w)
        total += weight.sum(0)
        shift += torch.einsum("ck,khw->chw", delta[:, start:start + CHUNK], weight)
    out = ab + (shift / (total + confidence)).unsqueeze(0)
    return torch.where(mask.bool().expand_as(out), hint_ab, out)
