"""PostgreSQL: migrations run as the tables' owner, the service as a role of its own.

With ``RETRACE_OWNER_DATABASE_URL`` set, ``prepare`` (what ``retrace init`` and
``serve`` run) migrates as the owner and creates the service's role with only its
part. The service then works as before, and its credentials can neither change the
log nor lift the append-only triggers. Without it, a warning says what is at stake.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from api.app import create_app
from api.bootstrap import prepare
from api.settings import Settings
from tests.conftest import PG_ADMIN_URL, assert_ledger_sound
from tests.factories import make_world, register


@pytest.fixture
def service_role(database_url: str) -> Iterator[str]:
    """A role name nobody has; dropped (with its grants) after the test."""
    role = f"retrace_svc_{uuid.uuid4().hex[:10]}"
    yield role
    with psycopg.connect(_as(database_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        if exists:
            conn.execute(f'DROP OWNED BY "{role}"')
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def _as(url: str, user: str) -> str:
    return make_url(url).set(username=user, drivername="postgresql").render_as_string(False)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_service_role_works_and_cannot_change_the_log(
    settings: Settings, database_url: str, service_role: str
) -> None:
    configured = settings.model_copy(
        update={
            "owner_database_url": SecretStr(database_url),
            "database_url": SecretStr(_as(database_url, service_role)),
        }
    )
    with capture_logs() as events:
        prepare(configured)
        prepare(configured)  # again: nothing new, no error
    assert [e["event"] for e in events].count("database.service_role_created") == 1
    assert "database.single_role" not in [e["event"] for e in events]

    app = create_app(configured)
    with TestClient(app) as c:
        _, orgs = make_world(c)
        register(c, orgs["oem"])
        assert c.get("/v1/log/verify", headers=orgs["regulator"].headers).json()["ok"] is True
    assert_ledger_sound(app.state.ledger)

    service = sa.create_engine(
        _as(database_url, service_role).replace("postgresql", "postgresql+psycopg", 1)
    )
    refused = [
        "ALTER TABLE entries DISABLE TRIGGER USER",
        "UPDATE entries SET type = 'x'",
        "DELETE FROM tree_nodes",
        "TRUNCATE tree_tiles",
        "DELETE FROM checkpoints",
        "UPDATE alembic_version SET version_num = '0001'",
        "CREATE TABLE mine (x int)",
        "DROP TABLE items",
    ]
    try:
        for statement in refused:
            with (
                pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner"),
                service.begin() as conn,
            ):
                conn.execute(sa.text(statement))
        with service.begin() as conn:  # what it needs, it has
            assert conn.execute(sa.text("SELECT count(*) FROM entries")).scalar_one() > 0
    finally:
        service.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_one_role_for_everything_is_allowed_with_a_warning(settings: Settings) -> None:
    with capture_logs() as events:
        prepare(settings)
    warned = [e for e in events if e["event"] == "database.single_role"]
    assert len(warned) == 1
    assert warned[0]["log_level"] == "warning"
    assert "RETRACE_OWNER_DATABASE_URL" in warned[0]["detail"]


def test_sqlite_gives_no_warning(tmp_path: pytest.TempPathFactory, settings: Settings) -> None:
    sqlite = settings.model_copy(update={"database_url": SecretStr(f"sqlite:///{tmp_path}/x.db")})
    with capture_logs() as events:
        prepare(sqlite)
    assert "database.single_role" not in [e["event"] for e in events]
