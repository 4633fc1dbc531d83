"""The degradation of the training input's lightness: old-photo faults on L only, in range, seeded."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

import colouriser.training.degrade as degrade_module
from colouriser.colour import rgb_to_lab
from colouriser.training.degrade import DEGRADATIONS, blur, degrade, fade, grain, jpeg, scratches

from .conftest import synthetic_photo

STEPS = {name: step for name, _, step in DEGRADATIONS}


def _lab_batch(count: int = 16, size: int = 64, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    rgb = np.stack([synthetic_photo(rng, size) for _ in range(count)]).transpose(0, 3, 1, 2)
    return rgb_to_lab(torch.from_numpy(rgb).float())


def _smooth(seed: int, size: int = 96) -> torch.Tensor:
    """A smooth lightness map (1, H, W) around 50, its features not aligned with JPEG's 8 x 8 blocks."""
    coarse = np.random.default_rng(seed).standard_normal((1, 1, 7, 7)).astype(np.float32)
    x = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(size, size), mode="bicubic",
                                        align_corners=False)[0]
    return (50 + 12 * x).clamp(0, 100)


def _high_frequency(x: torch.Tensor) -> float:
    """Mean squared difference of neighbouring pixels."""
    return float(x.diff(dim=-1).pow(2).mean() + x.diff(dim=-2).pow(2).mean())


def _blockiness(x: torch.Tensor) -> float:
    """How much larger the steps across JPEG's 8 x 8 block edges are than the steps inside blocks."""
    steps = [x.diff(dim=-1).abs().transpose(-1, -2), x.diff(dim=-2).abs()]  # rows of steps, either direction
    edge = sum(float(s[..., 7::8, :].mean()) for s in steps)
    inside = sum(float(torch.cat([s[..., k::8, :] for k in range(7)], -2).mean()) for s in steps)
    return edge / inside


def test_names_and_probabilities() -> None:
    assert list(STEPS) == ["fade", "blur", "grain", "scratches", "jpeg"]
    assert all(0 < p < 1 for _, p, _ in DEGRADATIONS)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_degrade_keeps_shape_dtype_and_range_and_degrades(dtype: torch.dtype) -> None:
    light = _lab_batch(32)[:, :1].to(dtype)
    out = degrade(light, np.random.default_rng(3))
    assert out.shape == light.shape and out.dtype == dtype
    assert out.min() >= 0 and out.max() <= 100
    changed = (out != light).flatten(1).any(1)
    assert changed.float().mean() > 0.5  # most images are degraded
    shift = out.mean((1, 2, 3)) - light.mean((1, 2, 3))
    assert shift.abs().max() < 20  # a fade's gamma may darken or lighten an image, but not much
    assert abs(float(shift.mean())) < 4


def test_each_degradation_keeps_shape_dtype_and_range() -> None:
    light = _lab_batch(4)[:, :1]
    extreme = torch.cat([torch.zeros(1, 1, 64, 64), torch.full((1, 1, 64, 64), 100.0)])  # black and white
    for x in list(light) + list(extreme):
        for name, step in STEPS.items():
            for seed in range(5):
                y = step(x, np.random.default_rng(seed))
                assert y.shape == x.shape and y.dtype == x.dtype, name
                assert y.min() >= 0 and y.max() <= 100, name


def test_input_is_not_changed_in_place() -> None:
    """The loop degrades the view ``lab[:, :1]`` and keeps ``lab`` as the clean target: it must stay so."""
    lab = _lab_batch(16)
    before = lab.clone()
    out = degrade(lab[:, :1], np.random.default_rng(0), clean_share=0.0)
    assert torch.equal(lab, before)
    assert not torch.equal(out, lab[:, :1])


def test_deterministic_for_a_generator_seed() -> None:
    light = _lab_batch(16)[:, :1]
    torch.manual_seed(1)
    a = degrade(light, np.random.default_rng(42))
    torch.manual_seed(2)  # torch's own generator plays no part
    b = degrade(light, np.random.default_rng(42))
    c = degrade(light, np.random.default_rng(43))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    for name, step in STEPS.items():
        assert torch.equal(step(light[0], np.random.default_rng(7)), step(light[0], np.random.default_rng(7))), name


def test_clean_share() -> None:
    light = _lab_batch(16, size=32)[:, :1]
    assert torch.equal(degrade(light, np.random.default_rng(0), clean_share=1.0), light)
    rng = np.random.default_rng(5)
    # An image is left as it is when drawn clean, or when none of the degradations is drawn for it.
    none_drawn = float(np.prod([1 - p for _, p, _ in DEGRADATIONS]))
    for clean_share in (0.0, 0.2, 0.6):
        same = torch.cat([(degrade(light, rng, clean_share) == light).flatten(1).all(1) for _ in range(40)])
        expected = clean_share + (1 - clean_share) * none_drawn
        assert float(same.float().mean()) == pytest.approx(expected, abs=0.05), clean_share


def test_every_degradation_occurs_at_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()

    def counted(name: str, step):  # type: ignore[no-untyped-def]
        def wrapper(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
            calls[name] += 1
            return step(x, rng)
        return wrapper

    monkeypatch.setattr(degrade_module, "DEGRADATIONS", tuple((n, p, counted(n, s)) for n, p, s in DEGRADATIONS))
    light = _lab_batch(16, size=32)[:, :1]
    rng = np.random.default_rng(11)
    draws = 0
    for _ in range(50):
        degrade(light, rng, clean_share=0.2)
        draws += len(light)
    for name, probability, _ in DEGRADATIONS:
        assert calls[name] / draws == pytest.approx(0.8 * probability, abs=0.05), name


def test_blur_lowers_and_grain_raises_high_frequency_energy() -> None:
    light = _lab_batch(8)[:, :1]
    for seed in range(24):
        x = light[seed % len(light)]
        assert _high_frequency(blur(x, np.random.default_rng(seed))) < 0.8 * _high_frequency(x)
        smooth = _smooth(seed)
        assert _high_frequency(grain(smooth, np.random.default_rng(seed))) > 2 * _high_frequency(smooth)
    # grain leaves the mean lightness where it was
    grainy = torch.stack([grain(_smooth(s), np.random.default_rng(s)) for s in range(24)])
    assert float(grainy.mean()) == pytest.approx(float(torch.stack([_smooth(s) for s in range(24)]).mean()), abs=0.5)


def test_fade_lowers_the_contrast() -> None:
    light = _lab_batch(8)[:, :1]
    ratios = [float(fade(light[s % 8], np.random.default_rng(s)).std() / light[s % 8].std()) for s in range(100)]
    assert np.median(ratios) < 0.9  # its gamma may steepen part of the range, but on the whole it fades
    assert np.mean(np.array(ratios) < 1) > 0.75
    assert max(ratios) < 1.25


def test_scratches_are_thin_bright_or_dark_lines() -> None:
    flat = torch.full((1, 128, 128), 50.0)
    signs: set[float] = set()
    for seed in range(30):
        diff = scratches(flat, np.random.default_rng(seed)) - flat
        marked = diff.abs()[0] >= 20
        assert marked.any(1).all()  # a line runs through every row: the scratch spans the photo's height
        assert marked.float().mean() < 0.04  # and only a thin line or three, plus specks
        assert set(diff[0][marked].sign().tolist()) <= {-1.0, 1.0}
        signs |= set(diff[0][marked].sign().tolist())
        assert torch.equal(diff[0][~marked], torch.zeros(int((~marked).sum())))  # elsewhere untouched
    assert signs == {-1.0, 1.0}  # bright and dark ones both occur


def test_jpeg_makes_8x8_blocks() -> None:
    for seed in range(12):
        x = _smooth(seed)
        assert _blockiness(jpeg(x, np.random.default_rng(seed))) > 1.25 * _blockiness(x)
        for name in ("fade", "blur", "grain"):  # none of the others does
            assert _blockiness(STEPS[name](x, np.random.default_rng(seed))) < 1.15 * _blockiness(x), name
