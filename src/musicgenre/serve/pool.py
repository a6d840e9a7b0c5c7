"""A bounded inference pool: N worker threads and a limit on the requests waiting for them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class PoolFull(Exception):
    """Every worker is busy and the queue is full: the request is refused (HTTP 503)."""


class InferencePool:
    """Runs blocking work off the event loop on ``workers`` threads, admitting at most
    ``workers + queue`` requests at once (the rest are refused at once with :class:`PoolFull`).

    Admission is per request (:meth:`admit`), before its upload is read, so refused requests cost nothing.
    """

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="musicgenre-infer")
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Requests admitted and not finished (being labelled or waiting)."""
        return self._admitted

    def admit(self) -> _Ticket:
        """A context manager holding one place; raises :class:`PoolFull` when there is none.

        Only called from the event loop thread, so the counter needs no lock.
        """
        if self._admitted >= self.capacity:
            raise PoolFull(f"the server is busy ({self.capacity} requests in progress); try again shortly")
        self._admitted += 1
        return _Ticket(self)

    async def run(self, func: Callable[..., T], *args: object) -> T:
        """Run ``func(*args)`` on a worker thread and wait for it without blocking the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, func, *args)

    def shutdown(self) -> None:
        """Stop the threads (waiting for running work)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class _Ticket:
    def __init__(self, pool: InferencePool) -> None:
        self._pool = pool

    def __enter__(self) -> _Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool._admitted -= 1
