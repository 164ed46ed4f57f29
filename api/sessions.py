"""The passport session cookie: a browser signed in to see passports at its key's tier.

Owns the cookie that ``POST /scan/session`` sets and ``DELETE /scan/session``
clears, and how a passport page reads it. The cookie holds a session id
(``ledger.sessions``: random, bound on the server to the key that opened it),
never the key. It is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (a
label scanned from a camera app still opens the signed-in passport; other
sites' requests carry no cookie), ``Secure`` when the public URL is https, and
lasts as long as the session. Signing out ends the session on the server, so a
copy of the cookie opens nothing afterwards; so does revoking the key.
"""

from __future__ import annotations

from functools import partial

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api import presenters
from api.settings import Settings
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.sessions import SESSION_TTL, Session, close_session, open_session

__all__ = ["LEGACY_COOKIE", "SESSION_COOKIE", "forget", "reader", "sign_in", "sign_out"]

SESSION_COOKIE = "retrace_session"
# Older versions kept the API key itself in this cookie (path /p): never read, dropped.
LEGACY_COOKIE = "key"
_PATH = "/"  # passport pages read it; the sign-out under /scan/ must receive it too


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.public_base_url.startswith("https://")


async def sign_in(request: Request, ledger: Ledger, api_key: str) -> Response:
    """Open a session for ``api_key`` and answer with its org and the cookie.

    Raises:
        AuthError: unknown or revoked key (no cookie is set).
    """
    session = (
        await run_in_threadpool(ledger.submit, partial(open_session, api_key=api_key), Session)
    ).value
    response = JSONResponse(presenters.org(session.org), headers={"Cache-Control": "no-store"})
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        max_age=int(SESSION_TTL.total_seconds()),
        path=_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


async def sign_out(request: Request, ledger: Ledger) -> Response:
    """End the request's session on the server and clear its cookie."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await run_in_threadpool(
            ledger.submit, partial(close_session, session_id=session_id), type(None)
        )
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    forget(request, response, session=True)
    return response


async def reader(request: Request, ledger: Ledger) -> tuple[OrgRecord | None, bool]:
    """The org of the request's live session, and whether its session cookie opens
    nothing (expired, signed out, key revoked, or made up)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None, False
    org = await run_in_threadpool(ledger.session_org, session_id)
    return org, org is None


def forget(request: Request, response: Response, *, session: bool) -> None:
    """Tell the browser to drop the session cookie (when ``session``) and the old
    key cookie, wherever one came."""
    if session:
        response.delete_cookie(
            SESSION_COOKIE, path=_PATH, secure=_secure(request), httponly=True, samesite="lax"
        )
    if LEGACY_COOKIE in request.cookies:
        response.delete_cookie(LEGACY_COOKIE, path="/p")
