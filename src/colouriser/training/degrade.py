"""Degrade the input lightness the way old photographs are degraded; the colour target stays clean."""

from __future__ import annotations

import io

import numpy as np
import torch
from kornia.filters import gaussian_blur2d
from PIL import Image


def _jpeg(l_channel: torch.Tensor, quality: int) -> torch.Tensor:
    """Round-trip one (1, H, W) lightness map through a greyscale JPEG."""
    arr = (l_channel[0] * 2.55).clamp(0, 255).round().byte().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr, "L").save(buf, "JPEG", quality=quality)
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32)
    return torch.from_numpy(back / 2.55)[None]


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


def degrade(lightness: torch.Tensor, rng: np.random.Generator, clean_share: float = 0.2) -> torch.Tensor:
    """Degrade a batch of lightness maps (B, 1, H, W) in 0..100, each image differently."""
    out = lightness.clone()
    b, _, h, w = out.shape
    for i in range(b):
        if rng.random() < clean_share:
            continue
        x = out[i]
        if rng.random() < 0.5:  # faded contrast, lifted blacks, different gamma
            c = rng.uniform(0.55, 1.0)
            x = x.mean() + (x - x.mean()) * c + rng.uniform(-8, 8)
            x = 100 * (x.clamp(0, 100) / 100) ** rng.uniform(0.75, 1.35)
        if rng.random() < 0.4:  # soft focus or motion of an old lens
            s = float(rng.uniform(0.4, 1.6))
            x = gaussian_blur2d(x[None], (7, 7), (s, s))[0]
        if rng.random() < 0.5:  # film grain: fine plus coarse
            fine = torch.randn_like(x) * rng.uniform(0.5, 5)
            coarse = torch.nn.functional.interpolate(torch.randn(1, 1, h // 4 + 1, w // 4 + 1),
                                                     size=(h, w), mode="bilinear", align_corners=False)[0]
            x = x + fine + coarse * rng.uniform(0, 3)
        if rng.random() < 0.15:
            x = x + _scratches(h, w, rng)
        x = x.clamp(0, 100)
        if rng.random() < 0.3:
            x = _jpeg(x, int(rng.integers(15, 75)))
        out[i] = x
    return out
