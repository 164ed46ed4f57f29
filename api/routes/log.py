"""The log for regulators: entries with their hashes, and whole-chain verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.deps import LedgerDep, RegulatorDep
from api.routes.common import READ_PROBLEMS
from api.schemas import EntriesPage, VerifyOut
from ledger.chain import parse_entry

router = APIRouter(prefix="/v1/log", tags=["log"])


@router.get(
    "/entries",
    response_model=EntriesPage,
    responses=READ_PROBLEMS,
    summary="Entries in seq order, with their hashes",
)
def entries(
    _caller: RegulatorDep,
    ledger: LedgerDep,
    start: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    with ledger.store.reader() as r:
        rows = r.entries(start, limit)
        size = r.size()
    out = [parse_entry(row.body).to_wire() for row in rows]
    following = rows[-1].seq + 1 if rows and rows[-1].seq + 1 < size else None
    return {"entries": out, "next": following, "size": size}


@router.get(
    "/verify",
    response_model=VerifyOut,
    responses=READ_PROBLEMS,
    summary="Re-hash every entry and check both chains",
)
async def verify(_caller: RegulatorDep, ledger: LedgerDep) -> dict[str, Any]:
    report = await run_in_threadpool(ledger.verify)
    return {
        "ok": report.ok,
        "size": report.size,
        "first_bad": report.first_bad,
        "head": report.head,
    }
