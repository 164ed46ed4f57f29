"""The ledger over one store: where writes are run and callers are recognised.

Owns ``Ledger``, the one object an interface (the API, the CLI, a tool) holds:
the store, the clock and the id source it was given, the group commit every
write goes through, the seal of idempotent answers, and a cache of orgs. What a
write does lives in its own module (``ledger.items``, ``ledger.orgs``,
``ledger.intake``) as a function of a ``ledger.commit.Tx``; reads live in
``ledger.reads``. Nothing here reads settings or does I/O on creation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from ledger.chain import Entry
from ledger.commit import GroupCommit, Tx
from ledger.errors import ValidationError
from ledger.idempotency import AnswerSeal, Idempotency, Outcome, once
from ledger.ids import IdSource
from ledger.lifecycle import Tolerances
from ledger.orgs import OrgCache, authenticate
from ledger.records import OrgRecord
from ledger.sessions import session_org
from ledger.store.base import CodeKey, Store

__all__ = ["Ledger"]

T = TypeVar("T")


class Ledger:
    """Writes and the recognition of callers, over one store."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime],
        ids: IdSource | None = None,
        on_commit: Callable[[list[Entry]], None] | None = None,
        answer_secret: bytes | None = None,
        tolerances: Tolerances | None = None,
    ) -> None:
        """Args:
        on_commit: called with the entries of each transaction once it is durable
            (publishing to subscribers, logging); its failures are its own.
        answer_secret: seals the first answers kept for idempotent retries (they
            can hold a new API key, never stored in clear); without it no
            idempotent write is accepted.
        tolerances: what the plausibility rules allow (default: ``Tolerances()``).
        """
        self.store = store
        self.clock = clock
        self.ids = ids or IdSource()
        self.commit = GroupCommit(store, clock, self.ids, on_commit, tolerances)
        self.seal = AnswerSeal(answer_secret) if answer_secret is not None else None
        self.orgs = OrgCache()

    def submit(
        self,
        write: Callable[[Tx], T],
        kind: type[T],
        idempotency: Idempotency | None = None,
        *,
        claims: frozenset[CodeKey] = frozenset(),
    ) -> Outcome[T]:
        """Run one write atomically, sharing a transaction with concurrent writes.

        Args:
            kind: the type of the write's result (how a kept answer is read back).
            idempotency: when given, a key seen before returns the first result
                (``replayed``) and writes nothing.
            claims: the item codes the write will register
                (``ledger.items.claimed_codes``), checked with the other writes'
                of its batch in one read (``GroupCommit.run``).

        Raises:
            LedgerError: any refusal; nothing is written.
        """
        if idempotency is None:
            return Outcome(self.commit.run(write, claims))
        if self.seal is None:
            raise ValidationError("this ledger keeps no idempotent answers")
        return self.commit.run(once(self.seal, idempotency, kind, write), claims)

    def write(self, write: Callable[[Tx], T]) -> T:
        """Run one write atomically in a transaction of its own (CLI, demo)."""
        return self.commit.alone(write)

    def authenticate(self, api_key: str) -> OrgRecord:
        """The org an API key belongs to.

        Raises:
            AuthError: unknown or revoked key.
        """
        with self.store.lookup() as r:
            return authenticate(r, api_key)

    def session_org(self, session_id: str) -> OrgRecord | None:
        """The org of a live passport session (``ledger.sessions``), or None."""
        with self.store.lookup() as r:
            return session_org(r, session_id, self.clock())
