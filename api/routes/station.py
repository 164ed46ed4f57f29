"""The scan station a recycler uses at the loading dock: ``GET /scan``.

The page itself is static (``scan.html``; ``scan.js``, ``scan_forms.js`` and
``scan_camera.js`` under ``/static/``): it reads QR labels from the camera or a handheld
scanner, resolves each through ``POST /v1/scan``, records a delivery with
``POST /v1/intake`` and any other event the scan offers with
``POST /v1/items/{id}/events``, all with the recycler's API key. This module
serves it under a strict Content-Security-Policy, serves the event forms
(``GET /scan/forms``: each event type's payload schema from the event
registry, with words and examples for people) and its sign-in: the key
checked and a passport session opened (``api.sessions``: an HttpOnly cookie
with a session id, never the key), so a passport opened from the station
shows what the recycler may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import sessions
from api.deps import LedgerDep
from ledger.errors import AuthError
from ledger.lifecycle import CUSTODIANS, EventSpec
from ledger.registry import EVENTS, RECORDABLE

router = APIRouter(tags=["pages"])
_bearer = HTTPBearer(auto_error=False)

# Scripts, styles and requests from this origin only: no inline script, style or
# handler, no eval. 'wasm-unsafe-eval' lets the QR decoder compile its
# WebAssembly module and allows no JavaScript eval; Trusted Types keep the DOM's
# HTML sinks shut (the scripts build nodes). Forms post nowhere (the script
# sends them), so a page whose script failed cannot leak the key in a URL.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "media-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
    )
)
_UNITS = {"kg": "kg", "pct": "%", "kwh": "kWh"}


@router.get("/scan", response_class=HTMLResponse, include_in_schema=False)
def scan_station(request: Request) -> Any:
    return request.app.state.templates.TemplateResponse(
        request,
        "scan.html",
        {},
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def field_label(name: str, label: str | None = None) -> str:
    """A data field's words for a form: the registry's label or the name, with its unit.

    ``mass_kg`` is "Mass (kg)"; ``soh_pct`` labelled "State of health" is
    "State of health (%)".
    """
    *stem, last = name.split("_")
    unit = _UNITS.get(last) if stem else None
    words = label or " ".join(stem if unit else [*stem, last]).capitalize()
    return f"{words} ({unit})" if unit else words


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    """``node`` with every ``$ref`` into ``$defs`` replaced by its target."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _annotate(
    schema: dict[str, Any], example: Any, labels: Mapping[str, str], org_fields: frozenset[str]
) -> None:
    """Give each property of an object schema its words, an example, and what it names."""
    for name, prop in schema.get("properties", {}).items():
        prop["title"] = field_label(name, labels.get(name))
        value = example.get(name) if isinstance(example, dict) else None
        if name in org_fields:
            prop["x-org-roles"] = sorted(CUSTODIANS)
        items = prop.get("items")
        if isinstance(items, dict) and items.get("type") == "object":
            first = value[0] if isinstance(value, list) and value else None
            _annotate(items, first, {}, frozenset())
        elif value is not None:
            prop["examples"] = [value]


def event_form(spec: EventSpec[Any]) -> dict[str, Any]:
    """One event type's form: its payload's JSON Schema, annotated for people."""
    raw = spec.payload.model_json_schema()
    schema: dict[str, Any] = _inline(raw, raw.get("$defs", {}))
    _annotate(schema, dict(spec.example), spec.facts, spec.org_fields)
    to_state = spec.rule.to_state if spec.rule is not None else None
    return {
        "type": spec.name,
        "label": spec.label,
        "to": to_state.value if to_state is not None else None,
        "schema": schema,
    }


FORMS = {"events": [event_form(EVENTS[name]) for name in RECORDABLE]}


@router.get("/scan/forms", include_in_schema=False)
def event_forms() -> JSONResponse:
    """The forms of every event recorded on an item, in the registry's order."""
    return JSONResponse(FORMS, headers={"Cache-Control": "no-cache"})


@router.post("/scan/session", include_in_schema=False)
async def sign_in(
    request: Request,
    ledger: LedgerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """Check the key (``Authorization: Bearer``) and open a passport session."""
    if credentials is None or not credentials.credentials:
        raise AuthError("send the API key as `Authorization: Bearer <key>`")
    return await sessions.sign_in(request, ledger, credentials.credentials)


@router.delete("/scan/session", status_code=204, include_in_schema=False)
async def sign_out(request: Request, ledger: LedgerDep) -> Response:
    """End the passport session on the server and clear its cookie."""
    return await sessions.sign_out(request, ledger)
