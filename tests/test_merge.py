"""The full-resolution merge: colours outside sRGB lose chroma at their own lightness and hue, never clipped."""

import numpy as np
import torch
from skimage.color import rgb2lab

from colouriser.colour import lab_to_linear, lab_to_rgb
from colouriser.merge import MAX_CLIP_SHIFT, BandedMerge, _fitted, _pixels_to_fit, merge


def _out_of_gamut() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    light = torch.rand(1, 1, 48, 64, generator=gen) * 100
    hue = torch.rand(1, 1, 48, 64, generator=gen) * 2 * np.pi
    chroma = torch.rand(1, 1, 48, 64, generator=gen) * 100  # under the bins' cap: most are outside sRGB
    return light, torch.cat([chroma * hue.cos(), chroma * hue.sin()], 1)


def _shift(light: torch.Tensor, ab: torch.Tensor, rgb: np.ndarray) -> np.ndarray:
    """sqrt(dL^2 + dH^2) of the sRGB result against the Lab asked for, by scikit-image's conversion."""
    lab = rgb2lab(rgb.astype(np.float64))
    want_l, want_a, want_b = light[0, 0].numpy(), ab[0, 0].numpy(), ab[0, 1].numpy()
    d_chroma = np.hypot(want_a, want_b) - np.hypot(lab[..., 1], lab[..., 2])
    d_hue_sq = (want_a - lab[..., 1]) ** 2 + (want_b - lab[..., 2]) ** 2 - d_chroma**2
    return np.sqrt((want_l - lab[..., 0]) ** 2 + np.clip(d_hue_sq, 0, None))


def test_colours_outside_srgb_keep_their_lightness_and_hue() -> None:
    light, ab = _out_of_gamut()
    clipped = lab_to_rgb(torch.cat([light, ab], 1))[0].permute(1, 2, 0).numpy()  # per-channel clip
    assert (_shift(light, ab, clipped) > 1).mean() > 0.3  # what a clip does to these colours
    out = merge(light, ab)
    seen = light[0, 0].numpy() > 2  # at L under 2 (black) the gamut tolerance alone moves the hue a little
    assert _shift(light, ab, out)[seen].max() < MAX_CLIP_SHIFT + 0.05
    lab = rgb2lab(out.astype(np.float64))
    assert (np.hypot(lab[..., 1], lab[..., 2]) <= np.hypot(*ab[0].numpy()) + 0.5).all()  # shrunk, never pushed
    assert np.hypot(lab[..., 1], lab[..., 2]).mean() > 15  # and not simply greyed


def _banded(light: torch.Tensor, ab: torch.Tensor, dtype: type, batch: int | None = None) -> tuple[np.ndarray, int]:
    """Merge in bands of 20 rows (the last one shorter), fitting whenever ``batch`` pixels wait if given; returns the
    output and how many pixels were fitted."""
    coef = torch.cat([torch.zeros_like(ab[0]), ab[0]], 0)  # A = 0, b = ab: the band's colour is ab itself
    out = np.empty((*light.shape[-2:], 3), dtype)
    merged = BandedMerge(out)
    if batch is not None:
        merged.FIT_BATCH = batch
    for top in range(0, light.shape[-2], 20):
        merged.add(top, light[0, 0, top:top + 20], coef[:, top:top + 20])
    return out, merged.finish()


def test_banded_merge_fits_the_same_way_in_uint8_and_float() -> None:
    """The pixels to fit are gathered from every band and fitted at the end: each lands back where it came from."""
    light, ab = _out_of_gamut()
    as_float, fitted = _banded(light, ab, np.float32)
    assert fitted > 100  # most of these colours are far outside sRGB
    np.testing.assert_allclose(as_float, merge(light, ab), atol=1e-5)
    as_bytes, _ = _banded(light, ab, np.uint8)
    assert np.abs(rgb2lab(as_bytes / 255)[..., 0] - light[0, 0].numpy()).max() < MAX_CLIP_SHIFT + 0.5  # + rounding
    np.testing.assert_allclose(as_bytes / 255, as_float, atol=0.6 / 255)
    in_batches, fitted_in_batches = _banded(light, ab, np.float32, batch=50)  # memory bounded: fitted as they come
    assert fitted_in_batches == fitted
    np.testing.assert_allclose(in_batches, as_float, atol=1e-6)


def test_only_the_pixels_a_clip_would_visibly_move_are_fitted() -> None:
    """A hair outside sRGB, a clip moves nothing visible and keeps the chroma: such pixels are left to it (fitting
    them all took a fifth of a dark photo's chroma); far outside, the pixel is fitted."""
    light = torch.tensor([[50.0, 50.0]])
    ab = torch.zeros(2, 1, 2)
    ab[:, 0, 0] = torch.tensor([0.0, -1.0])  # blue: find the chroma where it just leaves sRGB at L 50
    edge = next(c for c in np.arange(1, 150, 0.05) if lab_to_linear(torch.cat([light[:, :1][None], ab[:, :, :1] * c]))
                .min() < -2e-4)
    ab[:, 0, 0] *= float(edge)  # a hair outside
    ab[:, 0, 1] = torch.tensor([0.0, -1.0]) * 120  # far outside
    lin = lab_to_linear(torch.cat([light[None], ab], 0))
    rows, cols, wanted = _pixels_to_fit(light, ab, lin)
    assert rows.tolist() == [0] and cols.tolist() == [1]  # the one a hair outside is left for the clip
    fitted = _fitted(wanted)
    assert fitted.min() > -2e-4 and fitted.max() < 1 + 2e-4  # the far one brought into sRGB
    assert not torch.allclose(fitted[:, 0], lin[:, 0, 1])
