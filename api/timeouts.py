"""Slow clients: a request's headers and its body each have a deadline.

Owns the two timeouts that keep a slow or stalled client from holding a socket
forever. ``TimedHttp`` (the HTTP protocol ``retrace serve`` gives uvicorn) closes
a connection whose request headers are not complete within ``header_seconds`` of
its first byte, or of the connection when nothing comes at all. A request whose
body has not fully arrived within ``RETRACE_BODY_TIMEOUT`` of its first read is
answered 408 problem+json (``TooSlow``, ``too_slow``; the deadline is kept where
the body is read, ``api.edge.Edge``).
"""

from __future__ import annotations

import asyncio

import structlog
from starlette.exceptions import HTTPException
from starlette.types import Message, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.problems import problem, problem_response
from api.settings import get_settings

__all__ = ["TimedHttp", "TooSlow", "too_slow"]

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


class TooSlow(HTTPException):
    """Raised from ``receive`` at the body's deadline: inside a route FastAPI answers
    it (408) like any HTTPException; from a read before the app, ``api.edge.Edge``
    answers it with ``too_slow``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"the request body did not arrive within {seconds:g} s",
            headers={"Connection": "close"},
        )


async def too_slow(exc: TooSlow, scope: Scope, send: Send) -> None:
    """Answer 408 problem+json: the body did not arrive in time."""
    body = problem(408, "body-timeout", "Body timeout", exc.detail, scope.get("path", "/"))
    response = problem_response(408, body, {"Connection": "close"})
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
