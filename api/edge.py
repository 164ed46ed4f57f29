"""The one ASGI middleware every HTTP request passes through: ``Edge``.

Owns the order of what happens around the app, in one coroutine and one ``send``
wrapper, not a stack of middlewares each wrapping ``send`` and ``receive`` again
(each layer cost every request a coroutine and a closure per message). In order:

1. the request is timed and counted (``api.metrics.observe``, labelled by the
   route template the router matched and the status sent);
2. a request id (``X-Request-Id``, given or made) is bound to every log event of
   the request and echoed in the answer;
3. every answer gets the security headers (``api.headers``);
4. the client address is counted against its rate limit (``api.ratelimit``),
   429 beyond it, before any body is read;
5. a body over ``max_body`` bytes is refused (413), by its ``Content-Length`` at
   once, else as it arrives; a body must arrive whole within ``body_seconds`` of
   its first read (408, ``api.timeouts``);
6. a JSON body is read whole and checked (``api.bodies``: UTF-8, no repeated
   key, within ``ledger.limits.BODY``) before any route reads it;
7. anything the app raises that no handler took is one log line and a
   problem+json 500 with the request id (``api.problems``), raised no further.

Every refusal here is problem+json and passes through steps 1-3 like any answer.
The routes' own errors are the app's exception handlers' (``api.problems.install``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable

import structlog

from api import bodies, headers, metrics, problems, timeouts
from api.problems import ASGIApp, Message, Receive, Scope, Send
from api.ratelimit import UNCOUNTED, RateLimited, RateLimits

__all__ = ["Edge"]

log = structlog.get_logger("retrace.http")
_RID = b"x-request-id"


class Edge:
    """ASGI middleware: steps 1-7 above for every HTTP request.

    Args:
        limits: the rate limits (client addresses are counted here).
        max_body: the largest request body accepted, in bytes.
        body_seconds: how long a body may take to arrive once read.
        hashed: paths whose HTML pages get ``headers.docs_policy`` (read whole to hash).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RateLimits,
        max_body: int,
        body_seconds: float,
        hashed: Iterable[str | None] = (),
    ) -> None:
        self.app = app
        self.limits = limits
        self.max_body = max_body
        self.body_seconds = body_seconds
        self.hashed = frozenset(p for p in hashed if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        given = dict(scope.get("headers", ()))
        rid_given = given.get(_RID, b"")
        rid = rid_given.decode("latin-1")[:64] if rid_given.isascii() and rid_given else None
        rid = rid or uuid.uuid4().hex
        rid_header = (_RID, rid.encode("latin-1"))
        structlog.contextvars.bind_contextvars(request_id=rid)
        # No answer started (an exception escaped everything): the server answers 500.
        status = 500
        started = False

        async def answer(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                sent = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _RID]
                message["headers"] = [*headers.secured(sent), rid_header]
            await send(message)

        try:
            await self._handle(scope, receive, answer, given, lambda: started)
        finally:
            structlog.contextvars.clear_contextvars()
            metrics.observe(scope, status, time.perf_counter() - started_at)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        given: dict[bytes, bytes],
        started: Callable[[], bool],
    ) -> None:
        path = scope.get("path", "/")
        client = scope.get("client")
        try:
            if client and path not in UNCOUNTED:
                try:
                    await self.limits.address(client[0])
                except RateLimited as exc:
                    await exc.response(path)(scope, receive, send)
                    return
            declared = given.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body:
                await problems.too_large(self.max_body, scope, send)
                return
            bounded = self._bounded(scope, receive)
            app_receive, refusal = await bodies.read_checked(scope, bounded, given)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            inner_send = headers.docs_send(send) if path in self.hashed else send
            await self.app(scope, app_receive, inner_send)
        except problems.TooLarge:
            if not started():
                await problems.too_large(self.max_body, scope, send)
        except timeouts.TooSlow as exc:
            if not started():
                await timeouts.too_slow(exc, scope, send)
        except Exception as exc:
            response = problems.internal(scope, exc)
            if not started():  # else the answer is under way: the server closes it
                await response(scope, receive, send)

    def _bounded(self, scope: Scope, receive: Receive) -> Receive:
        """``receive``, refusing a body over ``max_body`` bytes (``problems.TooLarge``)
        or one not whole within ``body_seconds`` of its first read (``timeouts.TooSlow``)."""
        limit, seconds = self.max_body, self.body_seconds
        seen = 0
        deadline: float | None = None
        done = False

        async def bounded() -> Message:
            nonlocal seen, deadline, done
            if done:
                message = await receive()
            else:
                loop = asyncio.get_running_loop()
                if deadline is None:
                    deadline = loop.time() + seconds
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    log.info("http.body_timeout", path=scope.get("path"), seconds=seconds)
                    raise timeouts.TooSlow(seconds) from None
                if message["type"] != "http.request" or not message.get("more_body", False):
                    done = True
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise problems.TooLarge(limit)
            return message

        return bounded
