"""Colour hints (Zhang et al. 2017): a sparse ab map plus a mask, at the network's working size."""

from __future__ import annotations

import numpy as np
import torch


def empty_hints(batch: int, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(batch, 2, height, width), torch.zeros(batch, 1, height, width)


def simulate_hints(ab: torch.Tensor, rng: np.random.Generator, none_share: float = 0.5,
                   mean_count: float = 8.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random hints taken from the true ab (B, 2, H, W), as in Zhang et al. 2017's training.

    Half of the images (``none_share``) get no hint at all, so that the network also learns to colour
    on its own; the others get a geometric number of small square patches, each filled with the mean
    of the true ab under it, at positions drawn around the image centre.
    """
    b, _, h, w = ab.shape
    hint_ab, mask = empty_hints(b, h, w)
    for i in range(b):
        if rng.random() < none_share:
            continue
        for _ in range(rng.geometric(1 / mean_count)):
            size = int(rng.integers(1, 6))
            y = int(np.clip(rng.normal(h / 2, h / 4), 0, h - size))
            x = int(np.clip(rng.normal(w / 2, w / 4), 0, w - size))
            patch = ab[i, :, y:y + size, x:x + size]
            hint_ab[i, :, y:y + size, x:x + size] = patch.mean((1, 2), keepdim=True)
            mask[i, :, y:y + size, x:x + size] = 1
    return hint_ab, mask
