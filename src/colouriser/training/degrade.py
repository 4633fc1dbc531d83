"""Degrade the input lightness the way old photographs are degraded; the colour target stays clean.

Each degradation takes one lightness map (1, H, W) in 0..100 and the run's numpy Generator, draws its own
strength from it and returns a map of the same shape and dtype, still in 0..100. All randomness, the grain's
noise included, comes from that Generator, so a degraded batch depends on its seed alone (and a resumed run,
which restores the Generator, goes on as it would have).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import torch
from kornia.filters import gaussian_blur2d
from PIL import Image


def _normal(rng: np.random.Generator, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """Gaussian noise decided by ``rng`` alone (a torch generator seeded from it, so the run's numpy generator stays
    the one source of randomness; as fast as numpy's here: 15 ms per batch of 24 crops either way)."""
    generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
    return torch.randn(shape, generator=generator, dtype=like.dtype)


def fade(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Faded contrast, lifted or sunk blacks and a different gamma."""
    c = rng.uniform(0.55, 1.0)
    x = x.mean() + (x - x.mean()) * c + rng.uniform(-8, 8)
    return 100 * (x.clamp(0, 100) / 100) ** rng.uniform(0.75, 1.35)


def blur(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Soft focus or the motion of an old lens."""
    s = float(rng.uniform(0.4, 1.6))
    return gaussian_blur2d(x[None], (7, 7), (s, s))[0].clamp(0, 100)  # rounding can step just outside


def grain(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Film grain: fine (per pixel) plus coarse (about 4 pixels across)."""
    _, h, w = x.shape
    fine = _normal(rng, (1, h, w), x) * rng.uniform(0.5, 5)
    coarse = torch.nn.functional.interpolate(_normal(rng, (1, 1, h // 4 + 1, w // 4 + 1), x), size=(h, w),
                                             mode="bilinear", align_corners=False)[0]
    return (x + fine + coarse * rng.uniform(0, 3)).clamp(0, 100)


def _scratches(h: int, w: int, rng: np.random.Generator) -> torch.Tensor:
    """A mask of a few thin bright or dark lines, mostly vertical as on film, and dust specks."""
    mask = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(1, 4)):
        sign = rng.choice([-1.0, 1.0])
        x0 = rng.uniform(0, w)
        slope = rng.normal(0, 0.05)
        ys = np.arange(h)
        xs = np.clip((x0 + slope * ys).astype(int), 0, w - 1)
        mask[ys, xs] = sign * rng.uniform(20, 60)
    for _ in range(rng.integers(0, 12)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        mask[max(0, y - 1):y + 1, max(0, x - 1):x + 1] = rng.choice([-1.0, 1.0]) * rng.uniform(20, 60)
    return torch.from_numpy(mask)[None]


def scratches(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """One to three one-pixel-wide bright or dark lines running the height of the photo, and dust specks."""
    return (x + _scratches(x.shape[-2], x.shape[-1], rng).to(x.dtype)).clamp(0, 100)


def _jpeg(l_channel: torch.Tensor, quality: int) -> torch.Tensor:
    """Round-trip one (1, H, W) lightness map through a greyscale JPEG."""
    arr = (l_channel[0] * 2.55).clamp(0, 255).round().byte().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr, "L").save(buf, "JPEG", quality=quality)
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32)
    return torch.from_numpy(back / 2.55)[None].to(l_channel.dtype)


def jpeg(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """JPEG artefacts (8 x 8 blocks, ringing) at a quality of 15 to 74."""
    return _jpeg(x, int(rng.integers(15, 75)))


# Each applied independently with its probability, in this order (a JPEG of the scanned print comes last).
DEGRADATIONS: tuple[tuple[str, float, Callable[[torch.Tensor, np.random.Generator], torch.Tensor]], ...] = (
    ("fade", 0.5, fade),
    ("blur", 0.4, blur),
    ("grain", 0.5, grain),
    ("scratches", 0.15, scratches),
    ("jpeg", 0.3, jpeg),
)


def degrade(lightness: torch.Tensor, rng: np.random.Generator, clean_share: float = 0.2) -> torch.Tensor:
    """Degrade a batch of lightness maps (B, 1, H, W) in 0..100, each image differently; ``clean_share`` of
    them are left as they are."""
    out = lightness.clone()
    for i in range(out.shape[0]):
        if rng.random() < clean_share:
            continue
        x = out[i]
        for _, probability, step in DEGRADATIONS:
            if rng.random() < probability:
                x = step(x, rng)
        out[i] = x.clamp(0, 100)
    return out
