"""What runs inside an inference worker process: load the model once, then colour photos from bytes to bytes.

This module is imported by freshly spawned processes, so it imports nothing of the web stack. Results go back
as plain tuples (exceptions with custom constructors do not survive pickling), and nothing here logs image
bytes or writes a file.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import numpy as np

log = logging.getLogger("colouriser.server.worker")

_colouriser: Any = None

# (status, ...) tuples a job returns
OK = "ok"  # ("ok", data, format)
IMAGE_ERROR = "image_error"  # ("image_error", kind, message)
BAD_PARAMETER = "bad_parameter"  # ("bad_parameter", message)
INTERNAL = "internal"  # ("internal", exception type name)


def init_worker(model: str | None, threads: int, parent: int, flip_average: bool = False) -> None:
    """Process-pool initializer: leave signals to the parent, size torch's thread pool, load and warm the model."""
    # Ctrl-C reaches the whole process group and a group-wide SIGTERM every member: the parent alone decides
    # when workers stop (after the requests in flight), so the workers ignore both.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s:     [worker %(process)d] "
                        "%(message)s")
    _watch_parent(parent)

    import torch

    from ..pipeline import Colouriser

    torch.set_num_threads(threads)
    global _colouriser
    _colouriser = Colouriser.from_pretrained(model, flip_average=flip_average)
    _colouriser.colourise_rgb(np.full((64, 64, 3), 0.5, np.float32))  # warm up: allocations, kernels


def _watch_parent(parent: int) -> None:
    """Exit if the parent dies without shutting the pool down (e.g. SIGKILL): never leave orphans behind."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def ping(pause: float = 0.0) -> int:
    """A trivial job: proves this worker has finished its initializer. Returns its pid."""
    time.sleep(pause)
    return os.getpid()


def colourise_job(data: bytes, options: dict[str, Any]) -> tuple[Any, ...]:
    """Decode, colour and encode one photo, all in memory (the pipeline's banded, memory-frugal path).

    ``options``: max_pixels, and optionally size, temperature, saturation, format, hints (a list of Hint),
    variant (n >= 1: the n-th alternative colouring instead of the automatic one) and output ("colour", or
    "confidence" for the PNG heat-map of how sure the network is).
    """
    from ..load import ImageError

    variant = int(options.get("variant") or 0)
    want = ".confidence" if options.get("output") == "confidence" else (f".variant{variant}" if variant else "")
    try:
        outputs = _colouriser.encode_outputs(
            data, options.get("format"), 92, hints=options.get("hints") or None, confidence=want == ".confidence",
            variants=variant, size=options.get("size"), temperature=options.get("temperature"),
            saturation=options.get("saturation"), max_pixels=options["max_pixels"], only=want)
        for suffix, out, fmt in outputs:
            if suffix == want:
                return OK, out, fmt
        return INTERNAL, "MissingOutput"
    except ImageError as e:
        return IMAGE_ERROR, e.kind, e.message
    except MemoryError:
        return IMAGE_ERROR, "too_large", "there is not enough memory to colour a photo this large"
    except ValueError as e:  # a bad working size or output format, or a hint outside the photo
        return BAD_PARAMETER, str(e)
    except Exception as e:
        # the type only: a message could quote image data
        log.error("colourising failed with %s", type(e).__name__)
        return INTERNAL, type(e).__name__
