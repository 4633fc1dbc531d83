import numpy as np
import pytest
import skimage.color as skc
import skimage.data
import torch

from colouriser.colour import (
    ChromaLine,
    lab_to_linear,
    lab_to_rgb,
    linear_to_srgb,
    rgb_to_lab,
    rgb_to_lightness,
    srgb_bounds_in_linear,
)


def _chw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(2, 0, 1).double()


@pytest.mark.parametrize("image", ["astronaut", "coffee", "random"])
def test_rgb_to_lab_matches_scikit_image(image: str) -> None:
    rgb = np.random.default_rng(1).random((40, 50, 3)) if image == "random" else getattr(skimage.data, image)() / 255
    ours = rgb_to_lab(_chw(rgb)).permute(1, 2, 0).numpy()
    assert np.abs(ours - skc.rgb2lab(rgb)).max() < 1e-3
    light = rgb_to_lightness(_chw(rgb))[0].numpy()
    assert np.abs(light - skc.rgb2lab(rgb)[..., 0]).max() < 1e-3


def test_lab_to_rgb_matches_scikit_image_and_round_trips() -> None:
    rng = np.random.default_rng(2)
    rgb = rng.random((30, 30, 3))
    lab = skc.rgb2lab(rgb)
    ours = lab_to_rgb(_chw(lab)).permute(1, 2, 0).numpy()
    assert np.abs(ours - skc.lab2rgb(lab)).max() < 1e-3
    assert np.abs(ours - rgb).max() < 1e-6


def test_lab_to_rgb_clips_out_of_gamut_colours() -> None:
    lab = torch.tensor([50.0, 120.0, -120.0]).view(3, 1, 1)
    assert lab_to_rgb(lab).min() >= 0 and lab_to_rgb(lab).max() <= 1
    assert lab_to_rgb(lab, clip=False).min() < 0 or lab_to_rgb(lab, clip=False).max() > 1


def test_float32_batches_work() -> None:
    rgb = torch.rand(2, 3, 8, 8)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-4)


def test_chroma_line_is_lab_to_linear_with_the_chroma_scaled() -> None:
    """The gamut fit's shortcut: L and hue held, chroma times t, through both branches of Lab's companding."""
    gen = torch.Generator().manual_seed(3)
    light = torch.rand(2, 1, 16, 24, generator=gen, dtype=torch.float64) * 100  # dark ones take the linear branch
    ab = (torch.rand(2, 2, 16, 24, generator=gen, dtype=torch.float64) - 0.5) * 240
    line = ChromaLine(light, ab)
    for t in (0.0, 0.37, 1.0):
        torch.testing.assert_close(line(t), lab_to_linear(torch.cat([light, ab * t], 1)), rtol=0, atol=1e-12)
    per_pixel = torch.rand(2, 1, 16, 24, generator=gen, dtype=torch.float64)
    expected = lab_to_linear(torch.cat([light, ab * per_pixel], 1))
    torch.testing.assert_close(line(per_pixel), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("tol", [0.0, 1e-5, 1e-3])
def test_srgb_bounds_in_linear_encode_to_the_srgb_bounds(tol: float) -> None:
    low, high = srgb_bounds_in_linear(tol)
    encoded = linear_to_srgb(torch.tensor([low, high], dtype=torch.float64))
    torch.testing.assert_close(encoded, torch.tensor([-tol, 1 + tol], dtype=torch.float64), rtol=0, atol=1e-12)
