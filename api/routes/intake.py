"""Intake at a recycler's dock: a whole delivery, scanned and weighed, in one request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from api.deps import IdempotencyKeyDep, LedgerDep, idempotency_for, require
from api.problems import ledger_problem
from api.routes.common import WRITE_PROBLEMS, run_write
from api.routes.labels import read_scans
from api.schemas import IntakeOut, IntakeRequest
from ledger.domain import Role
from ledger.service import IntakeLine, IntakeResult
from ledger.store.sql import OrgRecord

router = APIRouter(prefix="/v1", tags=["intake"])
RecyclerDep = Annotated[OrgRecord, Depends(require(Role.RECYCLER))]


def _line_out(result: IntakeResult) -> dict[str, Any]:
    item = result.item
    out: dict[str, Any] = {
        "line": result.line,
        "ok": result.error is None,
        "item": item.id if item else None,
        "state": item.state.value if item else None,
        "holder": item.holder if item else None,
    }
    if result.entry is not None:
        out["seq"] = result.entry.seq
        out["hash"] = result.entry.hash
    if result.error is not None:
        out["error"] = ledger_problem(result.error)
    return out


@router.post(
    "/intake",
    response_model=IntakeOut,
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
    caller: RecyclerDep,
    ledger: LedgerDep,
    key: IdempotencyKeyDep,
) -> Response:
    scans = read_scans([line.payload for line in body.deliveries])
    lines = [
        IntakeLine(scanned, line.mass_kg)
        for scanned, line in zip(scans, body.deliveries, strict=True)
    ]

    def op(tx: Any) -> dict[str, Any]:
        results = [_line_out(r) for r in ledger.intake(tx, caller, body.site, lines)]
        accepted = sum(1 for r in results if r["ok"])
        return {
            "site": body.site,
            "accepted": accepted,
            "refused": len(results) - accepted,
            "results": results,
        }

    return await run_write(
        ledger, op, lambda out: (200, out), await idempotency_for(request, caller, key)
    )
