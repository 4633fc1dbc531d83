"""The lean full-resolution path: compact pixels, lightness and merge by bands of rows, folded batch norms."""

import functools
import io
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.color import rgb2lab

from colouriser import Colouriser
from colouriser import pipeline as pipeline_module
from colouriser.colour import rgb_to_lightness
from colouriser.load import load_image
from colouriser.merge import merge
from colouriser.optimise import fuse_conv_bn
from colouriser.predict import decode_ab, fit_gamut, lift_chroma
from colouriser.prepare import lightness
from colouriser.tiles import row_bands
from colouriser.upsample import CoefficientRows, guided_upsample
from colouriser.weights import load_model


@pytest.fixture(scope="module")
def colouriser() -> Colouriser:
    return Colouriser.from_pretrained(backend="torch")


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth uint8 greyscale 'photo' with some edges and grain."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    grey = 60 + 120 * (xx / width) + 40 * np.sin(yy / height * 7) + rng.normal(0, 6, (height, width))
    grey[height // 3: height // 2, width // 4: width // 2] += 50
    return np.clip(grey, 0, 255).astype(np.uint8)


def test_row_bands_cover_every_row_once() -> None:
    bands = list(row_bands(1001, 300, band_pixels=3000))
    assert bands[0][0] == 0 and bands[-1][1] == 1001
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bands))
    assert list(row_bands(5, 10_000)) == [(0, 5)]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [1, 3])
def test_lightness_from_compact_pixels_equals_the_float_path(dtype: type, channels: int) -> None:
    rng = np.random.default_rng(1)
    top = {np.uint8: 255, np.uint16: 65535, np.float32: 1}[dtype]
    shape = (37, 53) if channels == 1 else (37, 53, 3)
    pixels = (rng.random(shape) * top).astype(dtype)
    rgb = pixels.astype(np.float32) / np.float32(top)
    rgb = np.repeat(rgb[..., None], 3, 2) if channels == 1 else rgb
    expected = rgb_to_lightness(torch.from_numpy(rgb).permute(2, 0, 1))[None]
    assert torch.allclose(lightness(pixels), expected, atol=1e-4)


@pytest.mark.parametrize(("small", "big"), [((12, 16), (301, 411)), ((64, 48), (64, 48)), ((8, 8), (33, 17))])
def test_coefficient_rows_equal_bilinear_interpolation(small: tuple[int, int], big: tuple[int, int]) -> None:
    coef = torch.randn(1, 4, *small)
    expected = F.interpolate(coef, size=big, mode="bilinear", align_corners=False)[0]
    rows = CoefficientRows(coef, *big)
    got = torch.cat([rows.rows(top, bottom) for top, bottom in row_bands(big[0], big[1], band_pixels=2000)], 1)
    assert torch.allclose(got, expected, atol=1e-5)


def test_banded_render_equals_the_whole_image_render(colouriser: Colouriser, monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = _photo(203, 311)
    pred = colouriser.predict(pixels)
    with torch.inference_mode():
        ab = decode_ab(pred.logits, colouriser.model.centres, colouriser.settings.temperature, pred.work.shape[-2:])
        ab = lift_chroma(pred.work, fit_gamut(pred.work, ab))
        ab = fit_gamut(pred.work, ab * colouriser.settings.saturation)
        expected = merge(pred.light, guided_upsample(ab, pred.work, pred.light))
    monkeypatch.setattr(pipeline_module, "row_bands", functools.partial(row_bands, band_pixels=5000))  # many bands
    got = colouriser.render(pred)
    assert got.dtype == np.float32 and got.shape == (203, 311, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    as_bytes = colouriser.render_uint8(pred)
    assert as_bytes.dtype == np.uint8
    off = np.abs(as_bytes.astype(int) - np.rint(expected * 255).astype(int))
    assert off.max() <= 1 and (off > 0).mean() < 0.01  # rounding only


def test_compact_pixels_give_the_same_colours_as_float_rgb(colouriser: Colouriser) -> None:
    pixels = _photo(120, 160)
    from_float = colouriser.colourise_rgb(np.repeat(pixels[..., None] / np.float32(255), 3, 2))
    from_bytes = colouriser.colourise_rgb(pixels)
    # The gamut fit's bisection steps the chroma in 1/64ths: a pixel on the gamut's edge, whose lightness the two paths
    # round differently in the last bit, may land one step apart (a third of a uint8 level here).
    off = np.abs(from_bytes - from_float)
    assert (off > 1e-3).mean() < 1e-4 and off.max() < 0.5 / 255  # a quarter of a uint8 level, all but 1 value in 10,000


def test_loaded_image_keeps_the_decoded_pixels() -> None:
    buf = io.BytesIO()
    Image.fromarray(_photo(40, 50)).save(buf, "PNG")
    loaded = load_image(buf.getvalue())
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (40, 50) and loaded.shape == (40, 50)
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.shape == (40, 50, 3)
    np.testing.assert_array_equal(loaded.rgb[..., 1], loaded.pixels / np.float32(255))


def test_a_big_photo_comes_back_at_full_size_with_its_lightness(colouriser: Colouriser) -> None:
    grey = _photo(2000, 3000)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, "JPEG", quality=95)
    data, fmt = colouriser.colourise_file(buf.getvalue())
    out = load_image(data)
    assert fmt == "JPEG" and out.pixels.shape == (2000, 3000, 3)
    src_l = rgb2lab(load_image(buf.getvalue()).rgb[::4, ::4])[..., 0]
    assert np.abs(rgb2lab(out.rgb[::4, ::4])[..., 0] - src_l).mean() < 1.0


def test_folding_batch_norms_keeps_the_logits() -> None:
    model, _ = load_model(pipeline_module.resolve_model(None))
    x = torch.rand(1, 1, 64, 96) * 100
    with torch.inference_mode():
        before = model.eval()(x)
        assert fuse_conv_bn(model) > 30
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
        after = model(x)
    assert torch.allclose(before, after, atol=1e-3)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
def test_banded_pixel_copy_equals_numpy_asarray(mode: str) -> None:
    from colouriser.load import _as_array

    rng = np.random.default_rng(2)
    if mode == "I;16":
        im = Image.fromarray((rng.random((70, 90)) * 65535).astype(np.uint16))
    else:
        im = Image.fromarray((rng.random((70, 90, 3)) * 255).astype(np.uint8)).convert(mode)
    banded, whole = _as_array(im, band_pixels=1000), np.asarray(im)
    assert banded.dtype == whole.dtype and np.array_equal(banded, whole)
