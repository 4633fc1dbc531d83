"""Helpers for the service tests: start the real `colouriser serve` on loopback, make test photos.

(Named test_*.py so it may live in tests/ next to the tests that import it; it holds no tests itself.)
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import numpy as np
import skimage.data
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def grey_photo(width: int, height: int, fmt: str = "JPEG", **save: object) -> bytes:
    """A real black-and-white photo (scikit-image's cameraman) at the given size, encoded in memory."""
    im = Image.fromarray(skimage.data.camera()).resize((width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    im.save(buffer, fmt, **save)
    return buffer.getvalue()


def chroma(data: bytes) -> float:
    """Mean colourfulness of an encoded image: 0 for grey."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32)
    return float(np.abs(rgb[..., 0] - rgb[..., 1]).mean() + np.abs(rgb[..., 1] - rgb[..., 2]).mean())


class Server:
    """A `colouriser serve` subprocess on 127.0.0.1; its stdout and stderr are collected in memory."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = ["nice", "-n", "19", sys.executable, "-m", "colouriser.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), *args]
        full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env,
                                     cwd=cwd or ROOT)
        self._lines: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)

    @property
    def log_bytes(self) -> bytes:
        return b"".join(self._lines)

    @property
    def log(self) -> str:
        return self.log_bytes.decode("utf-8", "replace")

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the server was not ready after {timeout} s:\n{self.log}")

    def children(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def stop(self, timeout: float = 90.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        return self.proc.returncode

    def metric(self, name: str) -> float:
        """The value of one unlabelled (or the first matching labelled) series from /metrics."""
        for line in httpx.get(f"{self.url}/metrics", timeout=5).text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@contextmanager
def running_server(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[Server]:
    server = Server(*args, env=env, cwd=cwd)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def wait_for(predicate: object, timeout: float = 30.0, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(every)
    return False
