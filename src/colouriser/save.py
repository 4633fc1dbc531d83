"""Write results with their metadata: EXIF, ICC profile, alpha and a provenance note, written atomically.

The provenance (who made the colours, with which model, and that they are a guess) is stored where it can be
read back with :func:`read_provenance`: as PNG text chunks, or in the EXIF of JPEG, WebP and TIFF files
(Software, ImageDescription, and the whole dict as JSON in the Exif UserComment). BMP holds no metadata.
"""

from __future__ import annotations

import io
import json
import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, PngImagePlugin

FORMATS = {"JPEG", "PNG", "TIFF", "WEBP", "BMP"}  # what we can write; canonical names
_REQUESTED = {"JPG": "JPEG", "JPEG": "JPEG", "PNG": "PNG", "TIF": "TIFF", "TIFF": "TIFF", "WEBP": "WEBP", "BMP": "BMP"}
_INPUT = {**_REQUESTED, "MPO": "JPEG"}  # Pillow calls camera JPEGs with a multi-picture index "MPO"
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}
_WITH_ALPHA = {"PNG", "TIFF", "WEBP"}
_WITH_METADATA = {"JPEG", "PNG", "TIFF", "WEBP"}

SOFTWARE = 0x0131
IMAGE_DESCRIPTION = 0x010E
EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
_ASCII_PREFIX = b"ASCII\x00\x00\x00"  # EXIF UserComment character-code header
_PNG_NOT_PROVENANCE = {"Raw profile type exif", "XML:com.adobe.xmp", "icc", "exif"}


def output_format(input_format: str | None, requested: str | None) -> str:
    """The format to write: ``requested`` if given (jpg, jpeg, png, tif, tiff, webp, bmp, any case), else the
    input's format if we can write it, else PNG. Raises ValueError for an unknown requested format."""
    if requested:
        return _canonical(requested)
    if input_format:
        fmt = _INPUT.get(input_format.strip().upper())
        if fmt in FORMATS:
            return fmt
    return "PNG"


def extension(fmt: str) -> str:
    """The usual file extension for a format: ".jpg", ".png", ".tif", ".webp", ".bmp"."""
    return _EXTENSIONS[_canonical(fmt)]


def format_of_suffix(suffix: str) -> str | None:
    """The format a file extension names (".jpg" -> "JPEG"), None for one we do not write."""
    return _REQUESTED.get(suffix.lstrip(".").upper())


def _canonical(fmt: str) -> str:
    name = _REQUESTED.get(fmt.strip().lstrip(".").upper())
    if name is None:
        raise ValueError(f"unknown output format {fmt!r}; choose one of: jpg/jpeg, png, tif/tiff, webp, bmp")
    return name


def encode_image(rgb: np.ndarray, fmt: str, quality: int = 92, exif: bytes | None = None, icc: bytes | None = None,
                 provenance: dict[str, str] | None = None, alpha: np.ndarray | None = None) -> bytes:
    """Encode an (H, W, 3) float sRGB image in 0..1 (or uint8) as ``fmt``, with the metadata the format can hold.

    ``alpha`` (H, W) in 0..1 is written for PNG, TIFF and WebP and dropped for JPEG and BMP; EXIF, ICC and
    provenance are written for JPEG, PNG, TIFF and WebP (BMP holds none of them).
    """
    fmt = _canonical(fmt)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    pixels = _to_uint8(rgb)
    if alpha is not None and fmt in _WITH_ALPHA:
        if alpha.shape != rgb.shape[:2]:
            raise ValueError(f"alpha has shape {alpha.shape}, expected {rgb.shape[:2]}")
        pixels = np.concatenate([pixels, _to_uint8(alpha)[..., None]], axis=2)
    im = Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")

    options: dict[str, Any] = {}
    if fmt in _WITH_METADATA:
        if icc:
            options["icc_profile"] = icc
        exif_out = _exif_with_provenance(exif, provenance if fmt != "PNG" else None)
        if exif_out is not None:
            options["exif"] = exif_out if fmt == "TIFF" else exif_out.tobytes()
    if fmt == "JPEG":
        options.update(quality=quality, subsampling=2, optimize=True)  # 4:2:0
    elif fmt == "WEBP":
        options.update(quality=quality)
    elif fmt == "PNG":
        options["compress_level"] = 6
        if provenance:
            info = PngImagePlugin.PngInfo()
            for key, value in provenance.items():
                info.add_text(key, value)  # falls back to an iTXt chunk for non-Latin-1 text
            options["pnginfo"] = info
    # TIFF stays uncompressed: with libtiff's compressors Pillow cannot write the Exif sub-IFD.

    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


def save_image(rgb: np.ndarray, path: str | os.PathLike[str], fmt: str, quality: int = 92,
               exif: bytes | None = None, icc: bytes | None = None, provenance: dict[str, str] | None = None,
               alpha: np.ndarray | None = None) -> None:
    """Encode (see :func:`encode_image`) and write atomically: a temporary file in the same folder, then os.replace.

    A reader never sees a half-written file, and an existing file at ``path`` is only replaced once the new
    one is complete. The new file gets the usual permissions (0666 less the umask).
    """
    data = encode_image(rgb, fmt, quality=quality, exif=exif, icc=icc, provenance=provenance, alpha=alpha)
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, unlike tempfile.mkstemp's 0600
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_provenance(source: str | os.PathLike[str] | bytes | BinaryIO) -> dict[str, str]:
    """The provenance written by :func:`encode_image` ({} if there is none, e.g. in a BMP)."""
    fp = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    with Image.open(fp) as im:
        if im.format == "PNG":
            text = {str(k): str(v) for k, v in im.text.items() if k not in _PNG_NOT_PROVENANCE}  # type: ignore[attr-defined]
            if text:
                return text
        exif = im.getexif()
        comment = exif.get_ifd(EXIF_IFD).get(USER_COMMENT)
        parsed = _parse_user_comment(comment)
        if parsed is not None:
            return parsed
        found = {}
        if isinstance(exif.get(SOFTWARE), str):
            found["Software"] = exif[SOFTWARE]
        if isinstance(exif.get(IMAGE_DESCRIPTION), str):
            found["Description"] = exif[IMAGE_DESCRIPTION]
        return found


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Float 0..1 to uint8 with rounding (NaN to 0, out-of-range values clipped); uint8 passes through."""
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    scaled = np.multiply(x, 255, dtype=np.float32)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, 255, out=scaled)
    return scaled.astype(np.uint8)


def _exif_with_provenance(exif: bytes | None, provenance: dict[str, str] | None) -> Image.Exif | None:
    if not exif and not provenance:
        return None
    out = Image.Exif()
    if exif:
        out.load(exif)
    if provenance:
        if "Software" in provenance:
            out[SOFTWARE] = provenance["Software"]
        if "Description" in provenance:
            out[IMAGE_DESCRIPTION] = provenance["Description"]
        ifd = out.get_ifd(EXIF_IFD)  # the Exif sub-IFD (a dict that tobytes() writes back)
        ifd[USER_COMMENT] = _ASCII_PREFIX + json.dumps(provenance, ensure_ascii=True).encode("ascii")
        if EXIF_IFD not in out:
            out[EXIF_IFD] = ifd
    return out


def _parse_user_comment(comment: Any) -> dict[str, str] | None:
    if isinstance(comment, str):
        comment = comment.encode("utf-8", "replace")
    if not isinstance(comment, bytes) or len(comment) < 8:
        return None
    if comment[:8] not in (_ASCII_PREFIX, b"\x00" * 8):
        return None
    try:
        value = json.loads(comment[8:].rstrip(b"\x00").decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    return {str(k): str(v) for k, v in value.items()}
