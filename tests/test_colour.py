import numpy as np
import pytest
import skimage.color as skc
import skimage.data
import torch

from colouriser.colour import lab_to_rgb, rgb_to_lab, rgb_to_lightness


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
