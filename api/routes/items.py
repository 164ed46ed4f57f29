"""Items: registration (one or bulk), lifecycle events, reads and scans."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from api import presenters
from api.deps import (
    ApiKeyDep,
    CallerDep,
    IdempotencyKeyDep,
    LedgerDep,
    OemDep,
    ReadsDep,
    SettingsDep,
    TransparencyDep,
    WriterDep,
    idempotency_for,
    run_write,
)
from api.problems import READ_PROBLEMS, WRITE_PROBLEMS, responses
from api.schemas import (
    BulkResult,
    EventCreate,
    History,
    ItemCreate,
    ItemOut,
    ScanRequest,
    ScanResult,
    Written,
)
from ledger import items, reads
from ledger.errors import ValidationError

router = APIRouter(prefix="/v1", tags=["items"])
ItemId = Annotated[
    str, Path(min_length=1, max_length=40, examples=["itm_01JD8Z3K5V7W9XQRSTABCDEFGH"])
]

_BULK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": ItemCreate.model_json_schema()},
                "example": [
                    {
                        "kind": "pv_module",
                        "code": "JA-2019-000123",
                        "attributes": {"mass_kg": "22.5"},
                    }
                ],
            },
            "application/x-ndjson": {
                "schema": {"type": "string"},
                "example": '{"kind":"wind_blade","code":"VB-77-0042"}\n',
            },
        },
    }
}


# First: the dock's scans are the most frequent request, and routes match in order.
@router.post(
    "/scan",
    response_model=ScanResult,
    responses={**READ_PROBLEMS, **responses(400, 409, 413)},
    summary="Resolve a scanned label, id or code to the item and your next events",
)
async def scan(body: ScanRequest, api_key: ApiKeyDep, found: ReadsDep) -> dict[str, Any]:
    return presenters.scan(await found.scan(api_key, body.payload))


@router.post(
    "/items",
    status_code=201,
    response_model=Written,
    responses=WRITE_PROBLEMS,
    summary="Register one item",
)
async def register_item(
    body: ItemCreate,
    request: Request,
    response: Response,
    caller: WriterDep,
    ledger: LedgerDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    raw = body.model_dump(exclude_none=True)
    done = await run_write(
        ledger,
        partial(items.register, actor=caller, raw=raw),
        items.Written,
        await idempotency_for(request, caller, key),
        response,
        claims=partial(items.claims, actor=caller, raw=raw),
    )
    return presenters.written(done)


def _bulk_lines(raw: bytes, content_type: str) -> list[Any]:
    """JSON array, or JSON Lines; a malformed line becomes a refusal of that line."""
    if "ndjson" in content_type or "jsonl" in content_type or "json-seq" in content_type:
        lines: list[Any] = []
        for number, text in enumerate(raw.decode("utf-8", errors="replace").splitlines()):
            if not text.strip():
                continue
            try:
                lines.append(json.loads(text))
            except (json.JSONDecodeError, RecursionError) as exc:
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                lines.append(
                    ValidationError(
                        f"line {number + 1} is not JSON: {why}", pointer=f"/{len(lines)}"
                    )
                )
        return lines
    try:
        parsed = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}", pointer="/") from None
    if not isinstance(parsed, list):
        raise ValidationError("send a JSON array of items, or JSON Lines", pointer="/")
    return parsed


@router.post(
    "/items/bulk",
    response_model=BulkResult,
    response_model_exclude_unset=True,
    responses=WRITE_PROBLEMS,
    openapi_extra=_BULK_BODY,
    summary="Register many items (JSON array or JSON Lines); per-line results",
)
async def register_bulk(
    request: Request,
    response: Response,
    caller: OemDep,
    ledger: LedgerDep,
    settings: SettingsDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    lines = _bulk_lines(await request.body(), request.headers.get("content-type", ""))
    if not lines:
        raise ValidationError("no items in the request", pointer="/")
    if len(lines) > settings.max_bulk_lines:
        raise ValidationError(
            f"{len(lines)} items; at most {settings.max_bulk_lines} in one request", pointer="/"
        )
    done = await run_write(
        ledger,
        lambda tx: items.register_many(tx, caller, lines),
        items.Registered,
        await idempotency_for(request, caller, key),
        response,
    )
    return presenters.registered(done)


@router.get(
    "/items/{item_id}",
    response_model=ItemOut,
    responses=READ_PROBLEMS,
    summary="An item with its state, holder, parent and children",
)
async def get_item(item_id: ItemId, _caller: CallerDep, found: ReadsDep) -> dict[str, Any]:
    return presenters.item(await found.item(item_id))


@router.get(
    "/items/{item_id}/history",
    response_model=History,
    responses=READ_PROBLEMS,
    summary="The item's entries, in order",
)
def get_history(
    item_id: ItemId, _caller: CallerDep, ledger: LedgerDep, tlog: TransparencyDep
) -> dict[str, Any]:
    return presenters.history(reads.history(ledger.store, tlog, item_id))


@router.post(
    "/items/{item_id}/events",
    status_code=201,
    response_model=Written,
    responses=WRITE_PROBLEMS,
    summary="Record a lifecycle event",
)
async def record_event(
    item_id: ItemId,
    body: EventCreate,
    request: Request,
    response: Response,
    caller: CallerDep,
    ledger: LedgerDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    done = await run_write(
        ledger,
        lambda tx: items.record_event(tx, caller, item_id, body.type, body.data),
        items.Written,
        await idempotency_for(request, caller, key),
        response,
    )
    return presenters.written(done)
