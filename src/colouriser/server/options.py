"""The colouring options a request may set, checked before any work is queued."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..hints import parse_hints_json
from ..prepare import MIN_SIZE
from .errors import ApiError, sentence

MAX_SIZE = 1024  # the network's working size: more costs time and memory for no gain
FORMATS = ("jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp")
MAX_HINTS = 200
MAX_VARIANT = 8


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
    """size, saturation, temperature, format, hints and variant from form fields or the query; absent or
    empty: the default. Hints in pixels are checked against the photo's size by the worker."""
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
    if raw := values.get("variant"):
        options["variant"] = int(_number("variant", raw, 0, MAX_VARIANT, whole=True))
    if raw := values.get("hints"):
        try:
            hints = parse_hints_json(raw)
        except ValueError as e:
            raise ApiError(422, "bad_parameter", sentence(f"The option 'hints' is not usable: {e}")) from None
        except (TypeError, AttributeError):  # x or y neither a number nor a string, say
            raise ApiError(422, "bad_parameter", "The option 'hints' is not usable: each hint is "
                           '{"x": pixels or "NN%", "y": pixels or "NN%", "colour": "#RRGGBB"}.') from None
        if len(hints) > MAX_HINTS:
            raise ApiError(422, "bad_parameter", f"The option 'hints' has {len(hints)} hints; at most {MAX_HINTS} "
                           "are allowed.")
        if hints:
            options["hints"] = hints
    return options
