"""Intake at a recycler's dock: a whole delivery, scanned and weighed, in one request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from api import presenters
from api.deps import IdempotencyKeyDep, LedgerDep, idempotency_for, require, run_write
from api.problems import WRITE_PROBLEMS
from api.scans import read_scans
from api.schemas import IntakeOut, IntakeRequest
from ledger import intake as dock
from ledger.lifecycle import Role
from ledger.records import OrgRecord

router = APIRouter(prefix="/v1", tags=["intake"])
RecyclerDep = Annotated[OrgRecord, Depends(require(Role.RECYCLER))]


@router.post(
    "/intake",
    response_model=IntakeOut,
    response_model_exclude_unset=True,
    responses=WRITE_PROBLEMS,
    summary="Collect a delivery: every scanned, weighed item in one atomic write",
    description=(
        "Each line's item is recorded as `collected` at `site` with its `mass_kg` if it is "
        "retired and held by your org. A line is refused on its own, with the reason as a "
        "problem object (scan matches nothing, item scanned twice in this delivery, not "
        "retired, not transferred to you: the holder is named), and writes nothing; the "
        "other lines are written together. With an `Idempotency-Key`, a retried delivery "
        "writes nothing and returns the first answer."
    ),
)
async def intake(
    body: IntakeRequest,
    request: Request,
    response: Response,
    caller: RecyclerDep,
    ledger: LedgerDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    scans = read_scans([line.payload for line in body.deliveries])
    lines = [
        dock.IntakeLine(scanned, line.mass_kg)
        for scanned, line in zip(scans, body.deliveries, strict=True)
    ]
    done = await run_write(
        ledger,
        lambda tx: dock.intake(tx, caller, body.site, lines),
        dock.Intake,
        await idempotency_for(request, caller, key),
        response,
    )
    return presenters.intake(done)
