"""Receive an upload entirely in memory: the raw body or a multipart form, with a size and a time limit.

Starlette's own form parser spools files over 1 MB to a temporary file on disk; this one never does. The
limit is checked against Content-Length before reading and against the bytes actually received (a chunked
upload has no Content-Length). The part's file name is read past and never kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from .errors import ApiError

MAX_PARTS = 16
MAX_FIELD_BYTES = 1024
LONG_FIELDS = {"hints": 64 * 1024}  # fields that may be longer: a JSON list of up to a few hundred hints
FILE_FIELD = "file"
RAW_TYPES = ("image/", "application/octet-stream")


@dataclass
class Upload:
    data: bytes
    fields: dict[str, str] = field(default_factory=dict)


def too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"The upload is larger than the limit of {_megabytes(limit)}. "
                    "Please send a smaller file.")


def _megabytes(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.2g} MB"


async def read_upload(request: Request, limit: int, timeout: float) -> Upload:
    """The photo and the form's other fields (or none, for a raw body). Raises ApiError for a bad upload."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    kind = content_type.decode("latin-1").lower()
    if kind != "multipart/form-data" and not kind.startswith(RAW_TYPES):
        raise ApiError(415, "unsupported", "Send the photo as a multipart/form-data upload with a 'file' field, "
                       "or as the request body with an image/* Content-Type.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    try:
        body = await asyncio.wait_for(_read_body(request, limit), timeout)
    except TimeoutError:
        raise ApiError(408, "request_timeout", f"The upload took longer than {timeout:g} seconds. "
                       "Please try again on a faster connection or with a smaller file.") from None
    except ClientDisconnect:
        raise ConnectionAbortedError("the client went away during the upload") from None
    if kind != "multipart/form-data":
        return Upload(body)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "bad_request", "The multipart upload has no boundary in its Content-Type.")
    return _parse_multipart(body, boundary)


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class _Parts:
    """Collects the parts of a multipart body through python-multipart's callbacks, in memory."""

    def __init__(self) -> None:
        self.parts: list[tuple[dict[bytes, bytes], bytearray]] = []
        self._headers: dict[bytes, bytes] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._data = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.part_begin, "on_part_data": self.part_data, "on_part_end": self.part_end,
            "on_header_field": self.header_field, "on_header_value": self.header_value,
            "on_header_end": self.header_end,
        }

    def part_begin(self) -> None:
        if len(self.parts) >= MAX_PARTS:
            raise ApiError(400, "bad_request", f"The form has more than {MAX_PARTS} parts.")
        self._headers, self._data = {}, bytearray()

    def part_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def part_end(self) -> None:
        self.parts.append((self._headers, self._data))

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field, self._value = bytearray(), bytearray()


def _parse_multipart(body: bytes, boundary: bytes) -> Upload:
    collected = _Parts()
    parser = MultipartParser(boundary, collected.callbacks())  # type: ignore[arg-type]
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        raise ApiError(400, "bad_request", "The multipart upload is malformed.") from None
    data: bytes | None = None
    fields: dict[str, str] = {}
    for headers, value in collected.parts:
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == FILE_FIELD:
            data = bytes(value)
        elif name:
            if len(value) > LONG_FIELDS.get(name, MAX_FIELD_BYTES):
                raise ApiError(422, "bad_parameter", f"The form field '{name[:40]}' is too long.")
            fields[name] = value.decode("utf-8", "replace").strip()
    if data is None:
        raise ApiError(422, "no_file", "The form has no photo: send it in a field named 'file'.")
    return Upload(data, fields)
