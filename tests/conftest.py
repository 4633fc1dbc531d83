from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

# The many trainers built in this process would otherwise keep freed memory for the rest of the session
# (colouriser/allocator.py); tests/test_allocator.py checks the setting in processes of its own.
os.environ.setdefault("COLOURISER_KEEP_FREED_MEMORY", "0")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


def synthetic_photo(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A tiny 'landscape' whose colour follows its lightness and position: blue sky, green ground,
    a red or yellow disc. Learnable in a few steps, so a training run can show its loss fall."""
    h = w = size
    img = np.zeros((h, w, 3), np.float32)
    horizon = int(h * rng.uniform(0.35, 0.65))
    sky = np.array([0.35, 0.55, 0.9]) * rng.uniform(0.8, 1.1)
    ground = np.array([0.2, 0.55, 0.15]) * rng.uniform(0.7, 1.1)
    img[:horizon] = sky
    img[horizon:] = ground
    yy, xx = np.mgrid[:h, :w]
    cy, cx, r = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w, rng.uniform(0.08, 0.2) * h
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    img[disc] = [0.9, 0.15, 0.1] if rng.random() < 0.5 else [0.95, 0.85, 0.1]
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1)


def save_photos(folder: Path, count: int, size: int, seed: int, name: str = "{}.png") -> Path:
    """Write ``count`` synthetic colour photos into ``folder`` (made if needed); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray((synthetic_photo(rng, size) * 255).astype(np.uint8)).save(folder / name.format(i))
    return folder
