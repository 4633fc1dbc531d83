"""The inference pool: N worker processes behind a bounded admission counter.

At most ``workers + queue_size`` requests are admitted at once (running plus waiting); one more is refused
at once, so a full service answers 503 in microseconds instead of queueing without end. A slot is held until
the worker has really finished the job, even when the client was already answered 504 or went away: the
bound always reflects the work the processes actually have.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Awaitable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from . import inference
from .config import ServeConfig

log = logging.getLogger("colouriser.server")


@dataclass
class JobResult:
    status: str  # one of inference.OK, IMAGE_ERROR, BAD_PARAMETER, INTERNAL
    payload: tuple[Any, ...]


class UnavailableError(Exception):
    """The pool cannot take work: starting, restarting after a crash, or stopping."""


class JobTimeoutError(Exception):
    """The per-request time limit passed before the worker answered."""


class InferencePool:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.capacity = config.capacity
        self.admitted = 0  # running + waiting
        self.ready = False
        self.failed: str | None = None  # why the workers could not start, if they could not
        self.stopping = False
        self._executor: cf.ProcessPoolExecutor | None = None
        self._starting: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers in the background; `ready` turns true once every one has loaded the model."""
        self._starting = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        began = time.monotonic()
        self._executor = cf.ProcessPoolExecutor(
            max_workers=self.config.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=inference.init_worker,
            initargs=(self.config.model, self.config.worker_threads(), os.getpid(), self.config.flip_average),
        )
        try:
            await self._wait_for_workers(self._executor)
        except BrokenProcessPool:
            self.failed = "the inference workers could not load the model (see the log above)"
            log.error("inference workers failed to start: %s", self.failed)
            return
        self.ready = True
        log.info("%d inference worker(s) ready in %.1f s (%d torch thread(s) each), capacity %d%s", self.config.workers,
                 time.monotonic() - began, self.config.worker_threads(), self.capacity,
                 ", flip-average on" if self.config.flip_average else "")

    async def _wait_for_workers(self, executor: cf.ProcessPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        seen: set[int] = set()
        while len(seen) < self.config.workers:
            # all submitted together: the spawn context starts one process per job while none is idle
            pings = [loop.run_in_executor(executor, inference.ping, 0.2) for _ in range(self.config.workers)]
            seen.update(await asyncio.gather(*pings))

    async def stop(self) -> None:
        """Refuse new work, let the workers finish what they have, then end them."""
        self.stopping = True
        self.ready = False
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    # -- admission -------------------------------------------------------------------------------------------
    @property
    def running(self) -> int:
        return min(self.admitted, self.config.workers)

    @property
    def waiting(self) -> int:
        return max(0, self.admitted - self.config.workers)

    @property
    def full(self) -> bool:
        return self.admitted >= self.capacity

    def try_admit(self) -> bool:
        """Take a slot if one is free. Never waits."""
        if self.full:
            return False
        self.admitted += 1
        return True

    def _release(self) -> None:
        self.admitted -= 1

    # -- work ------------------------------------------------------------------------------------------------
    async def run(self, data: bytes, options: dict[str, Any], disconnected: Awaitable[None] | None = None) -> JobResult:
        """Colour one admitted photo. Call only after `try_admit()` returned True: this releases the slot.

        Raises JobTimeoutError after the time limit, UnavailableError if the pool is not running, and
        ConnectionAbortedError if the client goes away (``disconnected`` completes) first: then the job is
        cancelled if no worker has taken it yet.
        """
        loop = asyncio.get_running_loop()
        executor = self._executor
        if executor is None or not self.ready:
            self._release()
            raise UnavailableError("the inference workers are not running")
        try:
            future = executor.submit(inference.colourise_job, data, options)
        except (BrokenProcessPool, RuntimeError):
            self._release()
            self._restart()
            raise UnavailableError("an inference worker stopped unexpectedly") from None

        def release(_: cf.Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: the process is exiting
                loop.call_soon_threadsafe(self._release)

        future.add_done_callback(release)
        waiter = asyncio.wrap_future(future)
        watchers: set[asyncio.Future[Any]] = {waiter}
        gone: asyncio.Future[Any] | None = None
        if disconnected is not None:
            gone = asyncio.ensure_future(disconnected)
            watchers.add(gone)
        try:
            done, _ = await asyncio.wait(watchers, timeout=self.config.timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if gone is not None and not gone.done():
                gone.cancel()
        if waiter not in done:
            future.cancel()  # only succeeds if no worker has taken it yet; else the slot frees when it ends
            waiter.cancel()
            if gone is not None and gone in done:
                raise ConnectionAbortedError("the client went away")
            raise JobTimeoutError()
        try:
            result = waiter.result()
        except BrokenProcessPool:
            self._restart()
            raise UnavailableError("an inference worker stopped unexpectedly") from None
        return JobResult(result[0], tuple(result[1:]))

    def _restart(self) -> None:
        """A worker died (killed for memory, say): start a new pool; not ready until it has loaded the model."""
        if self.stopping or not self.ready:
            return
        log.error("an inference worker stopped unexpectedly; starting new workers")
        self.ready = False
        old, self._executor = self._executor, None
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
        self.start()
