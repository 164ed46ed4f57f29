"""``item_custody`` (every org that made, holds or held an item) on SQLite and
PostgreSQL: kept by the triggers on ``items`` on every write path (one row at a
time, one statement of a few, COPY of many), filled again by the projection's
rebuild from the log alone, and kept, with the log, by the migration that made
PostgreSQL's insert trigger one statement per insert (revision 0012)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from api.bootstrap import create_admin
from ledger import items, orgs
from ledger.chain import parse_entry
from ledger.lifecycle import Role
from ledger.projection import projection_differences, rebuild_projection
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from ledger.verify import verify_log
from tests.conftest import _pg_admin, _pg_url, unavailable

Custody = set[tuple[str, int, str]]


def clock() -> datetime:
    return datetime(2026, 12, 2, tzinfo=UTC)


def custody(store: SqlStore) -> Custody:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT org, created_seq, item FROM item_custody"))
        return {(r.org, int(r.created_seq), r.item) for r in rows}


def expected_custody(store: SqlStore) -> Custody:
    """From the log: each item's maker and every org it was transferred to."""
    found: Custody = set()
    created: dict[str, int] = {}
    with store.reader() as r:
        for row in r.iter_entries():
            if row.item is None:
                continue
            created.setdefault(row.item, row.seq)
            entry = parse_entry(row.body)
            if entry.type == "registered":
                found.add((entry.actor, created[row.item], row.item))
            elif entry.type == "transferred":
                found.add((entry.data["to_org"], created[row.item], row.item))
    return found


def lines(prefix: str, count: int) -> list[dict[str, object]]:
    return [{"kind": "pv_module", "code": f"PV-{prefix}-{n}"} for n in range(count)]


class Cast:
    def __init__(self, ledger: Ledger) -> None:
        admin = create_admin(ledger).org
        self.ledger = ledger

        def made(name: str, role: Role) -> OrgRecord:
            return ledger.write(lambda tx: orgs.create_org(tx, admin, name, role, "CN")).org

        self.oem, self.operator, self.recycler = (
            made("Custody OEM", Role.OEM),
            made("Custody operator", Role.OPERATOR),
            made("Custody recycler", Role.RECYCLER),
        )

    def register(self, prefix: str, count: int) -> list[str]:
        """``count`` items in one transaction: COPY on PostgreSQL from 64 rows on."""
        found = self.ledger.write(
            lambda tx: items.register_many(tx, self.oem, lines(prefix, count))
        ).results
        assert all(r.error is None for r in found)
        return [r.item for r in found if r.item is not None]

    def transfer(self, item_id: str, frm: OrgRecord, to: OrgRecord) -> None:
        self.ledger.write(
            lambda tx: items.record_event(tx, frm, item_id, "transferred", {"to_org": to.id})
        )


def write_a_world(cast: Cast) -> list[str]:
    """Items written in one statement of a few rows, by COPY, and one at a time;
    some handed on twice, one handed back to its maker."""
    few = cast.register("few", 3)
    many = cast.register("many", 150)
    one = cast.ledger.write(
        lambda tx: items.register(tx, cast.oem, {"kind": "pv_module", "code": "PV-one"})
    ).item.id
    cast.transfer(few[0], cast.oem, cast.operator)
    cast.transfer(few[0], cast.operator, cast.recycler)
    cast.transfer(many[7], cast.oem, cast.operator)
    cast.transfer(many[7], cast.operator, cast.oem)  # back to a holder it had
    cast.transfer(one, cast.oem, cast.recycler)
    return [*few, *many, one]


def test_every_write_path_keeps_custody_and_a_rebuild_gives_it_back(store: SqlStore) -> None:
    cast = Cast(Ledger(store, clock=clock))
    written = write_a_world(cast)
    kept = custody(store)
    assert kept == expected_custody(store)
    assert {item for _, _, item in kept} == set(written)
    assert len(kept) == len(written) + 4  # the maker's, then operator, recycler, recycler
    # The rebuild replaces the items: their custody rows come back, no more and no fewer.
    assert rebuild_projection(store) == len(written)
    assert custody(store) == kept
    # Even from nothing: the rebuild reads the orgs that held an item from the log.
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM item_custody"))
    rebuild_projection(store)
    assert custody(store) == kept
    assert projection_differences(store) == []


# -- the migration to 0012, with a log written before it ------------------------------


def _migrate(store: SqlStore, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("ledger.store") / "migrations"))
    with store.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


@pytest.fixture
def empty_store(backend: str, tmp_path: Path, pg_template: str | None) -> Iterator[SqlStore]:
    """A store on a database with no schema yet."""
    if backend == "sqlite":
        store = SqlStore(f"sqlite:///{tmp_path / 'empty.db'}")
        yield store
        store.dispose()
        return
    if pg_template is None:
        unavailable("PostgreSQL is not reachable")
    name = f"retrace_m_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    store = SqlStore(_pg_url(name))
    yield store
    store.dispose()
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migration_keeps_the_log_its_guard_and_custody(empty_store: SqlStore) -> None:
    store = empty_store
    _migrate(store, "0011")
    cast = Cast(Ledger(store, clock=clock))
    write_a_world(cast)
    with store.reader() as r:
        log = list(r.iter_entries())
    kept = custody(store)

    _migrate(store, "head")
    assert store.schema_revision() == "0012"
    with store.reader() as r:
        assert list(r.iter_entries()) == log
    assert custody(store) == kept
    # Written after it, by the new trigger: the same rows as the old one made.
    more = cast.register("after", 80)
    cast.transfer(more[0], cast.oem, cast.recycler)
    assert custody(store) == expected_custody(store)
    assert verify_log(store).ok
    assert projection_differences(store) == []
    # The log still refuses to change (SQLite's guard was made again with its table).
    for statement in ("UPDATE entries SET actor = 'x'", "DELETE FROM entries"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as c:
            c.execute(sa.text(statement))
