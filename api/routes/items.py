"""Items: registration (one or bulk), lifecycle events, reads and scans."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import (
    ApiKeyDep,
    CallerDep,
    IdempotencyKeyDep,
    LedgerDep,
    OemDep,
    SettingsDep,
    WriterDep,
    idempotency_for,
)
from api.problems import ledger_problem
from api.routes.common import READ_PROBLEMS, WRITE_PROBLEMS, problems, run_write
from api.routes.labels import scan_target
from api.routes.orgs import org_out
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
from ledger import domain
from ledger.errors import ValidationError
from ledger.service import render_item

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
                "example": [{"kind": "pv_module", "code": "JA-2019-000123",
                             "attributes": {"mass_kg": "22.5"}}],
            },
            "application/x-ndjson": {"schema": {"type": "string"},
                                     "example": '{"kind":"wind_blade","code":"VB-77-0042"}\n'},
        },
    }
}


@router.post("/items", status_code=201, response_model=Written, responses=WRITE_PROBLEMS,
             summary="Register one item")
async def register_item(body: ItemCreate, request: Request, caller: WriterDep,
                        ledger: LedgerDep, key: IdempotencyKeyDep) -> Response:
    raw = body.model_dump(exclude_none=True)
    return await run_write(
        ledger, lambda tx: tx.view(ledger.register(tx, caller, raw)), lambda out: (201, out),
        await idempotency_for(request, caller, key),
    )


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
                lines.append(ValidationError(f"line {number + 1} is not JSON: {why}",
                                             pointer=f"/{len(lines)}"))
        return lines
    try:
        parsed = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}", pointer="/") from None
    if not isinstance(parsed, list):
        raise ValidationError("send a JSON array of items, or JSON Lines", pointer="/")
    return parsed


@router.post("/items/bulk", response_model=BulkResult, responses=WRITE_PROBLEMS,
             openapi_extra=_BULK_BODY,
             summary="Register many items (JSON array or JSON Lines); per-line results")
async def register_bulk(request: Request, caller: OemDep, ledger: LedgerDep,
                        settings: SettingsDep, key: IdempotencyKeyDep) -> Response:
    lines = _bulk_lines(await request.body(), request.headers.get("content-type", ""))
    if not lines:
        raise ValidationError("no items in the request", pointer="/")
    if len(lines) > settings.max_bulk_lines:
        raise ValidationError(
            f"{len(lines)} items; at most {settings.max_bulk_lines} in one request", pointer="/"
        )

    def op(tx: Any) -> dict[str, Any]:
        good = [(i, raw) for i, raw in enumerate(lines) if not isinstance(raw, Exception)]
        results = ledger.register_many(tx, caller, [raw for _, raw in good])
        out: list[dict[str, Any]] = [{}] * len(lines)
        for i, raw in enumerate(lines):
            if isinstance(raw, ValidationError):
                out[i] = {"line": i, "ok": False, "error": ledger_problem(raw)}
        for (i, _), result in zip(good, results, strict=True):
            if result.written is not None:
                entry = result.written.entries[0]
                out[i] = {"line": i, "ok": True, "id": result.written.item.id,
                          "code": result.written.item.code, "seq": entry.seq,
                          "hash": entry.hash}
            else:
                assert result.error is not None  # noqa: S101 - one of the two is set
                problem = ledger_problem(result.error)
                if problem.get("pointer"):
                    problem["pointer"] = f"/{i}{problem['pointer']}"
                out[i] = {"line": i, "ok": False, "error": problem}
        accepted = sum(1 for r in out if r["ok"])
        return {"accepted": accepted, "refused": len(out) - accepted, "results": out}

    return await run_write(ledger, op, lambda out: (200, out),
                           await idempotency_for(request, caller, key))


@router.get("/items/{item_id}", response_model=ItemOut, responses=READ_PROBLEMS,
            summary="An item with its state, holder, parent and children")
def get_item(item_id: ItemId, _caller: CallerDep, ledger: LedgerDep) -> dict[str, Any]:
    with ledger.store.reader() as r:
        return ledger.item_view(r, item_id)


@router.get("/items/{item_id}/history", response_model=History, responses=READ_PROBLEMS,
            summary="The item's entries, in order")
def get_history(item_id: ItemId, request: Request, _caller: CallerDep,
                ledger: LedgerDep) -> dict[str, Any]:
    entries = ledger.history(item_id)
    tlog = request.app.state.transparency
    checkpoint = tlog.checkpoint(None)
    proofs = [
        {"seq": e.seq,
         "proof": tlog.inclusion(e.seq, checkpoint.size).proof if e.seq < checkpoint.size
         else None}
        for e in entries
    ]
    return {"item": item_id, "entries": [e.to_wire() for e in entries],
            "checkpoint": {"size": checkpoint.size, "root": checkpoint.root,
                           "note": checkpoint.note},
            "proofs": proofs}


@router.post("/items/{item_id}/events", status_code=201, response_model=Written,
             responses=WRITE_PROBLEMS, summary="Record a lifecycle event")
async def record_event(item_id: ItemId, body: EventCreate, request: Request,
                       caller: CallerDep, ledger: LedgerDep, key: IdempotencyKeyDep) -> Response:
    return await run_write(
        ledger,
        lambda tx: tx.view(ledger.record_event(tx, caller, item_id, body.type, body.data)),
        lambda out: (201, out),
        await idempotency_for(request, caller, key),
    )


@router.post("/scan", response_model=ScanResult,
             responses={**READ_PROBLEMS, **problems(400, 409, 413)},
             summary="Resolve a scanned label, id or code to the item and your next events")
async def scan(body: ScanRequest, api_key: ApiKeyDep, ledger: LedgerDep) -> dict[str, Any]:
    # Every item at a loading dock is scanned: the key check and the lookups share
    # one connection and one trip to the threadpool, and need no transaction.
    def lookup() -> dict[str, Any]:
        with ledger.store.lookup() as r:
            caller = ledger.authenticate(api_key, r)
            target = scan_target(body.payload)
            item = ledger.resolve_scan(r, target)
            holder = ledger.org(r, item.holder)
            # Kinds that contain nothing (cells, PV modules, blades) have no children.
            children = r.children(item.id) if domain.CONTAINS[item.kind] else []
        return {
            "item": render_item(item, children),
            "holder": org_out(holder) if holder else None,
            "allowed_events": domain.allowed_events(item, caller.as_actor()),
            "via": target.via,
        }

    return await run_in_threadpool(lookup)
