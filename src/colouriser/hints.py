"""Colour hints (Zhang et al. 2017): a sparse ab map plus a mask, at the network's working size."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

from .colour import rgb_to_lab


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


@dataclass(frozen=True)
class Hint:
    """A colour the user knows: at (x, y) — pixels of the input, or fractions 0..1 if ``relative`` — the
    photo has this sRGB colour (0..255). Only its hue and chroma are used; the lightness stays the photo's."""

    x: float
    y: float
    colour: tuple[int, int, int]
    relative: bool = False

    def position(self, height: int, width: int) -> tuple[float, float]:
        """(row, column) in pixels of an image of the given size."""
        if self.relative:
            return self.y * (height - 1), self.x * (width - 1)
        return self.y, self.x

    def ab(self) -> tuple[float, float]:
        rgb = torch.tensor(self.colour, dtype=torch.float64).view(3, 1, 1) / 255
        lab = rgb_to_lab(rgb)
        return float(lab[1]), float(lab[2])


def parse_colour(text: str) -> tuple[int, int, int]:
    value = text.strip().lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    if len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise ValueError(f"a hint's colour must be #RRGGBB, got {text!r}")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _coordinate(text: str | float | int) -> tuple[float, bool]:
    if isinstance(text, int | float):
        return float(text), False
    t = text.strip()
    if t.endswith("%"):
        return float(t[:-1]) / 100, True
    return float(t), False


def make_hint(x: str | float, y: str | float, colour: str) -> Hint:
    """A hint from user text: coordinates in pixels or percent ("12.5%"), colour as #RRGGBB."""
    try:
        (hx, rx), (hy, ry) = _coordinate(x), _coordinate(y)
    except ValueError:
        raise ValueError(f"a hint's coordinates must be pixels or percentages, got {x!r}, {y!r}") from None
    if rx != ry:
        raise ValueError("a hint's x and y must both be pixels or both be percentages")
    if hx < 0 or hy < 0 or (rx and (hx > 1 or hy > 1)):
        raise ValueError(f"hint position {x}, {y} lies outside the photo")
    return Hint(hx, hy, parse_colour(colour), rx)


def parse_hint(text: str) -> Hint:
    """``X,Y,#RRGGBB`` as given to ``--hint``."""
    parts = text.split(",")
    if len(parts) != 3:
        raise ValueError(f"a hint is X,Y,#RRGGBB (pixels or percent), got {text!r}")
    return make_hint(*parts)


def parse_hints_json(text: str) -> list[Hint]:
    """A JSON list of {"x": ..., "y": ..., "colour": "#RRGGBB"} (x and y in pixels or "NN%")."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"hints are not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(items, list):
        raise ValueError("hints must be a JSON list of {\"x\", \"y\", \"colour\"} objects")
    hints = []
    for item in items:
        if not isinstance(item, dict) or not {"x", "y"} <= item.keys() or not ({"colour", "color"} & item.keys()):
            raise ValueError(f"each hint needs x, y and colour, got {item!r}")
        hints.append(make_hint(item["x"], item["y"], str(item.get("colour", item.get("color")))))
    return hints


def rasterise(hints: list[Hint], full: tuple[int, int], work: tuple[int, int],
              radius: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Hints as the network takes them: an ab map and a mask (1, ., h, w) at the working size, each hint
    a (2 * radius + 1)-pixel square patch, as in Zhang et al. 2017."""
    (big_h, big_w), (h, w) = full, work
    hint_ab, mask = empty_hints(1, h, w)
    for hint in hints:
        row, col = hint.position(big_h, big_w)
        if not (0 <= row <= big_h - 1 and 0 <= col <= big_w - 1):
            raise ValueError(f"hint at {hint.x:g}, {hint.y:g} lies outside the {big_w} x {big_h} photo")
        r, c = min(h - 1, int((row + 0.5) * h / big_h)), min(w - 1, int((col + 0.5) * w / big_w))
        a, b = hint.ab()
        sl = (slice(max(0, r - radius), r + radius + 1), slice(max(0, c - radius), c + radius + 1))
        hint_ab[0, 0][sl] = a
        hint_ab[0, 1][sl] = b
        mask[0, 0][sl] = 1
    return hint_ab, mask


def sample_hints(rgb: np.ndarray, count: int, rng: np.random.Generator) -> list[Hint]:
    """``count`` hints at random places, with the colour the original has there (for evaluation)."""
    h, w = rgb.shape[:2]
    hints = []
    for _ in range(count):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        patch = rgb[max(0, y - 1):y + 2, max(0, x - 1):x + 2].reshape(-1, 3).mean(0)
        hints.append(Hint(x, y, tuple(int(v) for v in (patch * 255).round())))  # type: ignore[arg-type]
    return hints
