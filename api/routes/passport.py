"""The passport page a QR label opens: ``GET /p/{id}``, HTML or JSON.

Asks ``api.reads.Reads.passport`` (``ledger.reads.passport`` through the
cache) for the item's passport at the reader's access tier, its history checked
against the latest signed checkpoint, and renders it: HTML for browsers, JSON
for ``Accept: application/json``.
The reader's key comes from ``Authorization: Bearer`` or, for browsers, from
the passport session the sign-in opened (``api.sessions``: a cookie with a
session id, never the key).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from api import sessions
from api.deps import LedgerDep, ReadsDep
from api.problems import responses as problems
from api.reads import Reads
from labels import kind_name
from ledger import reads
from ledger.errors import NotFoundError
from ledger.passport import Access
from ledger.records import OrgRecord
from ledger.registry import EVENTS
from ledger.service import Ledger

router = APIRouter(tags=["passport"])
# Described as in ``api.deps``: OpenAPI keeps one ``HTTPBearer`` scheme for both.
_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer rtr_…`")

# The registry's words: an event's name, and the labels of the data fields it shows.
EVENT_NAMES = {name: spec.label for name, spec in EVENTS.items()}
_FACT_LABELS = {name: dict(spec.facts) for name, spec in EVENTS.items()}
STATE_NAMES = {
    "registered": "Registered",
    "in_service": "In service",
    "retired": "Retired",
    "collected": "Collected by a recycler",
    "assessed": "Assessed by a recycler",
    "repurposed": "Repurposed: a second life as a new item",
    "dismantled": "Dismantled into parts",
    "recycled": "Recycled",
    "disposed": "Disposed",
}


class PassportLink(BaseModel):
    id: str
    kind: str | None
    code: str | None
    state: str | None


class PassportOrg(BaseModel):
    name: str
    role: str | None
    id: str | None = Field(None, description="regulators only")


class PassportItem(BaseModel):
    id: str
    kind: str
    kind_name: str
    code: str
    decoded: dict[str, str] | None = Field(description="the GB/T 34014 code decoded")
    state: str
    terminal: bool
    manufacturer: PassportOrg
    parent: PassportLink | None
    origin: PassportLink | None
    children: list[PassportLink]
    successors: list[PassportLink] = Field(description="the new items of a second life")
    holder: PassportOrg | None = Field(None, description="orgs in the item's chain")
    attributes: dict[str, Any] | None = Field(
        None, description="orgs in the item's chain; personal fields for regulators only"
    )
    head: str | None = Field(None, description="regulators only")
    head_seq: int | None = Field(None, description="regulators only")


class PassportEvent(BaseModel):
    type: str
    date: str
    ts: str | None = Field(None, description="orgs in the item's chain")
    by: PassportOrg | None = Field(None, description="orgs in the item's chain")
    data: dict[str, Any] | None = Field(
        None, description="orgs in the item's chain; personal fields for regulators only"
    )
    seq: int | None = Field(None, description="regulators only")
    actor: str | None = Field(None, description="regulators only")
    hash: str | None = Field(None, description="regulators only")
    prev: str | None = Field(None, description="regulators only")
    item_prev: str | None = Field(None, description="regulators only")
    sig: dict[str, str] | None = Field(None, description="regulators only")
    names: dict[str, str] | None = Field(
        None, description="regulators only: names of the orgs `data` names by id"
    )


class PassportCheckpoint(BaseModel):
    size: int
    root: str
    note: str | None = Field(None, description="regulators only: the signed checkpoint")


class PassportVerification(BaseModel):
    ok: bool = Field(description="entries re-hashed, item chain intact, proofs verified")
    entries: int
    proved: int = Field(description="entries proved in the signed checkpoint")
    pending: int = Field(description="entries newer than the checkpoint")
    problem: str | None
    checkpoint: PassportCheckpoint


class Passport(BaseModel):
    access: Access = Field(
        description="public, interested (an org in the item's chain: its maker, its "
        "holders, the orgs that recorded its events) or regulator; any other key reads "
        "the public tier. Personal data (a VIN, an owner's name) only for regulators"
    )
    item: PassportItem
    timeline: list[PassportEvent]
    verification: PassportVerification


def _wants_json(request: Request) -> bool:
    """Content negotiation between HTML (the default) and JSON, by q-value."""
    best: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = (
            "json"
            if media == "application/json" or media.endswith("+json")
            else "html"
            if media in {"text/html", "application/xhtml+xml"}
            else None
        )
        if kind is not None:
            best[kind] = max(best.get(kind, 0.0), q)
    return best.get("json", 0.0) > best.get("html", 0.0)


async def _reader_org(
    found: Reads,
    ledger: Ledger,
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
) -> tuple[OrgRecord | None, bool]:
    """The reader's org and whether a session cookie came that opens nothing.

    A bad ``Authorization`` header is refused (401); a session that ended only
    means the public passport, since a browser cannot fix it by itself.
    """
    if credentials is not None and credentials.credentials:
        return await found.caller(credentials.credentials), False
    return await sessions.reader(request, ledger)


def _facts(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The key data of a timeline event, as (label, value) lines for the page."""
    data = event.get("data") or {}
    names = event.get("names") or {}
    labels = _FACT_LABELS.get(event["type"], {})
    out = []
    for key, value in data.items():
        if key not in labels:
            continue
        if key in {"mass_kg", "input_mass_kg"}:
            text = f"{value} kg"
        elif key == "soh_pct":
            text = f"{value} %"
        elif key == "recovered" and isinstance(value, list):
            text = ", ".join(
                f"{r.get('material')} {r.get('mass_kg')} kg" for r in value if isinstance(r, dict)
            )
        elif key == "children" and isinstance(value, list):
            text = f"{len(value)} item{'s' if len(value) != 1 else ''}"
        elif key in names:
            text = f"{names[key]} ({value})"
        elif key == "fields" and isinstance(value, dict):
            text = ", ".join(f"{k} = {v}" for k, v in value.items())
        else:
            text = str(value)
        out.append((labels[key], text))
    return out


def _kind_word(kind: str | None) -> str:
    return kind_name(kind) if kind else "Item"


def _headers(access: Access) -> dict[str, str]:
    # The page differs by key and by Accept; only the public tier may be cached.
    cache = "no-cache" if access is Access.PUBLIC else "private, no-store"
    return {"Vary": "Accept, Authorization, Cookie", "Cache-Control": cache}


_RESPONSES = problems(401, 404)
_RESPONSES[200] = {
    "content": {"text/html": {}},
    "description": "the passport (HTML by default; JSON with `Accept: application/json`)",
}
_RESPONSES[404]["content"] = {"application/problem+json": {}, "text/html": {}}


@router.get(
    "/p/{item_id}",
    response_model=Passport,
    responses=_RESPONSES,
    summary="The passport a QR label opens; what it shows depends on the API key",
)
async def passport(
    item_id: str,
    request: Request,
    found: ReadsDep,
    ledger: LedgerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    org, stale = await _reader_org(found, ledger, request, credentials)
    view = await found.passport(item_id, org.as_actor() if org else None)
    # A keyed reader's answers are never cached, whatever tier its key opened.
    access = Access.PUBLIC if org is None else Access.INTERESTED
    if view is not None:
        view["item"]["kind_name"] = kind_name(view["item"]["kind"])
    as_json = _wants_json(request)
    if view is None:
        if as_json:
            raise NotFoundError(f"no item {item_id}")
        response: Response = request.app.state.templates.TemplateResponse(
            request,
            "passport.html",
            {"missing": item_id[: reads.MAX_ID_LENGTH], "org": org},
            status_code=404,
            headers=_headers(access),
        )
    elif as_json:
        response = JSONResponse(view, headers=_headers(access))
    else:
        timeline = [
            {**event, "name": EVENT_NAMES.get(event["type"], event["type"]), "facts": _facts(event)}
            for event in view["timeline"]
        ]
        response = request.app.state.templates.TemplateResponse(
            request,
            "passport.html",
            {
                "p": view,
                "item": view["item"],
                "timeline": timeline,
                "check": view["verification"],
                "org": org,
                "stale_key": stale,
                "state_name": STATE_NAMES.get(view["item"]["state"], view["item"]["state"]),
                "kind_word": _kind_word,
            },
            headers=_headers(access),
        )
    sessions.forget(request, response, session=stale)
    return response
