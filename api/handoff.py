"""Blocking calls handed from the event loop to threads, woken without the GIL.

Owns ``Handoff``: a pool of threads that run the blocking calls the routes await
(``Handoff.run``), each in a copy of the caller's context (the request id goes along).
The point is how a thread is woken. A thread waiting on a ``threading`` lock is woken
by a release made while holding the GIL: on a busy machine the kernel may run the woken
thread at once and leave the waker, GIL in hand, waiting for a CPU, and nothing of
this process runs meanwhile. Here an idle thread waits in ``os.eventfd_read`` and is
woken by ``os.eventfd_write``, both of which let go of the GIL for the system call.

An idle thread is taken from a stack (the most recently idle first, its cache still
warm); with none idle, a new one starts, up to ``most``; beyond that, calls wait in a
queue that each thread drains before it goes idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Handoff", "handoff"]

T = TypeVar("T")

_Call = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[[], Any]]


class _Worker:
    def __init__(self, pool: Handoff) -> None:
        self.pool = pool
        self.wake = os.eventfd(0)
        self.call: _Call | None = None
        self.thread = threading.Thread(target=self._loop, name="retrace-handoff", daemon=True)

    def _loop(self) -> None:
        pool = self.pool
        while True:
            os.eventfd_read(self.wake)
            call = self.call
            self.call = None
            while call is not None:
                loop, future, work = call
                settle: Callable[[asyncio.Future[Any], Any], None]
                try:
                    settle, value = _done, work()
                except BaseException as exc:  # handed to the awaiting coroutine
                    settle, value = _fail, exc
                # Idle (or given the next waiting call) before the caller is answered,
                # so a caller that calls again at once finds this thread free.
                call = pool.next_call(self)
                _answer(loop, settle, future, value)


def _answer(
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[asyncio.Future[Any], Any], None],
    future: asyncio.Future[Any],
    value: Any,
) -> None:
    # A loop closed meanwhile (its app shut down) has no one waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle, future, value)


def _done(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class Handoff:
    """Runs blocking calls on up to ``most`` threads for coroutines that await them."""

    def __init__(self, most: int = 64) -> None:
        self.most = most
        self._idle: list[_Worker] = []
        self._waiting: deque[_Call] = deque()
        self._count = 0
        self._lock = threading.Lock()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on a thread of the pool; its result or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        context = contextvars.copy_context()
        call: _Call = (loop, future, lambda: context.run(function, *args))
        worker: _Worker | None = None
        with self._lock:
            if self._idle:
                worker = self._idle.pop()
            elif self._count < self.most:
                self._count += 1
                worker = _Worker(self)
                worker.thread.start()
            else:
                self._waiting.append(call)
        if worker is not None:
            worker.call = call
            os.eventfd_write(worker.wake, 1)
        return await future

    def next_call(self, worker: _Worker) -> _Call | None:
        """The next waiting call for ``worker``, or None once it is idle again."""
        with self._lock:
            if self._waiting:
                return self._waiting.popleft()
            self._idle.append(worker)
            return None


handoff = Handoff()
"""The process's pool: the writes and the reads of the routes (``api.deps``, ``api.reads``)."""
