"""The log for regulators: entries with their hashes, and whole-chain verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api import presenters
from api.deps import LedgerDep, RegulatorDep
from api.problems import READ_PROBLEMS
from api.schemas import EntriesPage, VerifyOut
from ledger import reads
from ledger.verify import verify_log

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
    return presenters.entries_page(reads.entries_page(ledger.store, start, limit))


@router.get(
    "/verify",
    response_model=VerifyOut,
    responses=READ_PROBLEMS,
    summary="Re-hash every entry and check both chains",
)
async def verify(_caller: RegulatorDep, ledger: LedgerDep) -> dict[str, Any]:
    return presenters.verify_report(await run_in_threadpool(verify_log, ledger.store))
