"""Embedded ICC profiles: a photo in another colour space than sRGB is converted into sRGB on load, so its
lightness is the true one, and its output is tagged sRGB; sRGB profiles are kept; broken ones are ignored."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from colouriser.load import _apply_table, _transform_rgb, load_image, srgb_icc
from colouriser.prepare import lightness

D50 = (0.9642, 1.0, 0.8249)
# Adobe RGB (1998): its primaries adapted to D50, as Adobe's own profile stores them, and its gamma 563/256
ADOBE_COLORANTS = ((0.60974, 0.31111, 0.01947), (0.20528, 0.62567, 0.06087), (0.14919, 0.06322, 0.74457))
ADOBE_GAMMA = 563 / 256
# Adobe RGB colours inside sRGB's gamut (its full red, green and blue are not: converting clips them, and the
# lightness with them, as converting to sRGB anywhere does)
COLOURS = [(128, 128, 128), (200, 30, 40), (20, 20, 20), (90, 140, 100), (120, 200, 120), (100, 160, 60),
           (200, 150, 100), (70, 70, 70)]
BEYOND_SRGB = [(0, 255, 0), (255, 0, 0), (0, 0, 255), (30, 160, 90), (250, 240, 30), (60, 120, 60), (40, 90, 50),
               (255, 255, 255)]


# --- profiles and images made here ---------------------------------------------------------------------------


def _s15(*values: float) -> bytes:
    return b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def _xyz(xyz: tuple[float, ...]) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(*xyz)


def _curve(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def _desc(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(8) + bytes(3) + bytes(67)


def _profile(space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """A minimal ICC v2 display profile: header, tag table and tags."""
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, tag in tags:
        table += struct.pack(">4sII", sig, offset + len(data), len(tag))
        data += tag + bytes(-len(tag) % 4)
    header = struct.pack(">I4sI4s4s4s", offset + len(data), b"", 0x02100000, b"mntr", space, b"XYZ ")
    header += bytes(12) + b"acsp" + bytes(28) + _s15(*D50) + bytes(48)
    return header + struct.pack(">I", len(tags)) + table + data


def adobe_rgb_like() -> bytes:
    red, green, blue = ADOBE_COLORANTS
    return _profile(b"RGB ", [(b"desc", _desc("Adobe RGB like")), (b"wtpt", _xyz(D50)), (b"rXYZ", _xyz(red)),
                              (b"gXYZ", _xyz(green)), (b"bXYZ", _xyz(blue)), (b"rTRC", _curve(ADOBE_GAMMA)),
                              (b"gTRC", _curve(ADOBE_GAMMA)), (b"bTRC", _curve(ADOBE_GAMMA))])


def grey_gamma(gamma: float) -> bytes:
    return _profile(b"GRAY", [(b"desc", _desc(f"Gray Gamma {gamma}")), (b"wtpt", _xyz(D50)), (b"kTRC", _curve(gamma))])


def _l_star(y: np.ndarray) -> np.ndarray:
    return np.where(y > 216 / 24389, 116 * np.cbrt(y) - 16, 24389 / 27 * y)


def _true_lightness_adobe(rgb: np.ndarray) -> np.ndarray:
    """CIE L* of 8-bit Adobe RGB values from the Adobe RGB (1998) specification (its D65 luminance weights, as the
    pipeline's sRGB lightness uses sRGB's D65 ones); no colour management involved."""
    return _l_star((rgb / 255.0) ** ADOBE_GAMMA @ np.array([0.29734, 0.62736, 0.07529]))


def _lightness(pixels: np.ndarray) -> np.ndarray:
    """The lightness the pipeline reads from loaded pixels (CIE L*, 0..100)."""
    return lightness(pixels)[0, 0].numpy()


def _swatches(colours: list[tuple[int, int, int]] = COLOURS) -> np.ndarray:
    """8 x 64 RGB uint8: an 8 x 8 block of each of 8 colours."""
    return np.repeat(np.asarray(colours, np.uint8)[None], 8, axis=0).repeat(8, axis=1)


def _encode(im: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


def _description(icc: bytes) -> str:
    return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()


# --- lightness -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "JPEG"])
def test_adobe_rgb_photo_is_read_at_its_true_lightness(fmt: str) -> None:
    data = _encode(Image.fromarray(_swatches()), fmt, icc_profile=adobe_rgb_like())
    loaded = load_image(data)
    with Image.open(io.BytesIO(data)) as im:
        stored = np.asarray(im)  # the values as stored (JPEG: as decoded)
    true = _true_lightness_adobe(stored.astype(np.float64))
    used, naive = _lightness(loaded.pixels), _lightness(stored)
    assert np.abs(used - true).max() < 1.0
    assert np.abs(naive - true).max() > 5.0  # reading the values as sRGB would be wrong (dark red: 7 L too dark)
    assert loaded.icc == srgb_icc() and loaded.bit_depth == 8


@pytest.mark.parametrize("colours", [COLOURS, BEYOND_SRGB])
def test_converted_colours_match_littlecms(colours: list[tuple[int, int, int]]) -> None:
    swatches = _swatches(colours)
    loaded = load_image(_encode(Image.fromarray(swatches), icc_profile=adobe_rgb_like()))
    expected = ImageCms.profileToProfile(Image.fromarray(swatches), ImageCms.ImageCmsProfile(io.BytesIO(
        adobe_rgb_like())), ImageCms.createProfile("sRGB"), renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    np.testing.assert_array_equal(loaded.pixels, np.asarray(expected))


@pytest.mark.parametrize("gamma", [1.0, 1.8, 2.2])
@pytest.mark.parametrize("bits", [8, 16])
def test_greyscale_scan_with_a_grey_profile_is_read_at_its_true_lightness(gamma: float, bits: int) -> None:
    values = np.tile(np.linspace(0, 1, 64), (8, 1))
    stored = np.rint(values * (255 if bits == 8 else 65535)).astype(np.uint8 if bits == 8 else np.uint16)
    loaded = load_image(_encode(Image.fromarray(stored), icc_profile=grey_gamma(gamma)))
    assert loaded.pixels.dtype == stored.dtype and loaded.bit_depth == bits
    true = _l_star((stored / (255 if bits == 8 else 65535)) ** (round(gamma * 256) / 256))
    assert np.abs(_lightness(loaded.pixels) - true).max() < (1.0 if bits == 8 else 0.1)
    if gamma != 2.2:  # Gray Gamma 2.2 is close to sRGB's curve (within ~1.3 L)
        assert np.abs(_lightness(stored) - true).max() > 5.0
    assert loaded.icc == srgb_icc()


def test_grey_pixels_with_an_rgb_profile_are_the_neutral_colours_of_that_profile() -> None:
    stored = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))
    data = _encode(Image.fromarray(stored), "JPEG", icc_profile=adobe_rgb_like())
    loaded = load_image(data)
    with Image.open(io.BytesIO(data)) as im:
        decoded = np.asarray(im)
    true = _l_star((decoded / 255.0) ** ADOBE_GAMMA)
    assert loaded.pixels.ndim == 2
    assert np.abs(_lightness(loaded.pixels) - true).max() < 1.0


def test_16bit_rgb_tiff_is_converted() -> None:
    import tifffile
    swatches16 = _swatches().astype(np.uint16) * 257
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, swatches16, photometric="rgb", iccprofile=adobe_rgb_like())
    loaded = load_image(buffer.getvalue())
    assert loaded.bit_depth == 8 and loaded.pixels.dtype == np.uint8  # littleCMS through Pillow is 8-bit for RGB
    assert np.abs(_lightness(loaded.pixels) - _true_lightness_adobe(_swatches().astype(np.float64))).max() < 1.0
    assert loaded.icc == srgb_icc()


def test_alpha_survives_the_conversion() -> None:
    rgba = np.concatenate([_swatches(), np.full((8, 64, 1), 77, np.uint8)], axis=2)
    loaded = load_image(_encode(Image.fromarray(rgba), icc_profile=adobe_rgb_like()))
    assert loaded.alpha is not None
    np.testing.assert_allclose(loaded.alpha, 77 / 255)
    assert np.abs(_lightness(loaded.pixels) - _true_lightness_adobe(_swatches().astype(np.float64))).max() < 1.0


def test_big_images_are_converted_a_band_at_a_time() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(adobe_rgb_like())),
                                        ImageCms.createProfile("sRGB"), "RGB", "RGB")
    whole = _transform_rgb(rgb.copy(), transform)
    banded = rgb.copy()
    assert _transform_rgb(banded, transform, band_pixels=100) is banded  # in place
    np.testing.assert_array_equal(banded, whole)
    np.testing.assert_array_equal(_transform_rgb(rgb.astype(np.uint16) * 257, transform, band_pixels=100), whole)
    grey = rng.integers(0, 65536, (37, 29), dtype=np.uint16)
    table = rng.integers(0, 65536, 65536, dtype=np.uint16)
    np.testing.assert_array_equal(_apply_table(grey.copy(), table, band_pixels=100), table[grey])


# --- which profile the output carries ---------------------------------------------------------------------------


def test_srgb_profile_is_kept_and_the_pixels_untouched() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    swatches = _swatches()
    loaded = load_image(_encode(Image.fromarray(swatches), icc_profile=icc))
    assert loaded.icc == icc
    np.testing.assert_array_equal(loaded.pixels, swatches)


@pytest.mark.parametrize("bad", [
    b"not a profile at all" * 20,
    b"\0\0\x01\0" + bytes(12) + b"RGB XYZ " + bytes(12) + b"acsp" + bytes(300),  # plausible header, no tags
    adobe_rgb_like()[:150],  # truncated
])
def test_broken_profile_is_dropped_and_the_values_taken_as_srgb(bad: bytes) -> None:
    swatches = _swatches()
    loaded = load_image(_encode(Image.fromarray(swatches), icc_profile=bad))
    assert loaded.icc is None
    np.testing.assert_array_equal(loaded.pixels, swatches)
    grey = load_image(_encode(Image.fromarray(swatches[..., 0]), icc_profile=bad))
    assert grey.icc is None
    np.testing.assert_array_equal(grey.pixels, swatches[..., 0])


def test_profile_of_another_colour_space_is_dropped() -> None:
    swatches = _swatches()
    loaded = load_image(_encode(Image.fromarray(swatches), icc_profile=grey_gamma(1.0)))  # grey profile, RGB data
    assert loaded.icc is None
    np.testing.assert_array_equal(loaded.pixels, swatches)


@pytest.fixture(scope="module")
def colouriser():
    from colouriser import Colouriser

    return Colouriser.from_pretrained()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_output_of_a_non_srgb_photo_is_tagged_srgb(colouriser, fmt: str) -> None:
    grey = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))
    data, used = colouriser.colourise_file(_encode(Image.fromarray(grey), fmt, icc_profile=grey_gamma(1.0)))
    assert used == fmt
    with Image.open(io.BytesIO(data)) as out:
        icc = out.info.get("icc_profile")
        rgb = np.asarray(out.convert("RGB"))
    assert icc == srgb_icc() and "sRGB" in _description(icc)
    true = _l_star(grey / 255.0)  # gamma 1.0: the values are linear luminance
    assert np.abs(_lightness(rgb) - true).mean() < 1.5


def test_the_python_api_reads_a_pil_image_through_its_profile(colouriser) -> None:
    data = _encode(Image.fromarray(_swatches()), "PNG", icc_profile=adobe_rgb_like())
    with Image.open(io.BytesIO(data)) as im:
        stored = np.asarray(im).astype(np.float64)
        out = colouriser(im)
    true = _true_lightness_adobe(stored)
    assert np.abs(_lightness(np.asarray(out)) - true).mean() < 1.0  # the values read as sRGB would be 7 L off
    assert out.info.get("icc_profile") == srgb_icc()


def test_output_of_an_srgb_photo_keeps_its_profile(colouriser) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data, _ = colouriser.colourise_file(_encode(Image.fromarray(_swatches()), icc_profile=icc))
    with Image.open(io.BytesIO(data)) as out:
        assert out.info.get("icc_profile") == icc


def test_photo_with_a_broken_profile_is_still_colourised(colouriser) -> None:
    data, _ = colouriser.colourise_file(_encode(Image.fromarray(_swatches()), "JPEG", icc_profile=b"junk" * 50))
    with Image.open(io.BytesIO(data)) as out:
        assert out.size == (64, 8) and out.mode == "RGB"
        assert "icc_profile" not in out.info or not out.info["icc_profile"]
