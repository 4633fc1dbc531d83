"""Training photos: find them, drop near-grey ones, keep them in memory, sample folders by weight, cut crops."""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
GREY_SPREAD = 4.0  # mean of max(rgb) - min(rgb), on 0..255, under which a photo counts as near-grey


def in_holdout(path: Path, share: float) -> bool:
    """A stable split by file name: the same photos are held out on every run and machine."""
    digest = hashlib.sha1(path.name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def find_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def evenly_spaced(paths: list[Path], count: int) -> list[Path]:
    """At most ``count`` of ``paths``, spread evenly from the first to the last (a fixed, fair subset)."""
    return [paths[i] for i in np.linspace(0, len(paths) - 1, min(count, len(paths))).round().astype(int)]


def group_folders(roots: list[Path]) -> dict[str, list[Path]]:
    """Each immediate subfolder of a data root is a group; photos lying in a root form one more."""
    groups: dict[str, list[Path]] = {}
    for root in roots:
        if not root.is_dir():
            raise FileNotFoundError(f"data folder not found: {root}")
        loose = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if loose:
            groups[root.name] = loose
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            files = find_images(sub)
            if files:
                groups[sub.name] = files
    if not groups:
        raise FileNotFoundError(f"no photos found in {', '.join(map(str, roots))}")
    return groups


def _load(args: tuple[Path, int]) -> np.ndarray | None:
    path, short_side = args
    try:
        with Image.open(path) as im:
            im.draft("RGB", (short_side * 2, short_side * 2))
            im = ImageOps.exif_transpose(im).convert("RGB")
            scale = short_side / min(im.size)
            if scale < 1:
                im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                               Image.Resampling.LANCZOS)
            arr = np.asarray(im)
    except (OSError, ValueError):
        return None
    if min(arr.shape[:2]) < 32:
        return None
    spread = arr.max(2).astype(np.float32) - arr.min(2)
    return None if spread.mean() < GREY_SPREAD else arr


@dataclass
class PhotoSet:
    groups: dict[str, list[np.ndarray]]
    weights: dict[str, float]
    dropped: int

    @classmethod
    def load(cls, roots: list[Path], short_side: int, weight_overrides: dict[str, float] | None = None,
             workers: int = 2, holdout: float = 0.0) -> PhotoSet:
        """Load every photo, shrunk to ``short_side``, except the ``holdout`` share kept for validation.
        Group weight: sqrt(count) times any override."""
        paths = {name: [p for p in files if not in_holdout(p, holdout)] for name, files in group_folders(roots).items()}
        groups: dict[str, list[np.ndarray]] = {}
        dropped = 0
        with ProcessPoolExecutor(workers) as pool:
            for name, files in paths.items():
                arrays = list(pool.map(_load, [(p, short_side) for p in files], chunksize=64))
                kept = [a for a in arrays if a is not None]
                dropped += len(arrays) - len(kept)
                if kept:
                    groups[name] = kept
        overrides = weight_overrides or {}
        weights = {n: math.sqrt(len(a)) * overrides.get(n, 1.0) for n, a in groups.items()}
        total = sum(weights.values())
        return cls(groups, {n: w / total for n, w in weights.items()}, dropped)

    def __len__(self) -> int:
        return sum(len(a) for a in self.groups.values())

    def batch(self, size: int, crop: int, rng: np.random.Generator, min_scale: float = 0.6, rotate: float = 0.0,
              stretch: float = 1.0) -> torch.Tensor:
        """A batch of random crops (B, 3, crop, crop) as float sRGB in 0..1, with random flips and scale: each
        crop's side is ``min_scale`` to all of the photo's short side (never under ``crop`` pixels where the
        photo has them), resized to ``crop``. With ``rotate`` (degrees) or ``stretch`` (> 1) each crop is also
        turned by up to that angle either way and stretched by up to that ratio along one side (``warped_crop``)."""
        names = list(self.groups)
        probs = np.array([self.weights[n] for n in names])
        out = np.empty((size, crop, crop, 3), np.uint8)
        for i, g in enumerate(rng.choice(len(names), size=size, p=probs)):
            photos = self.groups[names[g]]
            arr = photos[rng.integers(len(photos))]
            h, w = arr.shape[:2]
            side = int(min(h, w) * rng.uniform(min_scale, 1.0))
            side = max(side, min(h, w, crop))
            if rotate or stretch > 1:
                p = warped_crop(arr, side, crop, rng, rotate, stretch)
            else:
                y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
                patch = Image.fromarray(arr[y:y + side, x:x + side])
                if side != crop:
                    patch = patch.resize((crop, crop), Image.Resampling.BILINEAR)
                p = np.asarray(patch)
            out[i] = p[:, ::-1] if rng.random() < 0.5 else p
        return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255


def warped_crop(photo: np.ndarray, side: int, crop: int, rng: np.random.Generator, rotate: float,
                stretch: float) -> np.ndarray:
    """A ``crop`` x ``crop`` crop of ``photo`` (H, W, 3) covering a ``side`` x ``side`` square of it, turned by a
    random angle of up to ``rotate`` degrees either way and stretched by a random ratio of up to ``stretch``
    (1/stretch to stretch, width against height, the area kept). The turned rectangle is placed at random with
    every corner inside the photo (made smaller where it would not fit), cut out upright by one affine warp at
    the photo's own scale, then resized to ``crop`` as the plain crops are. Colour is never changed: a turned or
    stretched scene is still true colour pixel by pixel, and it is a framing the network has not seen."""
    h, w = photo.shape[:2]
    aspect = math.exp(rng.uniform(-1.0, 1.0) * math.log(max(stretch, 1.0)))
    angle = math.radians(rng.uniform(-rotate, rotate))
    cos, sin = math.cos(angle), math.sin(angle)
    rw, rh = side * math.sqrt(aspect), side / math.sqrt(aspect)
    bw, bh = rw * abs(cos) + rh * abs(sin), rw * abs(sin) + rh * abs(cos)  # the turned rectangle's bounding box
    fit = min(1.0, (w - 1) / bw, (h - 1) / bh)  # a pixel to spare: bilinear reads the next pixel too
    rw, rh, bw, bh = rw * fit, rh * fit, bw * fit, bh * fit
    cx, cy = rng.uniform(bw / 2, w - bw / 2), rng.uniform(bh / 2, h - bh / 2)
    ow, oh = max(1, round(rw)), max(1, round(rh))
    x0, y0 = max(0, int(cx - bw / 2) - 1), max(0, int(cy - bh / 2) - 1)  # only the part the warp reads
    region = photo[y0:int(cy + bh / 2) + 2, x0:int(cx + bw / 2) + 2]
    cx, cy = cx - x0, cy - y0
    # output (x, y) -> region (cx, cy) + R(angle) (x - ow/2, y - oh/2): PIL's affine maps output to input
    matrix = (cos, -sin, cx - cos * ow / 2 + sin * oh / 2, sin, cos, cy - sin * ow / 2 - cos * oh / 2)
    patch = Image.fromarray(region).transform((ow, oh), Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR)
    if (ow, oh) != (crop, crop):
        patch = patch.resize((crop, crop), Image.Resampling.BILINEAR)
    return np.asarray(patch)


def cutmix(batch: torch.Tensor, share: float, rng: np.random.Generator) -> torch.Tensor:
    """Paste into ``share`` of the photos of ``batch`` (B, 3, H, W) a box cut from another photo of the batch (the
    same place in both; a quarter to a half of each side), colour and lightness together, so the target stays
    true pixel by pixel. A network that has learnt its training photos by heart (their colours from their whole
    scene) meets scenes it has not seen: CutMix (Yun et al. 2019) against memorising a small photo set."""
    out = batch.clone()
    count, _, h, w = batch.shape
    if count < 2:
        return out
    for i in range(count):
        if rng.random() >= share:
            continue
        j = (i + int(rng.integers(1, count))) % count  # any other photo
        bh, bw = int(h * rng.uniform(0.25, 0.5)), int(w * rng.uniform(0.25, 0.5))
        y, x = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        out[i, :, y:y + bh, x:x + bw] = batch[j, :, y:y + bh, x:x + bw]
    return out
