"""The service's settings, their defaults and the environment variables that override the defaults."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

MIB = 1024 * 1024


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, which containers and `taskset` narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _env(name: str, default: str) -> str:
    return os.environ.get(f"COLOURISER_{name}", default)


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # inference processes, each with the model loaded once
    queue_size: int = 8  # requests that may wait for a worker; more are answered 503 at once
    max_upload_bytes: int = 20 * MIB  # the whole request body; larger -> 413
    max_pixels: int = 25_000_000  # width x height, checked from the header before decoding; larger -> 413
    timeout: float = 60.0  # seconds from admission to the answer; later -> 504
    body_timeout: float = 30.0  # seconds to receive the upload; later -> 408
    retry_after: int = 5  # seconds, sent with every 503
    threads: int = 0  # torch threads per worker; 0: $OMP_NUM_THREADS if set, else CPUs // workers
    model: str | None = None  # model name, folder or .safetensors file; None: the shipped model
    flip_average: bool = False  # colour the mirror image too and average: more accurate, twice the network time
    instance: str = field(default_factory=socket.gethostname)  # the X-Instance response header
    log_level: str = "info"

    @property
    def capacity(self) -> int:
        """Requests that may be in the service at once: running plus waiting."""
        return self.workers + self.queue_size

    def worker_threads(self) -> int:
        if self.threads > 0:
            return self.threads
        omp = os.environ.get("OMP_NUM_THREADS", "")
        if omp.isdigit() and int(omp) > 0:
            return int(omp)
        return max(1, cpu_count() // self.workers)

    def validate(self) -> None:
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if self.queue_size < 0:
            raise ValueError("--queue-size must be 0 or more")
        if self.max_upload_bytes < 1 or self.max_pixels < 64:
            raise ValueError("the upload and pixel limits must be positive")
        if self.timeout <= 0 or self.body_timeout <= 0:
            raise ValueError("time limits must be positive")


def defaults_from_env() -> ServeConfig:
    """The defaults, overridden by COLOURISER_HOST, _PORT, _WORKERS, _QUEUE_SIZE, _MAX_UPLOAD_MB, _MAX_PIXELS,
    _TIMEOUT, _RETRY_AFTER, _THREADS, _MODEL, _FLIP_AVERAGE (1/true/yes/on), _INSTANCE, _LOG_LEVEL (handy in
    containers)."""
    base = ServeConfig()
    return ServeConfig(
        host=_env("HOST", base.host),
        port=int(_env("PORT", str(base.port))),
        workers=int(_env("WORKERS", str(base.workers))),
        queue_size=int(_env("QUEUE_SIZE", str(base.queue_size))),
        max_upload_bytes=int(float(_env("MAX_UPLOAD_MB", str(base.max_upload_bytes / MIB))) * MIB),
        max_pixels=int(_env("MAX_PIXELS", str(base.max_pixels))),
        timeout=float(_env("TIMEOUT", str(base.timeout))),
        retry_after=int(_env("RETRY_AFTER", str(base.retry_after))),
        threads=int(_env("THREADS", str(base.threads))),
        model=os.environ.get("COLOURISER_MODEL") or None,
        flip_average=_env("FLIP_AVERAGE", "").strip().lower() in ("1", "true", "yes", "on"),
        instance=_env("INSTANCE", base.instance),
        log_level=_env("LOG_LEVEL", base.log_level),
    )
