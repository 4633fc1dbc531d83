from __future__ import annotations

import io
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from colouriser.load import MIN_SIDE, ImageError, LoadedImage, _orient, load_image, loaded_from_pil
from colouriser.save import FORMATS, encode_image, extension, output_format, read_provenance, save_image

H, W = 16, 24  # small test images; halves split at x = 8/16 keep JPEG blocks uniform
RED, BLUE = (200, 30, 40), (10, 120, 250)
PROVENANCE = {
    "Software": "colouriser 0.1.0",
    "Model": "tiny-test",
    "Description": "Colours estimated by a neural network (colouriser); they are a guess — not a record.",
}


def _halves(left: object, right: object, mode: str) -> Image.Image:
    """A W x H image whose left third is ``left`` and the rest ``right``."""
    im = Image.new(mode, (W, H), right)  # type: ignore[arg-type]
    im.paste(left, (0, 0, 8, H))  # type: ignore[arg-type]
    return im


def _expected_halves(left: tuple[float, ...], right: tuple[float, ...]) -> np.ndarray:
    out = np.empty((H, W, len(left)), np.float32)
    out[:, :8] = np.array(left, np.float32) / 255
    out[:, 8:] = np.array(right, np.float32) / 255
    return out


def _palette_image(transparent: bool) -> Image.Image:
    im = Image.fromarray(np.where(np.arange(W) < 8, 0, 1).astype(np.uint8)[None].repeat(H, 0), "L").convert("P")
    im.putpalette([*RED, *BLUE])
    if transparent:
        im.info["transparency"] = 1
    return im


def _sample(mode: str) -> tuple[Image.Image, np.ndarray, np.ndarray | None]:
    """(image, expected rgb 0..1, expected alpha or None) for each input mode we test."""
    grey = _expected_halves((64,), (200,)).repeat(3, axis=2)
    colour = _expected_halves(RED, BLUE)
    alpha = _expected_halves((255,), (100,))[..., 0]
    if mode == "1":
        return _halves(0, 1, "1"), _expected_halves((0,), (255,)).repeat(3, axis=2), None
    if mode == "L":
        return _halves(64, 200, "L"), grey, None
    if mode == "LA":
        return _halves((64, 255), (200, 100), "LA"), grey, alpha
    if mode == "P":
        return _palette_image(False), colour, None
    if mode == "P_trns":
        return _palette_image(True), colour, _expected_halves((255,), (0,))[..., 0]
    if mode == "RGB":
        return _halves(RED, BLUE, "RGB"), colour, None
    if mode == "RGBA":
        return _halves((*RED, 255), (*BLUE, 100), "RGBA"), colour, alpha
    if mode == "CMYK":  # Pillow's plain conversion: white and black
        return _halves((0, 0, 0, 0), (0, 0, 0, 255), "CMYK"), _expected_halves((255,), (0,)).repeat(3, axis=2), None
    if mode == "I;16":
        values = np.linspace(0, 65535, W).round().astype(np.uint16)[None].repeat(H, 0)
        expected = (values.astype(np.float32) / 65535)[..., None].repeat(3, axis=2)
        return Image.fromarray(values), expected, None
    raise AssertionError(mode)


def _encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


CASES = [
    ("JPEG", "L"), ("JPEG", "RGB"), ("JPEG", "CMYK"),
    ("PNG", "1"), ("PNG", "L"), ("PNG", "LA"), ("PNG", "P"), ("PNG", "P_trns"), ("PNG", "RGB"), ("PNG", "RGBA"),
    ("PNG", "I;16"),
    ("TIFF", "1"), ("TIFF", "L"), ("TIFF", "LA"), ("TIFF", "P"), ("TIFF", "RGB"), ("TIFF", "RGBA"), ("TIFF", "I;16"),
    ("TIFF", "CMYK"),
    ("BMP", "1"), ("BMP", "L"), ("BMP", "P"), ("BMP", "RGB"),
    ("WEBP", "RGB"), ("WEBP", "RGBA"),
]


@pytest.mark.parametrize(("fmt", "mode"), CASES)
def test_every_format_and_mode_loads_to_rgb(fmt: str, mode: str) -> None:
    im, expected, expected_alpha = _sample(mode)
    options = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    loaded = load_image(_encode(im, fmt, **options))
    assert loaded.format == fmt
    assert loaded.rgb.shape == (H, W, 3)
    assert loaded.rgb.dtype == np.float32
    assert loaded.rgb.min() >= 0 and loaded.rgb.max() <= 1
    if fmt == "JPEG":  # lossy: compare away from the edge between the halves, where it rings
        keep = np.r_[0:5, 11:W]
        np.testing.assert_allclose(loaded.rgb[:, keep], expected[:, keep], atol=6 / 255)
    else:
        np.testing.assert_allclose(loaded.rgb, expected, atol=1e-6)
    if expected_alpha is None:
        assert loaded.alpha is None
    else:
        assert loaded.alpha is not None and loaded.alpha.shape == (H, W)
        np.testing.assert_allclose(loaded.alpha, expected_alpha, atol=1e-6)
    if fmt in ("PNG", "TIFF"):
        assert loaded.mode == ("P" if mode == "P_trns" else mode)
    assert loaded.bit_depth == (16 if mode == "I;16" else 8)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16bit_greyscale_keeps_more_than_8_bits(fmt: str) -> None:
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)  # every 16-bit level once
    loaded = load_image(_encode(Image.fromarray(values), fmt))
    assert loaded.mode == "I;16"  # Pillow 13 reports 16-bit greyscale PNG and TIFF as "I;16" (uint16 arrays)
    assert loaded.bit_depth == 16
    grey = loaded.rgb[..., 0]
    np.testing.assert_array_equal(np.rint(grey.astype(np.float64) * 65535).astype(np.uint16), values)
    assert len(np.unique(grey)) > 256
    np.testing.assert_array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])


def test_int32_and_float_tiffs() -> None:
    values = np.linspace(0, 65535, W).round().astype(np.int32)[None].repeat(H, 0)
    loaded = load_image(_encode(Image.fromarray(values, "I"), "TIFF"))
    assert (loaded.mode, loaded.bit_depth) == ("I", 16)
    np.testing.assert_allclose(loaded.rgb[..., 0], values / 65535, atol=1e-6)
    floats = np.linspace(0, 1, W, dtype=np.float32)[None].repeat(H, 0)
    loaded = load_image(_encode(Image.fromarray(floats, "F"), "TIFF"))
    assert loaded.mode == "F"
    np.testing.assert_allclose(loaded.rgb[..., 2], floats, atol=1e-6)


def test_colour_key_transparency() -> None:
    for im, key in ((Image.new("L", (W, H), 7), 7), (Image.new("RGB", (W, H), (1, 2, 3)), (1, 2, 3))):
        im.paste(200 if im.mode == "L" else (200, 200, 200), (0, 0, 8, H))
        loaded = load_image(_encode(im, "PNG", transparency=key))
        assert loaded.alpha is not None
        assert loaded.alpha[:, :8].min() == 1 and loaded.alpha[:, 8:].max() == 0
    gif = _palette_image(True)
    loaded = load_image(_encode(gif, "GIF"))
    assert loaded.format == "GIF" and loaded.alpha is not None and loaded.alpha[:, 8:].max() == 0


def test_cmyk_with_unusable_profile_falls_back_to_plain_conversion() -> None:
    bogus = bytearray(200)
    bogus[16:20] = b"CMYK"  # looks like a CMYK profile in its header, but littleCMS cannot read it
    loaded = load_image(_encode(Image.new("CMYK", (W, H), (0, 0, 0, 128)), "JPEG", icc_profile=bytes(bogus)))
    np.testing.assert_allclose(loaded.rgb, 127 / 255, atol=3 / 255)
    assert loaded.icc is None


def test_16bit_big_endian_tiff() -> None:
    import tifffile
    values = (np.arange(64 * 32, dtype=np.uint32) * 31 % 65536).astype(np.uint16).reshape(32, 64)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, values, byteorder=">")
    loaded = load_image(buffer.getvalue())
    assert loaded.mode == "I;16B"
    np.testing.assert_array_equal(np.rint(loaded.rgb[..., 1].astype(np.float64) * 65535), values)


@pytest.mark.parametrize("planar", [False, True])
def test_16bit_rgb_tiff_keeps_precision(planar: bool) -> None:
    import tifffile
    rgb16 = np.random.default_rng(1).integers(0, 65536, (12, 20, 3), dtype=np.uint16)
    buffer = io.BytesIO()
    if planar:
        tifffile.imwrite(buffer, np.moveaxis(rgb16, -1, 0), photometric="rgb", planarconfig="separate")
    else:
        tifffile.imwrite(buffer, rgb16, photometric="rgb")
    loaded = load_image(buffer.getvalue())
    assert (loaded.format, loaded.mode, loaded.bit_depth) == ("TIFF", "RGB", 16)  # Pillow calls it "RGB"
    np.testing.assert_array_equal(np.rint(loaded.rgb.astype(np.float64) * 65535).astype(np.uint16), rgb16)


def test_16bit_rgb_tiff_without_tifffile(monkeypatch: pytest.MonkeyPatch) -> None:
    import tifffile
    rgb16 = np.random.default_rng(2).integers(0, 65536, (12, 20, 3), dtype=np.uint16)
    chunky, planar = io.BytesIO(), io.BytesIO()
    tifffile.imwrite(chunky, rgb16, photometric="rgb")
    tifffile.imwrite(planar, np.moveaxis(rgb16, -1, 0), photometric="rgb", planarconfig="separate")
    monkeypatch.setitem(sys.modules, "tifffile", None)  # as if it were not installed
    loaded = load_image(chunky.getvalue())  # Pillow's 8-bit decoding
    assert loaded.bit_depth == 8
    np.testing.assert_array_equal(np.rint(loaded.rgb * 255), rgb16 >> 8)
    error = _error(planar.getvalue())  # Pillow would scramble this one
    assert error.kind == "unsupported" and "planar" in str(error)


def test_16bit_rgb_tiff_orientation() -> None:
    import tifffile
    rgb16 = np.zeros((16, 32, 3), np.uint16)
    rgb16[:8, :8] = 65535
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, rgb16, photometric="rgb", extratags=[(274, "H", 1, 6, True)])
    loaded = load_image(buffer.getvalue())
    assert loaded.rgb.shape == (32, 16, 3)
    assert loaded.rgb[:8, -8:].min() == 1.0 and loaded.rgb[:, :8].max() == 0.0
    assert _exif(loaded)[0x0112] == 1


def test_sepia_scan_loads_as_rgb() -> None:
    grey = np.linspace(0, 1, W)[None].repeat(H, 0)
    sepia = np.stack([grey * 1.0, grey * 0.85, grey * 0.65], axis=-1)
    loaded = load_image(_encode(Image.fromarray((sepia * 255).round().astype(np.uint8)), "JPEG", quality=95))
    assert loaded.rgb.shape == (H, W, 3)
    assert (loaded.rgb[:, -1, 0] > loaded.rgb[:, -1, 2] + 0.2).all()  # the tint is kept


def test_sources_path_bytes_and_file_objects(tmp_path: Path) -> None:
    data = _encode(_halves(64, 200, "L"), "PNG")
    path = tmp_path / "grey.png"
    path.write_bytes(data)
    results = [load_image(path), load_image(str(path)), load_image(data), load_image(io.BytesIO(data))]
    with path.open("rb") as f:
        results.append(load_image(f))
    prefixed = io.BytesIO(b"junk" + data)
    prefixed.seek(4)
    results.append(load_image(prefixed))  # a file object positioned at the image's start
    for loaded in results:
        np.testing.assert_array_equal(loaded.rgb, results[0].rgb)


# --- EXIF orientation and ICC -------------------------------------------------------------------------------


def _marked(width: int = 32, height: int = 16) -> Image.Image:
    """Black, with a white 8x8 square in the stored top-left corner."""
    im = Image.new("RGB", (width, height))
    im.paste((255, 255, 255), (0, 0, 8, 8))
    return im


def _exif(loaded: LoadedImage) -> Image.Exif:
    assert loaded.exif is not None
    exif = Image.Exif()
    exif.load(loaded.exif)
    return exif


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize(("orientation", "corner"), [(6, "top-right"), (8, "bottom-left"), (3, "bottom-right")])
def test_exif_orientation_is_applied_and_reset(fmt: str, orientation: int, corner: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Camera maker"
    exif.get_ifd(0x8769)[0x9003] = "1950:06:01 12:00:00"
    options = {"quality": 95} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    # Exif bytes rather than the object: Pillow's TIFF writer only writes the Exif sub-IFD of a loaded Exif
    loaded = load_image(_encode(_marked(), fmt, exif=exif.tobytes(), **options))
    rotated = orientation in (6, 8)
    assert loaded.rgb.shape == ((32, 16, 3) if rotated else (16, 32, 3))
    rows = slice(None, 8) if corner.startswith("top") else slice(-8, None)
    cols = slice(None, 8) if corner.endswith("left") else slice(-8, None)
    assert loaded.rgb[rows, cols].mean() > 0.9
    assert loaded.rgb.mean() < 0.2  # only that corner is white
    out = _exif(loaded)
    assert out[0x0112] == 1
    assert out[0x010F] == "Camera maker"
    assert out.get_ifd(0x8769)[0x9003] == "1950:06:01 12:00:00"
    assert 256 not in out and 273 not in out  # no TIFF layout tags copied from a TIFF's directory


@pytest.mark.parametrize(("orientation", "corner"), [(6, "top-right"), (8, "bottom-left"), (1, "top-left")])
def test_a_pil_image_in_memory_is_turned_upright_as_a_file_is(orientation: int, corner: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    with Image.open(io.BytesIO(_encode(_marked(), "PNG", exif=exif.tobytes()))) as im:
        loaded = loaded_from_pil(im)
        assert im.size == (32, 16) and im.getexif()[0x0112] == orientation  # the caller's image is left as it was
    assert loaded.rgb.shape == ((32, 16, 3) if orientation in (6, 8) else (16, 32, 3))
    rows = slice(None, 8) if corner.startswith("top") else slice(-8, None)
    cols = slice(None, 8) if corner.endswith("left") else slice(-8, None)
    assert loaded.rgb[rows, cols].mean() > 0.9 and loaded.rgb.mean() < 0.2
    assert loaded.exif is None


def test_no_exif_gives_none() -> None:
    assert load_image(_encode(_marked(), "PNG")).exif is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_matches_pillow(orientation: int) -> None:
    arr = np.random.default_rng(orientation).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    with Image.open(io.BytesIO(_encode(Image.fromarray(arr), "PNG", exif=exif))) as im:
        from PIL import ImageOps

        expected = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(_orient(arr, orientation), expected)


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_rgb_icc_profile_is_kept(fmt: str) -> None:
    icc = _srgb_icc()
    assert load_image(_encode(_marked(), fmt, icc_profile=icc)).icc == icc


def test_non_rgb_icc_profile_is_dropped() -> None:
    lab_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    loaded = load_image(_encode(_halves(64, 200, "L"), "PNG", icc_profile=lab_icc))
    assert loaded.icc is None
    assert load_image(_encode(_halves((0, 0, 0, 0), (0, 0, 0, 255), "CMYK"), "TIFF")).icc is None


# --- errors ---------------------------------------------------------------------------------------------------


def _error(source: object, **kwargs: object) -> ImageError:
    with pytest.raises(ImageError) as info:
        load_image(source, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return info.value


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    for source in (path, b"", io.BytesIO()):
        error = _error(source)
        assert error.kind == "empty" and "empty" in str(error)
        assert "empty.jpg" not in str(error)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("These are my holiday notes, not a photo.\n")
    error = _error(path)
    assert error.kind == "unsupported"
    assert "not an image Pillow can read" in str(error) and "not recognised" in str(error)
    assert "text" in str(error)
    assert "notes.jpg" not in str(error)
    assert _error(b"\x00\x01\x02\x03 unknown binary junk \xff" * 4).kind == "unsupported"


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_is_corrupt(fmt: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(noise), fmt)
    error = _error(data[: len(data) // 2])
    assert error.kind == "corrupt"
    assert "truncated" in str(error) and fmt in str(error)


def test_broken_header_is_corrupt() -> None:
    data = _encode(_marked(), "PNG")
    error = _error(data[:20])  # the PNG signature, then a cut-off IHDR
    assert error.kind == "corrupt" and "PNG" in str(error)


def test_tiny_image_is_too_small() -> None:
    error = _error(_encode(Image.new("L", (1, 1), 128), "PNG"))
    assert error.kind == "too_small"
    assert "1 x 1" in str(error) and f"{MIN_SIDE} x {MIN_SIDE}" in str(error)
    assert _error(_encode(Image.new("RGB", (100, MIN_SIDE - 1)), "PNG")).kind == "too_small"
    assert load_image(_encode(Image.new("RGB", (MIN_SIDE, MIN_SIDE)), "PNG")).rgb.shape == (MIN_SIDE, MIN_SIDE, 3)


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    """A real 12000 x 12000 one-bit PNG: 144 Mpx, above the default limit, yet only ~17 kB on disk."""
    return _encode(Image.new("1", (12_000, 12_000)), "PNG")


def test_decompression_bomb_refused_before_decoding(bomb_png: bytes) -> None:
    assert len(bomb_png) < 100_000
    error = _error(bomb_png, max_pixels=10_000_000)
    assert error.kind == "too_large"
    assert "144,000,000" in str(error) and "10,000,000" in str(error)
    error = _error(bomb_png)  # the default limit, 120 Mpx
    assert error.kind == "too_large" and "120,000,000" in str(error)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but holds a tiny IDAT: never meant to be decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def test_huge_bomb_refused_by_pillow_check_too() -> None:
    data = _png_header_only(20_000, 20_000)  # 400 Mpx: Pillow's own DecompressionBombError fires in Image.open
    error = _error(data)
    assert error.kind == "too_large" and "400,000,000" in str(error)
    assert _error(data, max_pixels=10**12).kind == "too_large"


def test_image_error_kinds() -> None:
    assert isinstance(ImageError("corrupt", "x"), ValueError)
    assert ImageError("empty", "x").kind == "empty"
    with pytest.raises(ValueError, match="unknown ImageError kind"):
        ImageError("weird", "x")


# --- output format rules -------------------------------------------------------------------------------------


def test_output_format_rules() -> None:
    assert output_format("PNG", "jpg") == "JPEG"
    assert output_format(None, "JPEG") == "JPEG"
    assert output_format("JPEG", "Tif") == "TIFF"
    assert output_format("JPEG", "tiff") == "TIFF"
    assert output_format("JPEG", "webp") == "WEBP"
    assert output_format("JPEG", "bmp") == "BMP"
    assert output_format("JPEG", "PNG") == "PNG"
    for fmt in FORMATS:
        assert output_format(fmt, None) == fmt
    assert output_format("MPO", None) == "JPEG"  # how Pillow names many camera JPEGs
    assert output_format("GIF", None) == "PNG"
    assert output_format(None, None) == "PNG"
    with pytest.raises(ValueError, match="jpg/jpeg, png, tif/tiff, webp, bmp"):
        output_format("PNG", "heic")


def test_extension() -> None:
    assert [extension(f) for f in ("JPEG", "PNG", "TIFF", "WEBP", "BMP")] == [".jpg", ".png", ".tif", ".webp", ".bmp"]
    assert extension("jpg") == ".jpg"
    with pytest.raises(ValueError):
        extension("gif")


# --- encode / save round trips ---------------------------------------------------------------------------------


def _test_picture() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    rgb = np.stack([xx / (W - 1), yy / (H - 1), np.full_like(xx, 0.5)], axis=-1)
    alpha = np.where(xx < 8, 1.0, 0.4).astype(np.float32)
    return rgb, alpha


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_save_round_trip_keeps_metadata(fmt: str, tmp_path: Path) -> None:
    rgb, alpha = _test_picture()
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "Camera maker"
    exif.get_ifd(0x8769)[0x9003] = "1950:06:01 12:00:00"
    icc = _srgb_icc()
    path = tmp_path / f"out{extension(fmt)}"
    save_image(rgb, path, fmt, quality=95, exif=exif.tobytes(), icc=icc, provenance=PROVENANCE, alpha=alpha)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind

    loaded = load_image(path)
    assert loaded.format == fmt
    assert loaded.rgb.shape == (H, W, 3)
    np.testing.assert_allclose(loaded.rgb, rgb, atol=(0.06 if fmt in ("JPEG", "WEBP") else 0.5 / 255 + 1e-6))
    if fmt in ("PNG", "TIFF", "WEBP"):
        assert loaded.alpha is not None
        np.testing.assert_allclose(loaded.alpha, alpha, atol=1 / 255)
    else:
        assert loaded.alpha is None
    if fmt == "BMP":
        assert loaded.exif is None and loaded.icc is None
        assert read_provenance(path) == {}
        return
    assert loaded.icc == icc
    out = _exif(loaded)
    assert out[0x010F] == "Camera maker"
    assert out.get_ifd(0x8769)[0x9003] == "1950:06:01 12:00:00"
    assert read_provenance(path) == PROVENANCE
    if fmt != "PNG":
        assert out[0x0131] == "colouriser 0.1.0"  # Software
        assert out[0x010E].startswith("Colours estimated by a neural network")  # ImageDescription


def test_encode_image_matches_save_and_reads_back_from_bytes(tmp_path: Path) -> None:
    rgb, _ = _test_picture()
    data = encode_image(rgb, "png", provenance=PROVENANCE)
    assert read_provenance(data) == PROVENANCE
    path = tmp_path / "a.png"
    save_image(rgb, path, "PNG", provenance=PROVENANCE)
    assert path.read_bytes() == data


def test_encode_rounds_and_clips() -> None:
    rgb = np.full((H, W, 3), 0.5, np.float32)  # 127.5 rounds to 128 (round half to even)
    rgb[0, 0] = [-0.2, 1.3, np.nan]
    with Image.open(io.BytesIO(encode_image(rgb, "PNG"))) as im:
        pixels = np.asarray(im)
    assert pixels[1, 1].tolist() == [128, 128, 128]
    assert pixels[0, 0].tolist() == [0, 255, 0]


def test_save_replaces_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jpg"
    path.write_bytes(b"old contents")
    rgb, _ = _test_picture()
    save_image(rgb, path, "JPEG")
    assert load_image(path).rgb.shape == (H, W, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]


def test_encode_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="H, W, 3"):
        encode_image(np.zeros((H, W), np.float32), "PNG")
    with pytest.raises(ValueError, match="alpha"):
        encode_image(np.zeros((H, W, 3), np.float32), "PNG", alpha=np.zeros((W, H), np.float32))
    with pytest.raises(ValueError, match="unknown output format"):
        encode_image(np.zeros((H, W, 3), np.float32), "gif")
