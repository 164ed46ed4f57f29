"""Manufacturer codes: binding GB/T 34014 maker codes to OEM orgs (admin), and the list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api import presenters
from api.deps import AdminDep, CallerDep, IdempotencyKeyDep, LedgerDep, idempotency_for, run_write
from api.problems import READ_PROBLEMS, WRITE_PROBLEMS
from api.schemas import MakerBound, MakerCreate, MakerList
from ledger import makers

router = APIRouter(prefix="/v1", tags=["makers"])


@router.post(
    "/makers",
    status_code=201,
    response_model=MakerBound,
    responses=WRITE_PROBLEMS,
    summary="Bind a GB/T 34014 manufacturer code to an OEM org (a log entry)",
)
async def bind_maker(
    body: MakerCreate,
    request: Request,
    response: Response,
    caller: AdminDep,
    ledger: LedgerDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    raw = body.model_dump()
    done = await run_write(
        ledger,
        lambda tx: makers.bind_maker(tx, caller, raw),
        makers.Bound,
        await idempotency_for(request, caller, key),
        response,
    )
    return presenters.maker_bound(done)


@router.get(
    "/makers",
    response_model=MakerList,
    responses=READ_PROBLEMS,
    summary="List the manufacturer code bindings, by code",
)
def list_makers(_caller: CallerDep, ledger: LedgerDep) -> dict[str, Any]:
    return presenters.makers(makers.list_makers(ledger.store))
