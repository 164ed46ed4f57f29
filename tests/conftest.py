"""Fixtures shared by every test: real databases, the app, a populated world.

Each test that needs a database gets a fresh one, on SQLite and on
PostgreSQL (``backend`` is parametrized over both). PostgreSQL databases are
cloned from a template migrated once per session, and dropped afterwards.
Without PostgreSQL or Redis the tests that need them skip with the reason,
except in CI (``CI`` set), where a missing service is a failure.

Any test that wrote through ``client`` ends by re-verifying the whole chain
and comparing the items table with a rebuild from the log.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from ledger.projection import projection_differences
from ledger.reports import rebuild as rebuild_reports
from ledger.reports import refresh as refresh_reports
from ledger.reports.aggregate import COUNTED, EVERYONE
from ledger.service import Ledger
from ledger.store.base import ReportMember, Store
from ledger.store.sql import SqlStore
from ledger.verify import verify_log
from tests.factories import ADMIN_KEY, Org, make_world
from tests.relay import Relay

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = bool(os.environ.get("CI"))
BACKENDS = ["sqlite", "postgresql"]


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where every service must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


def _pg_admin() -> psycopg.Connection[Any]:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database to clone, or None without PostgreSQL."""
    name = f"retrace_tpl_{uuid.uuid4().hex[:10]}"
    try:
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        yield None
        return
    store = SqlStore(_pg_url(name))
    store.migrate()
    store.dispose()
    yield name
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    store = SqlStore(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> Iterator[str]:
    """A fresh, migrated database on ``backend``; dropped after the test."""
    if backend == "sqlite":
        path = tmp_path / "retrace.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    if pg_template is None:
        unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    name = f"retrace_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield _pg_url(name)
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def relay(redis_url: str) -> Iterator[Relay]:
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    made = Relay((host, int(port)))
    yield made
    made.close()


@pytest.fixture
def redis_url(worker_id: str) -> str:
    """An empty Redis database of this test process's own (15, then 13, 11, … for
    each parallel worker), so tests running at once never see each other's stream."""
    import redis

    index = int(worker_id.removeprefix("gw")) if worker_id.startswith("gw") else 0
    base, number = REDIS_URL.rsplit("/", 1)
    url = f"{base}/{int(number) - 2 * index}"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError:
        unavailable(f"Redis is not reachable at {url}")
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        log_key_file=tmp_path / "log.key",
        bootstrap_admin_key=ADMIN_KEY,
        public_base_url="http://retrace.test",
        max_body_bytes=1024 * 1024,
        max_bulk_lines=5000,
        _env_file=None,
    )


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    store = SqlStore(database_url)
    yield store
    store.dispose()


def assert_ledger_sound(ledger: Ledger) -> None:
    """The chain verifies, the items table equals the rebuild from the log, and so
    do the report aggregates, however many refreshes built them."""
    report = verify_log(ledger.store)
    assert report.ok, report.first_bad
    assert projection_differences(ledger.store) == []
    size = refresh_reports(ledger.store)
    kept = report_aggregates(ledger.store)
    assert rebuild_reports(ledger.store) == size
    assert report_aggregates(ledger.store) == kept


def report_aggregates(store: Store) -> tuple[int, list[ReportMember], dict[str, Any]]:
    """Everything the report aggregates hold: the mark, every part, every sum."""
    with store.reports() as tables:
        items = sorted({m.item for m in tables.row_members("item")})
        members = sorted(tables.members_of(items), key=lambda m: (m.item, m.report, m.key))
        scopes = [EVERYONE, *(org.id for org in tables.orgs())]
        cells = {
            f"{scope} {report}": tables.cells(scope, report)
            for scope in scopes
            for report in sorted(COUNTED)
        }
        return tables.report_mark(), members, cells


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    from api.bootstrap import prepare

    prepare(settings)
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
        assert_ledger_sound(app.state.ledger)


@dataclass
class World:
    """Orgs with keys, made through the API: the cast of most API tests."""

    client: TestClient
    admin: Org
    orgs: dict[str, Org] = field(default_factory=dict)

    @property
    def app(self) -> FastAPI:
        """The application behind the client; its ``state`` holds the ledger and the log."""
        app = self.client.app
        assert isinstance(app, FastAPI)
        return app

    def __getattr__(self, name: str) -> Org:
        try:
            return self.orgs[name]
        except KeyError:
            raise AttributeError(name) from None


@pytest.fixture
def world(client: TestClient) -> World:
    admin, orgs = make_world(client)
    return World(client, admin, orgs)
