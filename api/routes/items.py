"""Items: registration (one or bulk), lifecycle events, reads and scans."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response

from api import presenters
from api.bulk import JSON_LINES, read_lines, write_in_chunks
from api.deps import (
    Answer,
    ApiKeyDep,
    CallerDep,
    IdempotencyKeyDep,
    LedgerDep,
    OemDep,
    ReadsDep,
    SettingsDep,
    TransparencyDep,
    WriterDep,
    answer,
    idempotency_for,
    run_write,
)
from api.docs import EVENT_EXAMPLES
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
from ledger.privacy import sees_personal

router = APIRouter(prefix="/v1", tags=["items"])
ItemId = Annotated[
    str, Path(min_length=1, max_length=40, examples=["itm_01JD8Z3K5V7W9XQRSTABCDEFGH"])
]

_BULK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                # ItemCreate is in the document's components (POST /v1/items).
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/ItemCreate"}},
                "example": [
                    {
                        "kind": "pv_module",
                        "code": "JA-2019-000123",
                        "attributes": {"mass_kg": "22.5"},
                    }
                ],
            },
            JSON_LINES: {
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
async def scan(body: ScanRequest, api_key: ApiKeyDep, found: ReadsDep) -> Response:
    return Answer(presenters.scan(await found.scan(api_key, body.payload, body.site)))


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
) -> Response:
    raw = body.model_dump(exclude_none=True)
    done = await run_write(
        ledger,
        partial(items.register, actor=caller, raw=raw),
        items.Written,
        await idempotency_for(request, caller, key),
        response,
        claims=items.claimed_codes(caller, raw),
    )
    return answer(presenters.written(done), response, 201)


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
    caller: OemDep,
    ledger: LedgerDep,
    settings: SettingsDep,
    key: IdempotencyKeyDep,
) -> Response:
    lines = read_lines(
        await request.body(),
        request.headers.get("content-type", ""),
        "items",
        settings.max_bulk_lines,
    )
    return await write_in_chunks(
        ledger,
        partial(items.register_many, actor=caller),
        items.Registered,
        presenters.registered,
        lines,
        await idempotency_for(request, caller, key),
        BulkResult,
        prepare=items.prepare_registrations,
        exclude_unset=True,
    )


@router.get(
    "/items/{item_id}",
    response_model=ItemOut,
    responses=READ_PROBLEMS,
    summary="An item with its state, holder, parent and children",
)
async def get_item(item_id: ItemId, caller: CallerDep, found: ReadsDep) -> dict[str, Any]:
    view = await found.item(item_id)
    return presenters.item(view, personal=sees_personal(caller.role))


@router.get(
    "/items/{item_id}/history",
    response_model=History,
    # An entry carries ``redacted`` only when something was masked.
    response_model_exclude_unset=True,
    responses=READ_PROBLEMS,
    summary="The item's entries, in order",
    description="A reader who is not a regulator gets personal values (a VIN, an owner's "
    "name) masked as null, named in the entry's `redacted`; its `hash` and proof still "
    "prove the signed entry, but no longer rebuild from what is shown.",
)
def get_history(
    item_id: ItemId, caller: CallerDep, ledger: LedgerDep, tlog: TransparencyDep
) -> dict[str, Any]:
    found = reads.history(ledger.store, tlog, item_id)
    return presenters.history(found, personal=sees_personal(caller.role))


@router.post(
    "/items/{item_id}/events",
    status_code=201,
    response_model=Written,
    responses=WRITE_PROBLEMS,
    summary="Record a lifecycle event",
    description="The body's `data` depends on its `type`: each event type's shape and an "
    "example are below (pick one under *Examples*). `repurposed` and `dismantled` answer "
    "with the items they created in `created`.",
)
async def record_event(
    item_id: ItemId,
    body: Annotated[EventCreate, Body(openapi_examples=EVENT_EXAMPLES)],
    request: Request,
    response: Response,
    caller: CallerDep,
    ledger: LedgerDep,
    key: IdempotencyKeyDep,
) -> Response:
    done = await run_write(
        ledger,
        lambda tx: items.record_event(tx, caller, item_id, body.type, body.data),
        items.Written,
        await idempotency_for(request, caller, key),
        response,
    )
    return answer(presenters.written(done), response, 201)
