"""Every error the API gives: an HTTP status and a JSON body {"error": code, "detail": a readable sentence}."""

from __future__ import annotations

import json

from starlette.responses import Response

# The exact answer when the service is full. deploy/nginx.conf returns the same JSON for an upstream's 503:
# keep the two identical (tests/test_nginx.py checks it).
BUSY_DETAIL = "The service is busy right now. Please try again in a few seconds."

IMAGE_ERROR_STATUS = {"unsupported": 415, "empty": 422, "corrupt": 422, "too_small": 422, "too_large": 413}


class ApiError(Exception):
    """An answer that is not a photo: raise it anywhere in a request, the app turns it into JSON."""

    def __init__(self, status: int, code: str, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after

    def response(self) -> Response:
        return error_response(self.status, self.code, self.detail, self.retry_after)


def error_response(status: int, code: str, detail: str, retry_after: int | None = None) -> Response:
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    body = json.dumps({"error": code, "detail": detail}, ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def sentence(text: str) -> str:
    """'the file is empty (0 bytes)' -> 'The file is empty (0 bytes).'"""
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def image_error(kind: str, message: str) -> ApiError:
    """An ImageError from the loader (its message never names the file) as an API error."""
    return ApiError(IMAGE_ERROR_STATUS.get(kind, 422), kind, f"This photo cannot be coloured: {message}.")


def busy(retry_after: int) -> ApiError:
    return ApiError(503, "busy", BUSY_DETAIL, retry_after)
