"""``colouriser serve``: its options (this module imports nothing heavy, so `colouriser --help` stays quick)."""

from __future__ import annotations

import argparse

from .config import MIB, ServeConfig, defaults_from_env


def add_serve_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    d = defaults_from_env()
    s = sub.add_parser("serve", help="run the web service: the page at / and the API at /api/colourise",
                       description="Run the web service. Every option may also be set as an environment variable "
                       "COLOURISER_<OPTION> (e.g. COLOURISER_WORKERS=2); options on the command line win.")
    s.add_argument("--host", default=d.host, help=f"address to listen on (default {d.host})")
    s.add_argument("--port", type=int, default=d.port, help=f"port (default {d.port})")
    s.add_argument("--workers", type=int, default=d.workers,
                   help=f"inference processes, each with the model loaded once (default {d.workers})")
    s.add_argument("--queue-size", type=int, default=d.queue_size,
                   help=f"requests that may wait for a worker; beyond it the answer is 503 (default {d.queue_size})")
    s.add_argument("--max-upload-mb", type=float, default=d.max_upload_bytes / MIB,
                   help=f"largest request body, in MiB (default {d.max_upload_bytes / MIB:g})")
    s.add_argument("--max-pixels", type=int, default=d.max_pixels,
                   help=f"largest image, width x height (default {d.max_pixels:,})")
    s.add_argument("--timeout", type=float, default=d.timeout,
                   help=f"seconds a request may take once admitted; then 504 (default {d.timeout:g})")
    s.add_argument("--retry-after", type=int, default=d.retry_after,
                   help=f"seconds in the Retry-After of a 503 (default {d.retry_after})")
    s.add_argument("--threads", type=int, default=d.threads,
                   help="torch threads per worker (default: $OMP_NUM_THREADS, else CPUs / workers)")
    s.add_argument("--model", default=d.model, help="model name, model folder or .safetensors file "
                   "(default: the shipped model)")
    s.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=d.flip_average,
                   help="colour the mirror image too and average the two: slightly more accurate colour for "
                        f"twice the network's time (default {'on' if d.flip_average else 'off'})")
    s.add_argument("--instance", default=d.instance, help="this instance's name, sent as the X-Instance header "
                   "(default: the host name)")
    s.add_argument("--log-level", default=d.log_level, choices=["debug", "info", "warning", "error"])
    s.set_defaults(func=cmd_serve)
    return s


def config_from_args(args: argparse.Namespace) -> ServeConfig:
    return ServeConfig(
        host=args.host, port=args.port, workers=args.workers, queue_size=args.queue_size,
        max_upload_bytes=int(args.max_upload_mb * MIB), max_pixels=args.max_pixels, timeout=args.timeout,
        retry_after=args.retry_after, threads=args.threads, model=args.model, flip_average=args.flip_average,
        instance=args.instance,
        log_level=args.log_level,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from ..pipeline import resolve_model
    from .runner import serve

    config = config_from_args(args)
    try:
        config.validate()
    except ValueError as exc:
        print(f"colouriser serve: {exc}")
        return 2
    resolve_model(config.model)  # a missing model fails here, before any worker starts (FileNotFoundError -> 2)
    serve(config)
    return 0

