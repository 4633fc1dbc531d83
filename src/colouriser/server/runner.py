"""Run the app on uvicorn with a logging set-up that keeps photos out of the logs."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from .config import ServeConfig


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's own access log is off (its lines carry query strings and client addresses); ours is
    colouriser.server.access (method, path, status, time)."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "colouriser": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


def serve(config: ServeConfig) -> None:
    """Serve until SIGTERM or SIGINT: then stop accepting, finish the requests in flight, stop the workers."""
    import uvicorn

    from .app import create_app

    config.validate()
    logging.config.dictConfig(log_config(config.log_level))
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(
        app, host=config.host, port=config.port, log_config=log_config(config.log_level), access_log=False,
        server_header=False, timeout_keep_alive=5, lifespan="on",
        # a request in flight may take the whole time limit; never wait longer than that at shutdown
        timeout_graceful_shutdown=int(config.timeout + config.body_timeout + 5),
    ))
    server.run()
