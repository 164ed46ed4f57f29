"""Passport sessions on every store: live until they expire, are closed, or lose their key.

``ledger.sessions`` over the memory, SQLite and PostgreSQL stores, with a clock
the test moves: a session opened with a key names the key's org for exactly
``SESSION_TTL``; closing it or revoking its key ends it at once; only its hash
is kept, and neither a key nor a made-up id opens anything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from ledger import orgs
from ledger.errors import AuthError
from ledger.lifecycle import Role
from ledger.orgs import Created
from ledger.service import Ledger
from ledger.sessions import (
    SESSION_PREFIX,
    SESSION_TTL,
    close_session,
    hash_session,
    open_session,
)
from ledger.store.base import Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _cast(ledger: Ledger) -> tuple[Created, Created]:
    admin = ledger.write(lambda tx: orgs.create_org(tx, None, "Admin", Role.ADMIN, "CN"))
    dock = ledger.write(
        lambda tx: orgs.create_org(tx, admin.org, "Dock recycler", Role.RECYCLER, "CN")
    )
    return admin, dock


def test_a_session_names_its_org_until_it_expires(contract_store: Store) -> None:
    clock = Clock()
    ledger = Ledger(contract_store, clock=clock)
    _, dock = _cast(ledger)
    session = ledger.write(partial(open_session, api_key=dock.api_key))
    assert session.id.startswith(SESSION_PREFIX)
    assert dock.api_key not in session.id
    assert session.org == dock.org
    assert session.expires == clock.now + SESSION_TTL
    assert ledger.session_org(session.id) == dock.org

    clock.now += SESSION_TTL - timedelta(microseconds=1)
    assert ledger.session_org(session.id) == dock.org
    clock.now += timedelta(microseconds=1)
    assert ledger.session_org(session.id) is None


def test_nothing_but_a_live_session_id_opens_one(contract_store: Store) -> None:
    ledger = Ledger(contract_store, clock=Clock())
    admin, dock = _cast(ledger)
    session = ledger.write(partial(open_session, api_key=dock.api_key))
    for attempt in (
        dock.api_key,
        admin.api_key,
        hash_session(session.id),  # what the store keeps
        session.id + "x",
        SESSION_PREFIX + "x" * 43,
        session.id * 3,
        "",
    ):
        assert ledger.session_org(attempt) is None, attempt


def test_closing_a_session_ends_it_and_no_other(contract_store: Store) -> None:
    ledger = Ledger(contract_store, clock=Clock())
    _, dock = _cast(ledger)
    closed = ledger.write(partial(open_session, api_key=dock.api_key))
    kept = ledger.write(partial(open_session, api_key=dock.api_key))
    assert closed.id != kept.id
    ledger.write(partial(close_session, session_id=closed.id))
    ledger.write(partial(close_session, session_id=closed.id))  # closed already: nothing to do
    assert ledger.session_org(closed.id) is None
    assert ledger.session_org(kept.id) == dock.org


def test_revoking_the_key_ends_its_sessions_and_refuses_new_ones(contract_store: Store) -> None:
    ledger = Ledger(contract_store, clock=Clock())
    admin, dock = _cast(ledger)
    second = ledger.write(lambda tx: orgs.issue_key(tx, admin.org, dock.org.id))
    on_first = ledger.write(partial(open_session, api_key=dock.api_key))
    on_second = ledger.write(partial(open_session, api_key=second.api_key))
    ledger.write(lambda tx: orgs.revoke_key(tx, admin.org, second.key_id))
    assert ledger.session_org(on_second.id) is None
    assert ledger.session_org(on_first.id) == dock.org
    with pytest.raises(AuthError):
        ledger.write(partial(open_session, api_key=second.api_key))
    with pytest.raises(AuthError):
        ledger.write(partial(open_session, api_key="rtr_" + "n" * 43))
