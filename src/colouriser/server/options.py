"""The colouring options a request may set, checked before any work is queued."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..prepare import MIN_SIZE
from .errors import ApiError

MAX_SIZE = 1024  # the network's working size: more costs time and memory for no gain
FORMATS = ("jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp")


def _number(name: str, raw: str, low: float, high: float, whole: bool = False) -> float:
    kind = "a whole number" if whole else "a number"
    problem = ApiError(422, "bad_parameter", f"The option '{name}' must be {kind} from {low:g} to {high:g}; "
                       f"got '{raw[:40]}'.")
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise problem from None
    if not low <= value <= high:
        raise problem
    return value


def parse_options(values: Mapping[str, str]) -> dict[str, Any]:
    """size, saturation, temperature and format from form fields or the query; absent or empty: the default."""
    options: dict[str, Any] = {}
    if raw := values.get("size"):
        options["size"] = int(_number("size", raw, MIN_SIZE, MAX_SIZE, whole=True))
    if raw := values.get("saturation"):
        options["saturation"] = _number("saturation", raw, 0.0, 2.0)
    if raw := values.get("temperature"):
        options["temperature"] = _number("temperature", raw, 0.05, 1.0)
    if raw := values.get("format"):
        if raw.lower().lstrip(".") not in FORMATS:
            raise ApiError(422, "bad_parameter",
                           f"The option 'format' must be one of jpg, png, webp, tif or bmp; got '{raw[:40]}'.")
        options["format"] = raw.lower().lstrip(".")
    return options
