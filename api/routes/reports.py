"""Compliance reports: ``GET /v1/reports/{name}`` as JSON, or CSV with ``Accept: text/csv``,
and the entries behind a row of sums: ``GET /v1/reports/{name}/entries``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from api.deps import CallerDep, LedgerDep, SettingsDep
from api.problems import READ_PROBLEMS, in_query
from api.report_views import (
    ReportBody,
    ReportRowEntries,
    csv_text,
    deadlines_of,
    linked,
    report_json,
)
from ledger.reports import REPORTS, ROW_PAGE, build_report, row_entries

router = APIRouter(prefix="/v1", tags=["reports"])

_CSV = "text/csv"


@router.get(
    "/reports/{name}",
    response_model=ReportBody,
    responses={
        **READ_PROBLEMS,
        200: {"content": {_CSV: {"schema": {"type": "string"}}}},
    },
    summary=f"A compliance report ({', '.join(REPORTS)}), from aggregates kept up to the log",
)
def report(
    name: str,
    caller: CallerDep,
    ledger: LedgerDep,
    settings: SettingsDep,
    accept: Annotated[str | None, Header()] = None,
    table: Annotated[
        str, Query(max_length=64, description="CSV: which table (`rows`, or `monthly`)")
    ] = "rows",
) -> Any:
    done = build_report(ledger.store, name, caller, ledger.clock(), deadlines_of(settings))
    if accept is not None and _CSV in accept.lower():
        with in_query():
            rows = done.table(table)
        return Response(csv_text(linked(name, table, rows)), media_type=f"{_CSV}; charset=utf-8")
    return report_json(done)


@router.get(
    "/reports/{name}/entries",
    response_model=ReportRowEntries,
    responses=READ_PROBLEMS,
    summary="The entries (seqs) a row of sums of a report was computed from",
)
def report_row_entries(
    name: str,
    caller: CallerDep,
    ledger: LedgerDep,
    row: Annotated[str, Query(max_length=400, description="the row's `row_key`")],
    table: Annotated[
        str, Query(max_length=64, description="`rows`, or `monthly` (inventory)")
    ] = "rows",
    after: Annotated[
        str | None, Query(max_length=64, description="the `next_after` of the page before")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=ROW_PAGE, description="items whose entries this page lists")
    ] = ROW_PAGE,
) -> dict[str, Any]:
    with in_query():
        page = row_entries(ledger.store, name, table, row, caller, after=after, limit=limit)
    return {
        "report": name,
        "table": table,
        "row": row,
        "entries": page.entries,
        "next_after": page.next_after,
    }
