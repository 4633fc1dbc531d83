"""The OpenAPI description of POST /api/colourise, whose body the app reads itself (to keep it in memory)."""

from __future__ import annotations

from typing import Any

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_IMAGE = {"schema": {"type": "string", "format": "binary"}}


def _error(text: str, retry: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": text, "content": _ERROR}
    if retry:
        answer["headers"] = {"Retry-After": {"description": "Seconds to wait before trying again",
                                             "schema": {"type": "integer"}}}
    return answer


_HINTS = {"type": "string", "contentMediaType": "application/json",
          "description": 'A JSON list of hints: [{"x": 120, "y": "25%", "colour": "#a03020"}] (x and y in pixels '
                         "or percent; at most 200 hints)",
          "examples": ['[{"x": "40%", "y": "25%", "colour": "#2050c0"}]']}

_SIZE = {"type": "integer", "minimum": 32, "maximum": 1024}


def _upload_body(options: dict[str, Any]) -> dict[str, Any]:
    """A photo as a multipart upload (field ``file`` plus ``options`` as form fields) or as the raw body."""
    form = {"type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary", "description": "The photo"}, **options}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form},
                                                          "image/*": _IMAGE, "application/octet-stream": _IMAGE}}}


COLOURISE_DOC: dict[str, Any] = {
    "description": (
        "Send a black-and-white (or faded) photo; get it back in colour at full resolution, in the input's format "
        "(JPEG, PNG, TIFF, WebP, BMP; other inputs give PNG) unless `format` asks for another, with its EXIF kept "
        "(a non-sRGB ICC profile is converted to sRGB and the result tagged sRGB) and a note that the colours are "
        "estimated. Send the photo either as a "
        "`multipart/form-data` upload (field `file`; the options may also be form fields) or as the raw request "
        "body with an `image/*` Content-Type. Nothing is stored: the photo and its result live in memory only. "
        "When the service is full the answer is an immediate 503 with `Retry-After`.\n\n"
        "`hints` (a JSON list, as in the CLI's hints file) says which colour the photo has at some points: "
        '`[{"x": 120, "y": "25%", "colour": "#a03020"}]`, x and y in pixels of the photo or in percent of its '
        "width and height; only the hint's hue and chroma are used, the lightness stays the photo's. "
        "`variant` (1 to 8) returns the n-th alternative colouring instead of the automatic one: the same n gives "
        "the same colouring, and hints apply to it too. `POST /api/confidence` gives the matching confidence map."
    ),
    "openapi_extra": _upload_body({
        "size": _SIZE,
        "saturation": {"type": "number", "minimum": 0, "maximum": 2},
        "temperature": {"type": "number", "minimum": 0.05, "maximum": 1},
        "format": {"type": "string", "enum": ["jpg", "png", "webp", "tif", "bmp"]},
        "hints": _HINTS,
        "variant": {"type": "integer", "minimum": 0, "maximum": 8,
                    "description": "The n-th alternative colouring; 0: the automatic one"},
    }),
    "responses": {
        200: {"description": "The colour photo, at the input's size",
              "content": {"image/jpeg": _IMAGE, "image/png": _IMAGE, "image/webp": _IMAGE, "image/tiff": _IMAGE,
                          "image/bmp": _IMAGE}},
        400: _error("Malformed multipart upload"),
        408: _error("The upload took longer than the body time limit"),
        413: _error("The upload is over the size limit, or the image over the pixel limit"),
        415: _error("Not an image format we read, or not a photo upload at all"),
        422: _error("Empty, corrupt or tiny image, no `file` field, or a bad option"),
        500: _error("Unexpected failure"),
        503: _error("Busy (the queue is full), starting or restarting: try again after Retry-After", retry=True),
        504: _error("Colouring took longer than the per-request time limit"),
    },
}

CONFIDENCE_DOC: dict[str, Any] = {
    "description": (
        "Send the same photo (and the same `size` and `hints`) as to `/api/colourise`; get back a PNG of the "
        "photo's size showing how sure the network is of each pixel's colour: one minus the normalised entropy of "
        "its predicted colour distribution, as a viridis heat-map (yellow: sure; purple: a guess). Upload as for "
        "`/api/colourise`; the same errors apply."
    ),
    "openapi_extra": _upload_body({"size": _SIZE, "hints": _HINTS}),
    "responses": {
        200: {"description": "The confidence heat-map (PNG), at the input's size", "content": {"image/png": _IMAGE}},
        **{k: v for k, v in COLOURISE_DOC["responses"].items() if k != 200},
    },
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "A short code: busy, too_large, unsupported, corrupt, ...",
                  "examples": ["busy"]},
        "detail": {"type": "string", "description": "A sentence to show a person"},
    },
}
