"""Helpers the route modules share: running a write and documenting errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Response
from starlette.concurrency import run_in_threadpool

from api.deps import answer_headers
from api.schemas import Problem
from ledger.service import Idempotency, Ledger

T = TypeVar("T")


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
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
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }


WRITE_PROBLEMS = problems(400, 401, 403, 404, 409, 413, 422, 503)
READ_PROBLEMS = problems(401, 403, 404, 422, 503)


async def run_write(
    ledger: Ledger,
    op: Callable[[Any], T],
    render: Callable[[T], tuple[int, Any]],
    idempotency: Idempotency | None,
) -> Response:
    """Run a write off the event loop and answer with its (possibly replayed) result."""
    answer = await run_in_threadpool(ledger.execute, op, render, idempotency)
    return Response(
        answer.body,
        status_code=answer.status,
        media_type="application/json",
        headers=answer_headers(answer),
    )
