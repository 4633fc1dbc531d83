"""The FastAPI app: the page, the API, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive

from .. import __version__
from . import inference
from .config import ServeConfig
from .errors import ApiError, busy, error_response, image_error, sentence
from .metrics import Metrics
from .middleware import ServiceMiddleware
from .openapi import COLOURISE_DOC, CONFIDENCE_DOC, ERROR_SCHEMA
from .options import parse_options
from .pool import InferencePool, JobTimeoutError, UnavailableError
from .upload import read_upload

log = logging.getLogger("colouriser.server")

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff",
               "BMP": "image/bmp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp"}


class CachedStatic(StaticFiles):
    """Static files with a Cache-Control header (ETag and Last-Modified come from Starlette)."""

    max_age = 3600

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = f"public, max-age={self.max_age}"
        return response


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def create_app(config: ServeConfig) -> FastAPI:
    config.validate()
    pool = InferencePool(config)
    metrics = Metrics(pool)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.start()  # the workers load the model in the background: /healthz answers meanwhile
        try:
            yield
        finally:
            log.info("stopping the inference workers")
            await pool.stop()

    app = FastAPI(title="colouriser", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Plausible colour for black-and-white photographs. Photos are never stored: they "
                  "are coloured in memory and forgotten once answered.")
    app.state.pool = pool
    app.state.config = config
    app.add_middleware(ServiceMiddleware, metrics=metrics, instance=config.instance)  # type: ignore[arg-type]

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(404, "not_found", "There is nothing at this address.")
        if exc.status_code == 405:
            return error_response(405, "method_not_allowed", f"{request.method} is not allowed here.")
        return error_response(exc.status_code, "error", sentence(str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, "bad_parameter", sentence(f"{where}: {first.get('msg', 'invalid value')}"))

    async def answer(request: Request, query: dict[str, str | None], output: str) -> Response:
        """The work of both image endpoints: read, check, admit, colour in a worker, answer."""
        if pool.stopping:
            raise ApiError(503, "unavailable", "The service is restarting. Please try again in a few seconds.",
                           config.retry_after)
        if not pool.ready:
            if pool.failed:
                raise ApiError(503, "unavailable", "The service cannot colour photos right now.", config.retry_after)
            raise ApiError(503, "starting", "The service is starting up. Please try again in a few seconds.",
                           config.retry_after)
        try:
            upload = await read_upload(request, config.max_upload_bytes, config.body_timeout)
        except ApiError as e:
            metrics.rejections.labels(e.code).inc()
            raise
        try:
            options = parse_options({**{k: v for k, v in query.items() if v is not None}, **upload.fields})
        except ApiError as e:
            metrics.rejections.labels(e.code).inc()
            raise
        options["max_pixels"] = config.max_pixels
        options["output"] = output
        if output == "confidence":
            options.pop("variant", None)  # the map comes from the distribution, not from one colouring
        if not pool.try_admit():
            metrics.rejections.labels("busy").inc()
            raise busy(config.retry_after)
        try:
            result = await pool.run(upload.data, options, _wait_for_disconnect(request.receive))
        except JobTimeoutError:
            metrics.rejections.labels("timeout").inc()
            raise ApiError(504, "timeout", f"Colouring this photo took longer than {config.timeout:g} seconds. "
                           "Please try a smaller photo.") from None
        except UnavailableError:
            raise ApiError(503, "unavailable", "The service is restarting. Please try again in a few seconds.",
                           config.retry_after) from None
        except ConnectionAbortedError:
            return Response(status_code=499)  # nobody is listening; the number only shows in logs and metrics
        if result.status == inference.OK:
            data, fmt = result.payload
            metrics.photos.inc()
            name = "confidence" if output == "confidence" else "colourised"
            return Response(data, media_type=MEDIA_TYPES[fmt], headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'inline; filename="{name}.{EXTENSIONS[fmt]}"',
            })
        if result.status == inference.IMAGE_ERROR:
            kind, message = result.payload
            metrics.rejections.labels(kind).inc()
            raise image_error(kind, message)
        if result.status == inference.BAD_PARAMETER:
            metrics.rejections.labels("bad_parameter").inc()
            raise ApiError(422, "bad_parameter", sentence(result.payload[0]))
        raise ApiError(500, "internal", "Something went wrong while colouring this photo. Please try again.")

    size_query = Query(None, description="Long side of the network's working size, 32 to 1024 pixels (default: "
                       "the model's, 256).")
    hints_query = Query(None, description='Colour hints, a JSON list: `[{"x": 120, "y": "25%", "colour": '
                        '"#a03020"}]` (x and y in pixels of the photo or percent of its width and height; only the '
                        "hue and chroma are used). Usually sent as a form field.")

    @app.post("/api/colourise", tags=["colourise"], summary="Colour a photo", **COLOURISE_DOC)
    async def colourise(
        request: Request,
        size: str | None = size_query,
        saturation: str | None = Query(None, description="Scale the colour's chroma, 0 to 2 (default: the "
                                       "model's for automatic colourings, 1 with hints)."),
        temperature: str | None = Query(None, description="Annealed-mean temperature, 0.05 to 1: lower gives "
                                        "bolder colour (default: the model's)."),
        format: str | None = Query(None, description="Output format: jpg, png, webp, tif or bmp "
                                   "(default: the input's if it can be written, else png)."),
        hints: str | None = hints_query,
        variant: str | None = Query(None, description="1 to 8: the n-th alternative colouring (the colour "
                                    "distribution sampled with smooth noise, the same for the same n) instead of "
                                    "the automatic one; 0 or absent: the automatic one."),
    ) -> Response:
        return await answer(request, {"size": size, "saturation": saturation, "temperature": temperature,
                                      "format": format, "hints": hints, "variant": variant}, "colour")

    @app.post("/api/confidence", tags=["colourise"], summary="How sure the colouring is, as a heat-map",
              **CONFIDENCE_DOC)
    async def confidence(request: Request, size: str | None = size_query,
                         hints: str | None = hints_query) -> Response:
        return await answer(request, {"size": size, "hints": hints}, "confidence")

    @app.get("/api/limits", tags=["service"], summary="The upload limits, for clients to check before sending")
    async def limits() -> dict[str, Any]:
        return {"max_upload_bytes": config.max_upload_bytes, "max_pixels": config.max_pixels,
                "timeout_seconds": config.timeout}

    @app.get("/healthz", tags=["service"], summary="Liveness: the process answers")
    async def healthz() -> Response:
        if pool.failed:
            return error_response(500, "failed", sentence(pool.failed))
        return JSONResponse({"status": "alive"}, headers={"Cache-Control": "no-store"})

    @app.get("/readyz", tags=["service"], summary="Readiness: the model is loaded and the queue is not full")
    async def readyz() -> Response:
        state = {"workers": config.workers, "running": pool.running, "waiting": pool.waiting,
                 "capacity": pool.capacity}
        if pool.stopping:
            return error_response(503, "stopping", "The service is shutting down.")
        if not pool.ready:
            return error_response(503, "starting", "The model is still loading.")
        if pool.full:
            return error_response(503, "busy", "The queue is full.", config.retry_after)
        return JSONResponse({"status": "ready", **state}, headers={"Cache-Control": "no-store"})

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        body = await asyncio.to_thread(metrics.render)
        return Response(body, media_type=metrics.content_type, headers={"Cache-Control": "no-store"})

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", CachedStatic(directory=STATIC), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
