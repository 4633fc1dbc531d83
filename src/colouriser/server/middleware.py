"""One pure-ASGI middleware for every response: metrics, a privacy-safe access log and common headers.

The access log line holds the method, the path (never the query string), the status and the time taken:
no client address, no file name, no image bytes.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics

log = logging.getLogger("colouriser.server.access")

PAGE_POLICY = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class ServiceMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, instance: str) -> None:
        self.app = app
        self.metrics = metrics
        self.instance = instance.encode("latin-1", "replace")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-instance", self.instance))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if path == "/" or path.endswith(".html"):
                    headers.append((b"content-security-policy", PAGE_POLICY.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - began
            self.metrics.observe(path, status, seconds)
            log.info('"%s %s" %d %.3fs', scope["method"], path if len(path) <= 200 else path[:200] + "...",
                     status, seconds)
