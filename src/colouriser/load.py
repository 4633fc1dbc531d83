"""Read any photo robustly: every common format and Pillow mode to float32 sRGB, with clear errors.

``load_image`` returns the pixels as decoded (uint8 or uint16, greyscale or RGB; ``LoadedImage.pixels``) with
the EXIF orientation already applied, ``LoadedImage.rgb`` as an (H, W, 3) float32 array in 0..1 made from them
on first use, plus what a writer needs to keep: the EXIF block (orientation reset to 1), the ICC profile of
the pixels, the alpha channel and the input's format, mode and bit depth.

The pixels are always sRGB: a photo with an embedded ICC profile other than sRGB (Adobe RGB, ProPhoto, a
Gray Gamma 2.2 or Dot Gain grey profile, a CMYK profile) is converted into sRGB through it with littleCMS
(Pillow's ImageCms), so the lightness read from the pixels is the true one, and ``LoadedImage.icc`` is then
an sRGB profile. An sRGB profile is kept as it is; a profile littleCMS cannot read, or one that does not fit
the pixels, is dropped and the values are taken as sRGB.

Anything we cannot use raises :class:`ImageError` with a ``kind`` and a one-line message that does
not name the file (callers add the name).
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from PIL import ImageCms  # imported where used: Pillow may be built without littleCMS

MAX_PIXELS = 120_000_000  # default pixel limit (width x height), checked before decoding
MIN_SIDE = 8  # smallest width or height we accept

KINDS = ("empty", "unsupported", "corrupt", "too_large", "too_small")

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
# TIFF structural and bulky tags that Pillow's getexif() reports for a TIFF's main directory; they describe
# the input file's layout (or are kept elsewhere, like the ICC profile) and must not be written back as EXIF.
_NOT_EXIF = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 269, 273, 277, 278, 279, 280, 281, 284, 285, 290, 291,
    292, 293, 297, 317, 318, 319, 320, 321, 322, 323, 324, 325, 330, 332, 338, 339, 340, 341, 347, 513, 514, 529,
    530, 531, 532, 700, 33723, 34377, 34675, 37724,
})

_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
)


class ImageError(ValueError):
    """A photo we cannot use. `kind` is one of: "empty", "unsupported", "corrupt", "too_large", "too_small"."""

    def __init__(self, kind: str, message: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown ImageError kind {kind!r}; expected one of {', '.join(KINDS)}")
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(eq=False)
class LoadedImage:
    """A decoded photo. ``pixels`` is what the decoder gave, kept compact: (H, W) greyscale or (H, W, 3) sRGB,
    uint8 (0..255), uint16 (0..65535) or float32 (0..1). ``rgb`` is the float32 (H, W, 3) copy in 0..1 that
    most code wants; it takes 12 bytes a pixel, so it is only made when asked for (and then kept)."""

    pixels: np.ndarray  # EXIF orientation applied; 16-bit inputs keep their precision
    exif: bytes | None  # the EXIF block to write back, with Orientation reset to 1; None if none
    icc: bytes | None  # ICC profile of the pixels: the input's if it is sRGB, a built-in sRGB one if they were
    # converted through the input's own profile, None if the input had no (usable) profile
    format: str | None  # Pillow format name of the input, e.g. "JPEG", "PNG", "TIFF", "BMP", "WEBP" (or "MPO")
    mode: str  # the input's original Pillow mode, e.g. "L", "I;16", "CMYK"
    bit_depth: int  # 8 or 16: the precision the returned pixels actually carry
    alpha: np.ndarray | None  # (H, W) float32 0..1 if the input had transparency, else None

    @cached_property
    def rgb(self) -> np.ndarray:
        """(H, W, 3) float32 sRGB in 0..1."""
        return to_float_rgb(self.pixels)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]


def pixel_scale(pixels: np.ndarray) -> float:
    """The value of white for an array of pixels: 255 for uint8, 65535 for uint16, 1 for floats."""
    if pixels.dtype == np.uint8:
        return 255.0
    if pixels.dtype == np.uint16:
        return 65535.0
    if pixels.dtype.kind == "f":
        return 1.0
    raise TypeError(f"pixels must be uint8, uint16 or float, got {pixels.dtype}")


def to_float_rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) pixels of any dtype :func:`pixel_scale` knows -> (H, W, 3) float32 in 0..1."""
    scale = pixel_scale(pixels)
    if pixels.ndim == 2:
        rgb = np.empty((*pixels.shape, 3), np.float32)
        rgb[...] = np.divide(pixels, np.float32(scale), dtype=np.float32)[..., None]
        return rgb
    if scale == 1.0 and pixels.dtype == np.float32:
        return np.ascontiguousarray(pixels[..., :3])
    return np.divide(pixels[..., :3], np.float32(scale), dtype=np.float32)


def load_image(source: str | os.PathLike[str] | bytes | BinaryIO, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Read a photo from a path, bytes or a binary file object. Raises :class:`ImageError` if it is unusable.

    A missing or unreadable file raises the usual ``OSError`` (``FileNotFoundError``, ...), not ``ImageError``.
    """
    with _opened(source) as fp, warnings.catch_warnings():
        # We check the size against max_pixels ourselves, right after reading the header; Pillow's own warning
        # (at ~89 Mpx, below our default limit) would only be noise. Its hard error (~179 Mpx) is turned into ours.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = _open(fp)
        try:
            return _decode(im, fp, max_pixels)
        finally:
            im.close()


# --- opening ---------------------------------------------------------------------------------------------------


@contextmanager
def _opened(source: str | os.PathLike[str] | bytes | BinaryIO) -> Iterator[BinaryIO]:
    """A seekable binary file positioned at the start of the image; raises ImageError("empty") for 0 bytes."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if not data:
            raise ImageError("empty", "the file is empty (0 bytes)")
        yield io.BytesIO(data)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise ImageError("empty", "the file is empty (0 bytes)")
            yield f
    else:
        fp = source
        seekable = False
        with suppress(AttributeError, OSError):
            seekable = fp.seekable()
        if not seekable:
            fp = io.BytesIO(fp.read())
        start = fp.tell()
        if not fp.read(1):
            raise ImageError("empty", "the file is empty (0 bytes)")
        fp.seek(start)
        yield io.BytesIO(fp.read()) if start else fp  # Pillow and tifffile expect the image to start at offset 0


def _open(fp: BinaryIO) -> Image.Image:
    """Image.open (reads the header only), with its failures turned into ImageError."""
    fp.seek(0)
    try:
        return Image.open(fp)
    except Image.DecompressionBombError as e:
        raise _bomb_error(e) from None
    except UnidentifiedImageError:
        fp.seek(0)
        head = fp.read(64)
        looks_like = _signature(head)
        if looks_like:
            raise ImageError("corrupt", f"the file starts like a {looks_like} but its header cannot be read") from None
        raise ImageError("unsupported", f"not an image Pillow can read: {_describe_unknown(head)}") from None
    except OSError as e:
        if e.errno is not None:  # a real I/O error, not a decoding one
            raise
        raise _header_error(fp, e) from e
    except (SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError) as e:
        raise _header_error(fp, e) from e


def _header_error(fp: BinaryIO, e: Exception) -> ImageError:
    fp.seek(0)
    name = _signature(fp.read(64)) or "image"
    return ImageError("corrupt", f"the {name} header is truncated or corrupt: {_one_line(e)}")


def _signature(head: bytes) -> str | None:
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


def _describe_unknown(head: bytes) -> str:
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftyphevc"):
        return "the format is HEIF/HEIC, which is not supported (convert it to JPEG or PNG first)"
    if head.startswith(b"%PDF"):
        return "the file is a PDF, not an image"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "the format is not recognised (the file looks like text)"
    return "the format is not recognised"


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__


def _bomb_error(e: Exception) -> ImageError:
    size, limit = re.search(r"\((\d+) pixels\)", str(e)), re.search(r"limit of (\d+)", str(e))
    if size and limit:
        return ImageError(
            "too_large",
            f"the image has {int(size[1]):,} pixels, more than Pillow's safety limit of {int(limit[1]):,} pixels "
            "(a possible decompression bomb)",
        )
    return ImageError("too_large", f"the image is too large to decode safely: {_one_line(e)}")


# --- decoding --------------------------------------------------------------------------------------------------


def _decode(im: Image.Image, fp: BinaryIO, max_pixels: int) -> LoadedImage:
    width, height = im.size
    pixels = width * height
    if pixels > max_pixels:
        raise ImageError(
            "too_large",
            f"the image is {width} x {height} = {pixels:,} pixels, more than the limit of {max_pixels:,} pixels "
            "(a possible decompression bomb)",
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            "too_small", f"the image is only {width} x {height} pixels; at least {MIN_SIDE} x {MIN_SIDE} is needed"
        )
    fmt, mode = im.format, im.mode
    icc = im.info.get("icc_profile") or None

    if fmt == "TIFF" and mode in ("RGB", "RGBA") and _tiff_bits(im) == 16:
        # Pillow reports 16-bit RGB TIFFs as mode "RGB" and decodes them to 8 bits (and planar ones wrongly).
        loaded = _load_tiff16(im, fp)
        if loaded is not None:
            rgb, alpha = loaded
            rgb, icc = _in_srgb(rgb, icc)  # uint8 if it had to be converted (littleCMS via Pillow is 8-bit for RGB)
            return LoadedImage(rgb, _exif_out(im), icc, fmt, mode, 16 if rgb.dtype == np.uint16 else 8, alpha)
        if im.tag_v2.get(284) == 2 and any(tile.codec_name == "raw" for tile in im.tile):  # type: ignore[attr-defined]
            # Pillow's own reader takes uncompressed planar 16-bit samples as 8-bit ones (libtiff's is right)
            raise ImageError("unsupported", "not an image Pillow can read correctly: uncompressed 16-bit planar RGB "
                             "TIFF (install tifffile to read it)")

    try:
        im.load()
    except Image.DecompressionBombError as e:
        raise _bomb_error(e) from None
    except MemoryError:
        raise
    except OSError as e:
        if e.errno is not None:
            raise
        raise ImageError("corrupt", f"the {fmt or 'image'} data is truncated or corrupt: {_one_line(e)}") from e
    except Exception as e:  # Pillow's plugins raise many kinds of errors on malformed data
        raise ImageError("corrupt", f"the {fmt or 'image'} data is truncated or corrupt: {_one_line(e)}") from e

    im, pixels, alpha, bit_depth, icc = _upright_in_srgb(im, icc, in_place=True)
    return LoadedImage(pixels, _exif_out(im), icc, fmt, mode, bit_depth, alpha)


def _upright_in_srgb(im: Image.Image, icc: bytes | None, in_place: bool
                     ) -> tuple[Image.Image, np.ndarray, np.ndarray | None, int, bytes | None]:
    """(the image turned upright by its EXIF orientation, its pixels in sRGB, alpha, bit depth, the ICC profile to
    write with the pixels). ``in_place`` turns ``im`` itself (a file's image, ours to change); otherwise a copy."""
    with suppress(Exception):  # unreadable EXIF: keep the pixels as stored
        if in_place:
            ImageOps.exif_transpose(im, in_place=True)
        else:
            im = ImageOps.exif_transpose(im)
    pixels, alpha, bit_depth, converted = _pixels(im)
    if converted:  # CMYK or Lab, already turned into sRGB (through its embedded profile if it had a usable one)
        icc = srgb_icc() if converted == "profile" else None
    else:
        pixels, icc = _in_srgb(pixels, icc)
    return im, pixels, alpha, bit_depth, icc


def _pixels(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int, str | None]:
    """(pixels, alpha, bit_depth, converted) from a loaded image in any mode; pixels as :class:`LoadedImage`
    keeps them (uint8/uint16 as decoded, float32 0..1 for int32 and float modes). ``converted`` is None if the
    pixels are the stored values, else how CMYK or Lab was turned into sRGB: "profile" (through the embedded
    ICC profile) or "plain" (by formula)."""
    mode = im.mode
    transparency = im.info.get("transparency")
    converted: str | None = None
    if mode == "1":
        im, mode = im.convert("L"), "L"
    elif mode in ("La", "PA"):
        im = im.convert("LA" if mode == "La" else "RGBA")
        mode = im.mode
    elif mode == "RGBa":
        im, mode = im.convert("RGBA"), "RGBA"
    elif mode == "P":
        has_alpha = transparency is not None or (im.palette is not None and "A" in im.palette.mode)
        im = im.convert("RGBA" if has_alpha else "RGB")
        mode, transparency = im.mode, None
    elif mode == "CMYK":
        im, converted = _cmyk_to_rgb(im)
        mode = "RGB"
    elif mode == "LAB":
        im, converted = _lab_to_rgb(im), "plain"
        mode = "RGB"
    elif mode in ("RGBX", "YCbCr", "HSV"):
        im, mode = im.convert("RGB"), "RGB"

    if mode in ("L", "LA", "RGB", "RGBA"):
        arr = _as_array(im)
        scale, bit_depth = 255.0, 8
    elif mode.startswith("I;16"):
        arr = _as_array(im)  # uint16, little- or big-endian
        if arr.dtype != np.uint16:
            arr = arr.astype(np.uint16)  # native byte order
        scale, bit_depth = 65535.0, 16
    elif mode == "I":  # int32: what older Pillow gives for 16-bit greyscale PNG/TIFF; holds 0..65535 there
        arr = np.asarray(im)
        scale, bit_depth = (65535.0 if arr.size == 0 or arr.max() <= 65535 else 2147483647.0), 16
    elif mode == "F":  # float: 0..1, or 0..255 / 0..65535 stored as float
        arr = np.nan_to_num(np.asarray(im, dtype=np.float32))
        top = float(arr.max()) if arr.size else 1.0
        scale, bit_depth = (1.0 if top <= 1.0 else 255.0 if top <= 255.0 else 65535.0), 16
    else:
        try:
            im = im.convert("RGBA" if "A" in mode else "RGB")
        except (ValueError, OSError) as e:
            msg = f"not an image Pillow can read: the pixel mode {mode!r} is not supported"
            raise ImageError("unsupported", msg) from e
        return (*_pixels(im)[:3], converted)

    if arr.ndim == 2:  # greyscale
        alpha = None
        if isinstance(transparency, int) and not isinstance(transparency, bool):
            alpha = (arr != transparency).astype(np.float32)
        if mode in ("I", "F"):  # to float32 0..1
            grey = np.divide(arr, np.float32(scale), dtype=np.float32)
            np.clip(grey, 0.0, 1.0, out=grey)
            return grey, alpha, bit_depth, converted
        return arr, alpha, bit_depth, converted
    if arr.shape[2] == 2:  # LA
        return np.ascontiguousarray(arr[..., 0]), np.divide(arr[..., 1], np.float32(scale), dtype=np.float32), \
            bit_depth, converted
    rgb = arr[..., :3]
    if arr.shape[2] == 4:
        return rgb, np.divide(arr[..., 3], np.float32(scale), dtype=np.float32), bit_depth, converted
    alpha = None
    if isinstance(transparency, tuple) and len(transparency) == 3:  # PNG tRNS colour key on RGB
        alpha = (~np.all(arr == np.asarray(transparency, arr.dtype), axis=-1)).astype(np.float32)
    return rgb, alpha, bit_depth, converted


def _as_array(im: Image.Image, band_pixels: int = 1 << 22) -> np.ndarray:
    """``np.asarray(im)``, without its peak for big images: Pillow's ``tobytes`` builds the whole image as
    chunks and joins them (two extra copies); here it is copied a band of rows at a time into one array."""
    if im.width * im.height <= band_pixels:
        return np.asarray(im)
    first = np.asarray(im.crop((0, 0, im.width, 1)))
    out = np.empty((im.height, *first.shape[1:]), first.dtype)
    rows = max(1, band_pixels // im.width)
    for top in range(0, im.height, rows):
        bottom = min(im.height, top + rows)
        out[top:bottom] = np.asarray(im.crop((0, top, im.width, bottom)))
    return out


def _cmyk_to_rgb(im: Image.Image) -> tuple[Image.Image, str]:
    """CMYK to sRGB through the embedded CMYK profile if there is one ("profile"), else Pillow's plain
    conversion ("plain")."""
    icc = im.info.get("icc_profile")
    if icc and icc[16:20] == b"CMYK":
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(im, source, _srgb_profile(), outputMode="RGB")
            if out is not None:
                return out, "profile"
        except Exception:  # no littleCMS, or a broken profile: fall back to the plain formula
            pass
    return im.convert("RGB"), "plain"


def _lab_to_rgb(im: Image.Image) -> Image.Image:
    try:
        from PIL import ImageCms

        transform = ImageCms.buildTransform(ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB")
        return ImageCms.applyTransform(im, transform)  # type: ignore[return-value]
    except Exception as e:
        raise ImageError("unsupported", "not an image Pillow can read: cannot convert its Lab colours to RGB") from e


# --- colour profiles -------------------------------------------------------------------------------------------


def _in_srgb(pixels: np.ndarray, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """(pixels in sRGB, the ICC profile to write with them) for pixels (H, W) or (H, W, 3) tagged with ``icc``.

    An sRGB profile (one that maps colours onto themselves in sRGB) is kept with the pixels untouched. An RGB
    profile on RGB pixels, or a grey or RGB profile on greyscale ones (grey v meaning the colour (v, v, v)), is
    used to convert the pixels into sRGB, relative colorimetric, and the profile becomes sRGB's. Anything else,
    or a profile littleCMS cannot read, is dropped and the values are taken as sRGB. RGB pixels are converted
    a band of rows at a time, greyscale ones through a table, in place where the array allows it; 16-bit RGB
    comes back as uint8 (Pillow's littleCMS transforms are 8-bit for RGB), 16-bit greyscale stays uint16.
    """
    if not icc:
        return pixels, None
    try:
        from PIL import ImageCms

        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = profile.profile.xcolor_space.strip()
        if space == "RGB" and _is_srgb(profile):
            return pixels, icc
        if pixels.ndim == 3 and space == "RGB" and pixels.dtype in (np.uint8, np.uint16):
            transform = ImageCms.buildTransform(profile, _srgb_profile(), "RGB", "RGB", _INTENT)
            return _transform_rgb(pixels, transform), srgb_icc()
        if pixels.ndim == 2 and space in ("GRAY", "RGB"):
            table = _grey_table(profile, space, 256 if pixels.dtype == np.uint8 else 65536)
            return _apply_table(pixels, table), srgb_icc()
    except MemoryError:
        raise
    except Exception:  # no littleCMS, or a profile it cannot read or use: take the values as sRGB
        pass
    return pixels, None


_INTENT = 1  # ImageCms.Intent.RELATIVE_COLORIMETRIC (a constant here: ImageCms is imported only where used);
# in-gamut colours keep their lightness exactly


@cache
def srgb_icc() -> bytes:
    """littleCMS's built-in sRGB profile, as ICC bytes to embed in outputs."""
    return _srgb_profile().tobytes()


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@cache
def _srgb_grey_profile() -> ImageCms.ImageCmsProfile:
    """A grey profile with sRGB's tone curve (D50 white, parametric curve type 3): grey values in it are the
    grey of sRGB (v, v, v). ImageCms cannot make one, so it is written here: header, tag table, wtpt, kTRC."""
    from PIL import ImageCms

    def s15(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    d50 = s15(0.9642, 1.0, 0.8249)
    srgb_curve = s15(2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)  # ((a x + b) ^ g above d, else c x)
    tags = [(b"wtpt", b"XYZ \0\0\0\0" + d50), (b"kTRC", b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + srgb_curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, tag in tags:
        table += struct.pack(">4sII", sig, offset + len(data), len(tag))
        data += tag + bytes(-len(tag) % 4)
    header = struct.pack(">I4sI4s4s4s", offset + len(data), b"", 0x02100000, b"mntr", b"GRAY", b"XYZ ")
    header += bytes(12) + b"acsp" + bytes(28) + d50 + bytes(48)
    return ImageCms.ImageCmsProfile(io.BytesIO(header + struct.pack(">I", len(tags)) + table + data))


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    """Whether an RGB profile is sRGB in effect: it maps 216 colours spanning the cube onto themselves in sRGB
    within 2/255 (true of the usual sRGB profiles, whatever their name or version)."""
    from PIL import ImageCms

    levels = np.arange(0, 256, 51, dtype=np.uint8)
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(1, -1, 3)
    transform = ImageCms.buildTransform(profile, _srgb_profile(), "RGB", "RGB", _INTENT)
    out = np.asarray(ImageCms.applyTransform(Image.fromarray(cube), transform))
    return int(np.abs(out.astype(np.int16) - cube).max()) <= 2


def _transform_rgb(pixels: np.ndarray, transform: ImageCms.ImageCmsTransform,
                   band_pixels: int = 1 << 22) -> np.ndarray:
    """Apply an 8-bit RGB ImageCms transform to (H, W, 3) uint8 or uint16 pixels, a band of rows at a time;
    returns uint8, written over ``pixels`` when they are uint8 and writable."""
    from PIL import ImageCms

    in_place = pixels.dtype == np.uint8 and pixels.flags.writeable
    out = pixels if in_place else np.empty(pixels.shape, np.uint8)
    rows = max(1, band_pixels // max(1, pixels.shape[1]))
    for top in range(0, pixels.shape[0], rows):
        band = pixels[top:top + rows]
        if band.dtype == np.uint16:
            band = ((band.astype(np.uint32) + 128) // 257).astype(np.uint8)  # 65535 -> 255, rounded
        im = Image.fromarray(np.ascontiguousarray(band))
        ImageCms.applyTransform(im, transform, inPlace=True)
        out[top:top + rows] = np.asarray(im)
    return out


def _grey_table(profile: ImageCms.ImageCmsProfile, space: str, size: int) -> np.ndarray:
    """The sRGB grey for every value (``size`` 256: uint8, 65536: uint16) of greyscale pixels in ``profile``
    (a grey profile, or an RGB one with grey v as (v, v, v)), as a lookup table of that dtype."""
    from PIL import ImageCms

    dtype = np.uint8 if size == 256 else np.uint16
    if space == "GRAY":
        ramp = np.arange(size, dtype=dtype).reshape(-1, 256)
    else:  # 8-bit RGB is what ImageCms takes: 256 greys, interpolated for 16-bit pixels below
        ramp = np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(1, 256, 3)
    ramp_im = Image.fromarray(ramp)
    out_mode = "L" if size == 256 else "I;16"
    # Not optimised: littleCMS's optimised grey transforms are off by several levels near black.
    transform = ImageCms.buildTransform(profile, _srgb_grey_profile(), ramp_im.mode, out_mode, _INTENT,
                                        flags=ImageCms.Flags.NOOPTIMIZE)
    table = np.asarray(ImageCms.applyTransform(ramp_im, transform)).reshape(-1)  # type: ignore[arg-type]
    if table.size != size:
        table = np.rint(np.interp(np.arange(size), np.arange(256) * 257, table)).astype(dtype)
    return table.astype(dtype, copy=False)


def _apply_table(pixels: np.ndarray, table: np.ndarray, band_pixels: int = 1 << 22) -> np.ndarray:
    """``table[pixels]`` for (H, W) uint8 or uint16 pixels (float 0..1 ones are looked up at 16 bits), a band of
    rows at a time, written over ``pixels`` when they are writable."""
    out = pixels if pixels.flags.writeable else np.empty_like(pixels)
    rows = max(1, band_pixels // max(1, pixels.shape[1]))
    top_value = table.size - 1
    for top in range(0, pixels.shape[0], rows):
        band = pixels[top:top + rows]
        if band.dtype.kind == "f":
            index = np.rint(np.clip(band, 0, 1) * top_value).astype(np.int32)
            out[top:top + rows] = table[index] / np.float32(top_value)
        else:
            out[top:top + rows] = table[band]
    return out


def _tiff_bits(im: Image.Image) -> int:
    bits = im.tag_v2.get(258, (8,))  # type: ignore[attr-defined]
    if isinstance(bits, int):
        return bits
    return max(bits) if bits else 8


def _load_tiff16(im: Image.Image, fp: BinaryIO) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Read a 16-bit RGB(A) TIFF at full precision with tifffile, if it is installed and can decode it."""
    try:
        import tifffile
    except ImportError:
        return None
    try:
        fp.seek(0)
        with tifffile.TiffFile(fp) as tif:
            page = tif.pages[0]
            arr = page.asarray()
            axes = page.axes
            tag = page.tags.get(274)
            orientation = int(tag.value) if tag is not None else 1
    except MemoryError:
        raise
    except Exception:  # e.g. LZW without imagecodecs: let Pillow decode it at 8 bits instead
        return None
    if axes == "SYX":  # planar configuration
        arr = np.moveaxis(arr, 0, -1)
    elif axes != "YXS":
        return None
    if arr.dtype != np.uint16 or arr.shape[2] < 3:
        return None
    arr = _orient(arr, orientation)
    rgb = arr[..., :3] if arr.shape[2] == 3 else np.ascontiguousarray(arr[..., :3])
    alpha = np.divide(arr[..., 3], np.float32(65535), dtype=np.float32) if im.mode == "RGBA" else None
    return rgb, alpha


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an array with (H, W) as its first axes, as ImageOps.exif_transpose does."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(arr)) if op else arr


def _exif_out(im: Image.Image) -> bytes | None:
    """The input's EXIF, cleaned for writing back: Orientation 1, no TIFF layout tags, no thumbnail (IFD1)."""
    try:
        old = im.getexif()
        if not len(old):
            return None
        new = Image.Exif()
        for tag, value in old.items():
            if tag in (EXIF_IFD, GPS_IFD):
                ifd = dict(old.get_ifd(tag))
                if tag == EXIF_IFD and INTEROP_IFD in ifd:
                    interop = old.get_ifd(INTEROP_IFD)
                    if interop:
                        ifd[INTEROP_IFD] = dict(interop)
                    else:
                        del ifd[INTEROP_IFD]
                if ifd:
                    new[tag] = ifd
            elif tag not in _NOT_EXIF and tag != ORIENTATION:
                new[tag] = value
        new[ORIENTATION] = 1
        return new.tobytes()
    except Exception:  # malformed EXIF is not worth failing the photo for
        return None


def loaded_from_pil(im: Image.Image) -> LoadedImage:
    """A PIL image already in memory (any mode), read as :func:`load_image` reads a file: turned upright by its
    EXIF orientation and its pixels brought into sRGB by its ICC profile, so that a camera's portrait photo comes
    back upright and an Adobe RGB scan gives its true lightness. The EXIF block is not kept (the caller holds the
    image and its metadata)."""
    if min(im.size) < MIN_SIDE:
        raise ImageError("too_small", f"the image is only {im.width} x {im.height} pixels; "
                         f"at least {MIN_SIDE} x {MIN_SIDE} is needed")
    _, pixels, alpha, bit_depth, icc = _upright_in_srgb(im, im.info.get("icc_profile") or None, in_place=False)
    return LoadedImage(pixels, None, icc, im.format, im.mode, bit_depth, alpha)
