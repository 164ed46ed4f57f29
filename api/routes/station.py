"""The scan station a recycler uses at the loading dock: ``GET /scan``.

The page itself is static (``scan.html`` and ``/static/scan.js``): it reads
QR labels from the camera or a handheld scanner, resolves each through
``POST /v1/scan`` and records a delivery with ``POST /v1/intake``, all with
the recycler's API key. This module serves it and owns its sign-in: the key
checked and put in an HttpOnly ``key`` cookie, sent only to passport pages,
so a passport opened from the station shows what the recycler may see.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import presenters
from api.deps import KEY_COOKIE, LedgerDep
from ledger.errors import AuthError

router = APIRouter(tags=["pages"])
SESSION_SECONDS = 12 * 3600  # one working shift
_bearer = HTTPBearer(auto_error=False)


@router.get("/scan", response_class=HTMLResponse, include_in_schema=False)
def scan_station(request: Request) -> Any:
    return request.app.state.templates.TemplateResponse(
        request, "scan.html", {}, headers={"Cache-Control": "no-cache"}
    )


@router.post("/scan/session", include_in_schema=False)
def sign_in(
    request: Request,
    ledger: LedgerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """Check the key (``Authorization: Bearer``) and set the passport cookie."""
    if credentials is None or not credentials.credentials:
        raise AuthError("send the API key as `Authorization: Bearer <key>`")
    org = ledger.authenticate(credentials.credentials)
    response = JSONResponse(presenters.org(org), headers={"Cache-Control": "no-store"})
    response.set_cookie(
        KEY_COOKIE,
        credentials.credentials,
        max_age=SESSION_SECONDS,
        path="/p",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.delete("/scan/session", status_code=204, include_in_schema=False)
def sign_out() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(KEY_COOKIE, path="/p")
    return response
