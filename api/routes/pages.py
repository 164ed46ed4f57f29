"""The landing page: what this ledger holds, at a glance, and the way to every other page.

Shows the log's size and head, items by kind and state, the latest entries (items
linked to their passports, orgs to their line in the list of orgs), the orgs by
role, and links to the scan station, the oversight dashboard when this service has
one, the API docs and the signed checkpoint; and a sign-in (the scan station's
session, ``POST /scan/session``) so that a regulator, or any key holder, opens
passports at their own access level.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.routing import NoMatchFound

from api.deps import LedgerDep
from ledger import reads
from ledger.events import ItemKind
from ledger.lifecycle import Role, State

router = APIRouter(tags=["pages"])
_ROLE_ORDER = {Role.OEM: 0, Role.OPERATOR: 1, Role.RECYCLER: 2, Role.REGULATOR: 3, Role.ADMIN: 4}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request, ledger: LedgerDep) -> Any:
    seen = reads.overview(ledger.store)
    counts = seen.counts
    states = [s.value for s in State]
    kinds = [k.value for k in ItemKind]
    rows = [
        {
            "kind": kind,
            "cells": [counts.get((kind, s), 0) for s in states],
            "total": sum(counts.get((kind, s), 0) for s in states),
        }
        for kind in kinds
    ]
    totals = [sum(counts.get((k, s), 0) for k in kinds) for s in states]
    peak = max([*totals, 1])
    bars = [{"state": s, "count": c, "max": peak} for s, c in zip(states, totals, strict=True)]
    # Public page: orgs by name, role and region (their ids are for regulators).
    orgs = sorted(seen.orgs.values(), key=lambda o: (_ROLE_ORDER.get(o.role, 9), o.name))
    anchors = {org.id: f"org-{number}" for number, org in enumerate(orgs, 1)}
    try:  # by name: included routers may sit below the app's top-level routes
        audit = request.app.url_path_for("audit_page") == "/audit"
    except NoMatchFound:
        audit = "/audit" in {getattr(route, "path", None) for route in request.app.routes}
    return request.app.state.templates.TemplateResponse(
        request,
        "index.html",
        {
            "size": seen.size,
            "head": seen.head,
            "states": states,
            "state_names": {s: s.replace("_", " ") for s in states},
            "rows": rows,
            "totals": totals,
            "bars": bars,
            "recent": seen.recent,
            "names": {org.id: org.name for org in orgs},
            "anchors": anchors,
            "orgs": orgs,
            "items": sum(counts.values()),
            "audit": audit,
        },
    )
