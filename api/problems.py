"""RFC 9457 problem+json: the one place errors become HTTP answers.

Owns the table from ``LedgerError`` classes to HTTP status codes, the
handlers that render ledger errors, request-validation errors, unknown
routes and anything unexpected as ``application/problem+json``, and the
answer to a body over the size limit (413, ``too_large``; ``TooLarge`` is
raised where the body is read).

Anything unexpected is caught by ``api.edge.Edge`` while the request id is
bound (``internal``): one log line (the exception's type, the request id, the
method and the route template; never the request, a traceback or a local
variable, which could hold a key or a body) and a 500 that carries the request
id. It goes no further, so the server below logs nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import Problem
from ledger import errors

PROBLEM_TYPE = "application/problem+json"
log = structlog.get_logger("retrace.api")

# The only table from error class to status. Most specific class first.
STATUS: list[tuple[type[errors.LedgerError], int]] = [
    (errors.IdempotencyConflictError, 422),
    (errors.InvalidTransferError, 422),
    (errors.ValidationError, 422),
    (errors.NotFoundError, 404),
    (errors.AuthError, 401),
    (errors.ForbiddenError, 403),
    (errors.ConflictError, 409),
    (errors.SignatureError, 422),
    (errors.StoreUnavailableError, 503),
    (errors.ChainIntegrityError, 500),
    (errors.LedgerError, 400),
]


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers a route can give."""
    titles = {
        400: "Malformed JSON",
        401: "No, unknown or revoked API key",
        403: "Role or custody does not allow this",
        404: "Not found",
        409: "Conflicts with the ledger's state",
        413: "Body too large",
        422: "Invalid value (the pointer says where)",
        503: "Storage unavailable",
    }
    return {
        status: {
            "model": Problem,
            "description": titles[status],
            "content": {PROBLEM_TYPE: {}},
        }
        for status in statuses
    }


WRITE_PROBLEMS = responses(400, 401, 403, 404, 409, 413, 422, 503)
READ_PROBLEMS = responses(401, 403, 404, 422, 503)


@contextmanager
def in_query() -> Iterator[None]:
    """Ledger errors raised inside point into the query string (``query:/size``):
    the ledger names the argument, the API knows where it came from."""
    try:
        yield
    except errors.LedgerError as exc:
        if exc.pointer and not exc.pointer.startswith("query:"):
            exc.pointer = "query:" + exc.pointer
        raise


def status_for(exc: errors.LedgerError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400  # pragma: no cover - LedgerError is the last row


def problem(
    status: int, code: str, title: str, detail: str, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A problem object (RFC 9457 §3) with Retrace's ``code`` extension."""
    body: dict[str, Any] = {
        "type": f"urn:retrace:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def ledger_problem(exc: errors.LedgerError, instance: str | None = None) -> dict[str, Any]:
    """The problem object of a ledger error (used for bulk lines too)."""
    described = exc.describe()
    code = described.pop("code")
    title = described.pop("title")
    detail = described.pop("detail")
    return problem(status_for(exc), code, title, detail, instance, **described)


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in {"body", "query", "path", "header"}:
        where = parts.pop(0)
        prefix = "" if where == "body" else f"{where}:"
        return prefix + "".join(f"/{p}" for p in parts) if parts else f"{prefix}/"
    return "".join(f"/{p}" for p in parts)


def install(app: FastAPI) -> None:
    """Register every problem handler on ``app``."""

    @app.exception_handler(errors.LedgerError)
    async def _ledger(request: Request, exc: errors.LedgerError) -> JSONResponse:
        body = ledger_problem(exc, request.url.path)
        headers = {"WWW-Authenticate": "Bearer"} if body["status"] == 401 else None
        if body["status"] >= 500:
            log.error("request.failed", code=body["code"], detail=body["detail"])
        return problem_response(body["status"], body, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            kind = err.get("type", "")
            loc = tuple(err.get("loc", ()))
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if kind == "json_invalid":
                # loc ends in a character offset, not a JSON pointer step
                message = (
                    f"the body is not valid JSON at character {loc[-1]}: "
                    f"{err.get('ctx', {}).get('error', '')}"
                )
                loc = loc[:1]
            elif kind == "extra_forbidden":
                message = "unknown field"
            problems.append({"pointer": _pointer(loc), "detail": message})
        first = problems[0] if problems else {"pointer": "/", "detail": "invalid request"}
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        status = 400 if malformed else 422
        code = "malformed-json" if malformed else "invalid-request"
        title = "Malformed JSON" if malformed else "Invalid request"
        body = problem(
            status,
            code,
            title,
            f"{first['pointer']}: {first['detail']}",
            request.url.path,
            pointer=first["pointer"],
            errors=problems,
        )
        return problem_response(status, body)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            400: "Malformed JSON",
            404: "Not found",
            405: "Method not allowed",
            408: "Body timeout",
            413: "Request too large",
        }
        title = titles.get(exc.status_code, "HTTP error")
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        code = title.lower().replace(" ", "-")
        return problem_response(
            exc.status_code,
            problem(exc.status_code, code, title, detail, request.url.path),
            dict(exc.headers or {}),
        )

    # Only an error outside ``api.edge.Edge`` (none is expected) would end here.
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return internal(request.scope, exc)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def internal(scope: Scope, exc: Exception) -> JSONResponse:
    """Log ``exc`` in one line and make the 500 that answers it."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    route = scope.get("route")
    log.error(
        "request.crashed",
        error=type(exc).__name__,
        request_id=request_id,
        method=scope.get("method"),
        route=getattr(route, "path_format", None) or "unmatched",
    )
    detail = "the server failed unexpectedly"
    if request_id:
        detail += f"; quote request id {request_id} when you report it"
    body = problem(
        500, "internal", "Internal error", detail, scope.get("path"), request_id=request_id
    )
    return problem_response(500, body)


class TooLarge(HTTPException):
    """A body over the size limit, raised from ``receive`` mid-body: inside a route
    FastAPI answers it (413) like any HTTPException; from a read before the app,
    ``api.edge.Edge`` answers it with ``too_large``."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the body exceeds {limit} bytes; split it into smaller requests",
            headers={"Connection": "close"},
        )


async def too_large(limit: int, scope: Scope, send: Send) -> None:
    """Answer 413 problem+json: the body exceeds ``limit`` bytes."""
    body = problem(
        413,
        "request-too-large",
        "Request too large",
        f"the body exceeds {limit} bytes; split it into smaller requests",
        scope.get("path"),
        limit=limit,
    )
    response = problem_response(413, body, {"Connection": "close"})
    await response(scope, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}
