"""The landing page: what this ledger holds, at a glance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import LedgerDep
from ledger import reads
from ledger.events import ItemKind
from ledger.lifecycle import State

router = APIRouter(tags=["pages"])


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
    bars = [
        {"state": s, "count": c, "width": round(100 * c / peak, 1)}
        for s, c in zip(states, totals, strict=True)
    ]
    return request.app.state.templates.TemplateResponse(
        request,
        "index.html",
        {
            "size": seen.size,
            "head": seen.head,
            "states": states,
            "rows": rows,
            "bars": bars,
            "recent": seen.recent,
            "orgs": seen.orgs,
            "items": sum(counts.values()),
        },
    )
