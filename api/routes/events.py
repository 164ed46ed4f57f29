"""Events on many items at once: ``POST /v1/events/bulk``."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request, Response

from api import presenters
from api.bulk import read_lines, write_in_chunks
from api.deps import (
    IdempotencyKeyDep,
    LedgerDep,
    SettingsDep,
    WriterDep,
    idempotency_for,
)
from api.docs import EVENT_LINES_BODY
from api.problems import WRITE_PROBLEMS
from api.schemas import EventBulkResult
from ledger import items

router = APIRouter(prefix="/v1", tags=["items"])


@router.post(
    "/events/bulk",
    response_model=EventBulkResult,
    responses=WRITE_PROBLEMS,
    openapi_extra=EVENT_LINES_BODY,
    summary="Record events on many items (JSON array or JSON Lines); per-line results",
    description="Each line is `{item, type, data}`, with the `data` of "
    "`POST /v1/items/{item_id}/events` for its type, and the same rules: a refused line "
    "writes nothing and the others are recorded, in order, a thousand lines per transaction. "
    "Lines count "
    "from 1. Send JSON Lines as `Content-Type: application/x-ndjson`.",
)
async def record_bulk(
    request: Request,
    caller: WriterDep,
    ledger: LedgerDep,
    settings: SettingsDep,
    key: IdempotencyKeyDep,
) -> Response:
    lines = read_lines(
        await request.body(),
        request.headers.get("content-type", ""),
        "events",
        settings.max_bulk_lines,
    )
    return await write_in_chunks(
        ledger,
        partial(items.record_many, actor=caller),
        items.Recorded,
        presenters.recorded,
        lines,
        await idempotency_for(request, caller, key),
        EventBulkResult,
    )
