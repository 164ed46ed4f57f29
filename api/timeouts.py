"""Slow clients: a request's headers and its body each have a deadline.

Owns the two timeouts that keep a slow or stalled client from holding a socket
forever. ``TimedHttp`` (the HTTP protocol ``retrace serve`` gives uvicorn) closes
a connection whose request headers are not complete within ``header_seconds`` of
its first byte, or of the connection when nothing comes at all. ``BodyDeadline``
(ASGI middleware) answers 408 problem+json to a request whose body has not
fully arrived within ``seconds`` of the app's first read of it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.problems import Tracked, problem, problem_response
from api.settings import get_settings

__all__ = ["BodyDeadline", "TimedHttp"]

log = structlog.get_logger("retrace.http")


class TimedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's headers
    (``RETRACE_HEADER_TIMEOUT``, read where the worker runs: uvicorn hands this
    class to its worker processes by name)."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_seconds = get_settings().header_timeout
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info("http.header_timeout", client=self.client, seconds=self.header_seconds)
            self.transport.close()


class _TooSlow(HTTPException):
    """Raised from ``receive``: inside a route FastAPI answers it (408) like any
    HTTPException; from a middleware that reads the body first, ``BodyDeadline``
    answers it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"the request body did not arrive within {seconds:g} s",
            headers={"Connection": "close"},
        )


class BodyDeadline:
    """ASGI middleware: a request body must arrive whole within ``seconds``."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        done = False
        tracked = Tracked(send)

        async def timed_receive() -> Message:
            nonlocal deadline, done
            if done:
                return await receive()
            if deadline is None:
                deadline = time.monotonic() + self.seconds
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                log.info("http.body_timeout", path=scope.get("path"), seconds=self.seconds)
                raise _TooSlow(self.seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        try:
            await self.app(scope, timed_receive, tracked)
        except _TooSlow as exc:
            if not tracked.started:
                body: dict[str, Any] = problem(
                    408, "body-timeout", "Body timeout", exc.detail, scope.get("path", "/")
                )
                response = problem_response(408, body, {"Connection": "close"})
                await response(scope, receive, send)
