"""Passport sessions: a browser's sign-in, bound on the server to one API key.

Owns the session id (``rts_`` and 256 random bits, given to the browser once
and stored only as its SHA-256), its lifetime, and what keeps a session live:
it has not expired, nobody signed it out, and the key it was opened with is not
revoked (checked on every read, so a revocation ends every session of the key
at once). Sessions sit beside the log, not in it: signing in and out appends
no entry. Writes are functions of a ``ledger.commit.Tx``; the read takes a
store reader.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.chain import format_ts
from ledger.commit import Tx
from ledger.orgs import authenticate_key
from ledger.records import OrgRecord
from ledger.store.base import ProjectionReader

__all__ = [
    "SESSION_PREFIX",
    "SESSION_TTL",
    "Session",
    "close_session",
    "hash_session",
    "open_session",
    "session_org",
]

SESSION_PREFIX = "rts_"
SESSION_TTL = timedelta(hours=12)
"""One working shift at the dock."""

_MAX_ID_LENGTH = 100


@dataclass(frozen=True)
class Session:
    """A session just opened: its id (shown once), its org and when it ends."""

    id: str
    org: OrgRecord
    expires: datetime


def hash_session(session_id: str) -> str:
    """Stored form of a session id: SHA-256 hex (ids carry 256 random bits)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(tx: Tx, api_key: str, ttl: timedelta = SESSION_TTL) -> Session:
    """Check ``api_key`` and open a session bound to it, for ``ttl`` from ``tx.now``.
    Sessions that have expired are forgotten on the way.

    Raises:
        AuthError: unknown or revoked key.
    """
    key, org = authenticate_key(tx.writer, api_key)
    session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = tx.now + ttl
    tx.writer.insert_passport_session(
        hash_session(session_id), key.id, format_ts(expires), format_ts(tx.now)
    )
    return Session(session_id, org, expires)


def session_org(r: ProjectionReader, session_id: str, now: datetime) -> OrgRecord | None:
    """The org of a live session, or None (unknown, expired, signed out, key revoked)."""
    if not session_id.startswith(SESSION_PREFIX) or len(session_id) > _MAX_ID_LENGTH:
        return None
    return r.passport_session(hash_session(session_id), format_ts(now))


def close_session(tx: Tx, session_id: str) -> None:
    """End a session (signing out); an unknown one is already ended."""
    if session_id.startswith(SESSION_PREFIX) and len(session_id) <= _MAX_ID_LENGTH:
        tx.writer.delete_passport_session(hash_session(session_id))
