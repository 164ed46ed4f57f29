"""Shared request dependencies: the ledger, the reads, the caller, idempotency.

Owns authentication (``Authorization: Bearer <key>``, through the process's
cache of API keys, ``api.cache.KeyCache``), role checks, the reading of
``Idempotency-Key`` and the running of a write off the event loop.
Routes declare what they need with the ``Annotated`` aliases below and stay
free of plumbing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.bulk import is_json_lines
from api.handoff import handoff
from api.reads import Reads
from api.settings import Settings
from ledger.commit import Tx
from ledger.errors import AuthError, ForbiddenError, ValidationError
from ledger.idempotency import Idempotency, fingerprint
from ledger.lifecycle import Role
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.base import CodeKey
from ledger.transparency import Transparency

T = TypeVar("T")
_READ_INLINE_BYTES = 64 * 1024

_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer rtr_…`")


# Plain attribute reads: async, so FastAPI does not hand them to the threadpool.
async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def get_reads(request: Request) -> Reads:
    found: Reads = request.app.state.reads
    return found


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_transparency(request: Request) -> Transparency:
    tlog: Transparency = request.app.state.transparency
    return tlog


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ReadsDep = Annotated[Reads, Depends(get_reads)]
TransparencyDep = Annotated[Transparency, Depends(get_transparency)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def _api_key(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise AuthError("send an API key as `Authorization: Bearer <key>`")
    return credentials.credentials


async def get_api_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The request's API key, not yet checked (``get_caller`` checks it).

    Raises:
        AuthError: no key.
    """
    return _api_key(credentials)


ApiKeyDep = Annotated[str, Depends(get_api_key)]

# The caller's dependencies read the key and the reads themselves, not through
# ``ApiKeyDep`` and ``ReadsDep``: FastAPI's cost grows with each level of
# dependencies, and every signed request solves these.


async def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> OrgRecord:
    """The org whose API key signs this request.

    Raises:
        AuthError: no key, or an unknown or revoked one.
    """
    found: Reads = request.app.state.reads
    return await found.caller(_api_key(credentials))


CallerDep = Annotated[OrgRecord, Depends(get_caller)]


def require(*roles: Role) -> Callable[..., Awaitable[OrgRecord]]:
    """A dependency that admits only callers with one of ``roles``."""
    names = ", ".join(r.value for r in roles)

    # Async, though it awaits nothing: FastAPI runs a plain function on a worker
    # thread, a hand-off that cost a write more CPU than the check itself.
    async def _check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> OrgRecord:
        caller = await get_caller(request, credentials)
        if caller.role not in roles:
            raise ForbiddenError(
                f"this needs the role {names}; your org is a {caller.role}", role=caller.role.value
            )
        return caller

    return _check


AdminDep = Annotated[OrgRecord, Depends(require(Role.ADMIN))]
OemDep = Annotated[OrgRecord, Depends(require(Role.OEM))]
RegulatorDep = Annotated[OrgRecord, Depends(require(Role.REGULATOR))]
WriterDep = Annotated[OrgRecord, Depends(require(Role.OEM, Role.OPERATOR, Role.RECYCLER))]


async def get_idempotency(
    idempotency_key: Annotated[
        str | None,
        Header(
            description="a retry with the same key returns the first answer and writes nothing",
            max_length=200,
        ),
    ] = None,
) -> str | None:
    """The request's Idempotency-Key, or None; a malformed one is refused."""
    if idempotency_key is None:
        return None
    if not idempotency_key.strip() or not idempotency_key.isprintable():
        raise ValidationError(
            "Idempotency-Key must be 1-200 printable characters", pointer="header:/Idempotency-Key"
        )
    return idempotency_key


IdempotencyKeyDep = Annotated[str | None, Depends(get_idempotency)]


async def idempotency_for(
    request: Request, caller: OrgRecord, key: str | None
) -> Idempotency | None:
    """Bind a key to the caller and to this request: its method, its path and the
    meaning of its body (``ledger.idempotency.fingerprint``: canonical JSON, or
    JSON Lines line by line)."""
    if key is None:
        return None
    body = await request.body()
    lines = is_json_lines(request.headers.get("content-type", ""))
    # Reading a large body into its canonical form takes a while: off the event loop.
    if len(body) > _READ_INLINE_BYTES:
        found = await run_in_threadpool(
            partial(fingerprint, request.method, request.url.path, body, lines=lines)
        )
    else:
        found = fingerprint(request.method, request.url.path, body, lines=lines)
    return Idempotency(caller.id, key, found)


class Answer(Response):
    """A JSON answer already in its response model's shape (``api.presenters``):
    encoded with orjson, not checked against the model and encoded again. The route
    still declares the model, for the API's documentation; the tests hold each
    presenter to its model."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_encode)


def _encode(value: Any) -> str:
    if isinstance(value, Decimal | Enum):
        return str(value.value if isinstance(value, Enum) else value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def answer(body: Any, response: Response, status_code: int = 200) -> Answer:
    """``body`` as the route's answer, with the headers a dependency set on
    ``response`` (``Idempotent-Replayed``)."""
    made = Answer(body, status_code=status_code)
    made.headers.update(response.headers)
    return made


async def run_write(
    ledger: Ledger,
    write: Callable[[Tx], T],
    kind: type[T],
    idempotency: Idempotency | None,
    response: Response,
    claims: frozenset[CodeKey] = frozenset(),
) -> T:
    """Run a write off the event loop (``api.handoff``); a replayed first answer is
    marked as such.

    ``claims`` names the item codes the write registers (``ledger.items.claimed_codes``).
    """
    outcome = await handoff.run(partial(ledger.submit, write, kind, idempotency, claims=claims))
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return outcome.value
