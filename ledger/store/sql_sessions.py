"""Passport sessions on SQL: the statements of ``ledger.sessions`` for ``SqlStore``.

Owns the one read (a live session's org: the session joined to its key, which
must not be revoked, and the key's org) and the two writes (keep one, dropping
those that have ended; forget one). The rule that makes a session live is
``ledger.sessions``'s; this only runs it in one indexed query.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from ledger.lifecycle import Role
from ledger.records import OrgRecord
from ledger.store.tables import ApiKeyRow, OrgRow, PassportSessionRow

__all__ = ["SessionRows", "SessionWrites"]

_sessions = PassportSessionRow.__table__  # type: ignore[attr-defined]
_keys = ApiKeyRow.__table__  # type: ignore[attr-defined]
_orgs = OrgRow.__table__  # type: ignore[attr-defined]

_LIVE_SESSION_ORG = (
    sa.select(_orgs.c.id, _orgs.c.name, _orgs.c.role, _orgs.c.region)
    .select_from(
        _sessions.join(_keys, _keys.c.id == _sessions.c.key_id).join(
            _orgs, _orgs.c.id == _keys.c.org_id
        )
    )
    .where(
        (_sessions.c.id_hash == sa.bindparam("id_hash"))
        & (_sessions.c.expires_at > sa.bindparam("now"))
        & _keys.c.revoked_seq.is_(None)
    )
)


class SessionRows:
    """The read of a passport session, on one connection."""

    conn: Connection

    def passport_session(self, id_hash: str, now: str) -> OrgRecord | None:
        row = self.conn.execute(_LIVE_SESSION_ORG, {"id_hash": id_hash, "now": now}).first()
        return None if row is None else OrgRecord(row.id, row.name, Role(row.role), row.region)


class SessionWrites(SessionRows):
    """The writes of passport sessions, in a write transaction."""

    def _writing(self) -> None:
        """Called before each write (the writer begins a pending savepoint there)."""

    def insert_passport_session(self, id_hash: str, key_id: str, expires_at: str, now: str) -> None:
        self._writing()
        self.conn.execute(_sessions.delete().where(_sessions.c.expires_at <= now))
        self.conn.execute(
            _sessions.insert().values(id_hash=id_hash, key_id=key_id, expires_at=expires_at)
        )

    def delete_passport_session(self, id_hash: str) -> None:
        self._writing()
        self.conn.execute(_sessions.delete().where(_sessions.c.id_hash == id_hash))
