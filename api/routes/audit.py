"""The oversight dashboard: ``GET /audit``, HTML rendered on the server.

Reads the reports a caller may see (``ledger.reports.build_reports``: one
refresh and one read for them all; a regulator every org's items, any other org
those in its chain) and the log's state (``ledger.log_state``: the latest
checkpoint and its verified cosignatures), has ``api.dashboard`` make figures,
SVG charts and tables of them and renders ``audit.html``. The reader is the org
of ``Authorization: Bearer`` or of the passport session a browser signed in with
(``api.sessions``); without either the answer is 401 with a page that signs in.
The page's tables link to their reports (``GET /audit/reports/{name}``, JSON or
CSV, as ``GET /v1/reports/{name}`` with the same session), to the seqs behind a
row of sums (``GET /audit/reports/{name}/entries``, ``ledger.reports.row_entries``)
and, for regulators, to each entry itself (``GET /audit/entries``, as
``GET /v1/log/entries``).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api import presenters, sessions
from api.dashboard import REPORTED, dashboard
from api.deps import LedgerDep, ReadsDep, SettingsDep, TransparencyDep
from api.problems import in_query
from api.reads import Reads
from api.report_views import csv_text, deadlines_of, report_json
from api.settings import Settings
from ledger import reads
from ledger.errors import AuthError, ForbiddenError
from ledger.lifecycle import Role
from ledger.log_state import log_state
from ledger.records import OrgRecord
from ledger.reports import build_report, build_reports, row_entries
from ledger.service import Ledger
from ledger.transparency import Transparency

router = APIRouter(tags=["pages"])
_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
# The page differs by reader and holds what only they may see: never kept.
_PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Authorization, Cookie"}


async def _viewer(
    request: Request, found: Reads, ledger: Ledger, credentials: BearerDep
) -> tuple[OrgRecord | None, bool]:
    """The reader's org, and whether a session cookie came that opens nothing.

    Raises:
        AuthError: an ``Authorization`` header with an unknown or revoked key.
    """
    if credentials is not None and credentials.credentials:
        return await found.caller(credentials.credentials), False
    return await sessions.reader(request, ledger)


def _page(ledger: Ledger, tlog: Transparency, settings: Settings, org: OrgRecord) -> dict[str, Any]:
    reports = build_reports(ledger.store, REPORTED, org, ledger.clock(), deadlines_of(settings))
    names = {listing.org.id: listing.org.name for listing in reads.org_directory(ledger.store, org)}
    state = log_state(ledger.store, tlog.verifier)
    return dashboard(reports, state, names, regulator=org.role == Role.REGULATOR)


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
async def audit_page(
    request: Request,
    found: ReadsDep,
    ledger: LedgerDep,
    tlog: TransparencyDep,
    settings: SettingsDep,
    credentials: BearerDep,
) -> Response:
    org, stale = await _viewer(request, found, ledger, credentials)
    templates = request.app.state.templates
    if org is None:
        response: Response = templates.TemplateResponse(
            request,
            "audit.html",
            {"org": None, "stale": stale},
            status_code=401,
            headers={**_PRIVATE, "WWW-Authenticate": "Bearer"},
        )
    else:
        context = await run_in_threadpool(_page, ledger, tlog, settings, org)
        by_session = credentials is None or not credentials.credentials
        response = templates.TemplateResponse(
            request,
            "audit.html",
            {**context, "org": org, "by_session": by_session},
            headers=_PRIVATE,
        )
    sessions.forget(request, response, session=stale)
    return response


async def _signed_in(
    request: Request, found: Reads, ledger: Ledger, credentials: BearerDep
) -> OrgRecord:
    org, _ = await _viewer(request, found, ledger, credentials)
    if org is None:
        raise AuthError("sign in at /audit, or send an API key as `Authorization: Bearer <key>`")
    return org


@router.get("/audit/reports/{name}", include_in_schema=False)
async def audit_report(
    name: str,
    request: Request,
    found: ReadsDep,
    ledger: LedgerDep,
    settings: SettingsDep,
    credentials: BearerDep,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    table: Annotated[str, Query(max_length=64)] = "rows",
) -> Response:
    """A report as ``GET /v1/reports/{name}`` answers it, for the dashboard's session."""
    org = await _signed_in(request, found, ledger, credentials)
    done = await run_in_threadpool(
        build_report, ledger.store, name, org, ledger.clock(), deadlines_of(settings)
    )
    if fmt == "csv":
        with in_query():
            rows = done.table(table)
        disposition = f'attachment; filename="{done.name}-{table}.csv"'
        return Response(
            csv_text(rows),
            media_type="text/csv; charset=utf-8",
            headers={**_PRIVATE, "Content-Disposition": disposition},
        )
    return JSONResponse(report_json(done), headers=_PRIVATE)


@router.get("/audit/reports/{name}/entries", include_in_schema=False)
async def audit_row_entries(
    name: str,
    request: Request,
    found: ReadsDep,
    ledger: LedgerDep,
    credentials: BearerDep,
    row: Annotated[str, Query(max_length=1000)],
    table: Annotated[str, Query(max_length=64)] = "rows",
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The seqs behind one row of sums, over the items the reader may see, a page
    of items at a time (``next_after``)."""
    org = await _signed_in(request, found, ledger, credentials)
    with in_query():
        page = await run_in_threadpool(
            partial(row_entries, after=after), ledger.store, name, table, row, org
        )
    body = {
        "report": name,
        "table": table,
        "row_key": row,
        "entries": page.entries,
        "next_after": page.next_after,
    }
    return JSONResponse(body, headers=_PRIVATE)


@router.get("/audit/entries", include_in_schema=False)
async def audit_entries(
    request: Request,
    found: ReadsDep,
    ledger: LedgerDep,
    credentials: BearerDep,
    start: Annotated[int, Query(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 1,
) -> Response:
    """Entries with their hashes, as ``GET /v1/log/entries`` answers regulators."""
    org = await _signed_in(request, found, ledger, credentials)
    if org.role != Role.REGULATOR:
        raise ForbiddenError(
            f"this needs the role regulator; your org is a {org.role}", role=org.role.value
        )
    page = await run_in_threadpool(reads.entries_page, ledger.store, start, limit)
    return JSONResponse(presenters.entries_page(page), headers=_PRIVATE)
