"""The ``retrace`` command as an operator runs it: a subprocess with RETRACE_* set.

``init`` on a fresh SQLite file, org creation, and the two integrity checks:
``verify`` (the chain) and ``projection`` (the items table against a rebuild
from the log), both of which must fail loudly after tampering.
"""

from __future__ import annotations

import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import prepare
from api.settings import Settings
from ledger.store.engine import normalize_url
from tests.factories import ADMIN_KEY, create_org, register, registration
from tests.processes.server import retrace_env, run_cli

KEY_RE = re.compile(r"\brtr_[A-Za-z0-9_-]{20,}")


def cli(env: dict[str, str], cwd: Path, *args: str, expect: int = 0) -> str:
    """Run ``retrace <args>``, check its exit code, return its stdout."""
    done = run_cli(list(args), env, cwd)
    assert done.returncode == expect, (
        f"retrace {' '.join(args)} exited {done.returncode}, expected {expect}\n"
        f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    )
    return done.stdout


def api_key_in(stdout: str) -> str:
    keys = KEY_RE.findall(stdout)
    assert len(keys) == 1, stdout
    return str(keys[0])


@contextmanager
def api(database_url: str, key_file: Path) -> Iterator[TestClient]:
    """The API over the same database the CLI works on (no bootstrap key)."""
    settings = Settings(
        environment="test",
        database_url=database_url,
        log_key_file=key_file,
        _env_file=None,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def raw_sql(database_url: str) -> Iterator[Any]:
    """A DB-API connection straight to the database, past the service (autocommit)."""
    if database_url.startswith("sqlite"):
        lite = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            yield lite
        finally:
            lite.close()
        return
    url = normalize_url(database_url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


# -- init and orgs -------------------------------------------------------------


def test_init_prints_a_working_admin_key_once_and_makes_a_private_log_key(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'data' / 'retrace.db'}"
    key_file = tmp_path / "keys" / "log.key"
    env = retrace_env(database_url, key_file)

    first = cli(env, tmp_path, "init")
    admin_key = api_key_in(first)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    second = cli(env, tmp_path, "init")
    assert not KEY_RE.search(second), second
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    with api(database_url, key_file) as client:
        me = client.get("/v1/orgs/me", headers=bearer(admin_key))
        assert me.status_code == 200, me.text
        assert me.json()["role"] == "admin"
        created = client.post(
            "/v1/orgs",
            headers=bearer(admin_key),
            json={"name": "Shenzhen Green Recycling", "role": "recycler", "region": "CN-GD"},
        )
        assert created.status_code == 201, created.text
        assert client.get("/v1/orgs/me", headers=bearer("rtr_not_a_key")).status_code == 401
    listed = cli(env, tmp_path, "orgs", "list")
    assert [line.split()[1] for line in listed.splitlines()] == ["admin", "recycler"]


def test_orgs_create_prints_a_key_for_the_new_org(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'retrace.db'}"
    key_file = tmp_path / "log.key"
    env = retrace_env(database_url, key_file)
    cli(env, tmp_path, "init")

    oem_key = api_key_in(
        cli(env, tmp_path, "orgs", "create", "Acme Cells", "--role", "oem", "--region", "DE")
    )
    with api(database_url, key_file) as client:
        me = client.get("/v1/orgs/me", headers=bearer(oem_key)).json()
        assert (me["name"], me["role"], me["region"]) == ("Acme Cells", "oem", "DE")
        item = client.post("/v1/items", json=registration("pv_module"), headers=bearer(oem_key))
        assert item.status_code == 201, item.text
    # A second org of the same name is refused with the ledger's message, exit code 2.
    done = run_cli(["orgs", "create", "Acme Cells", "--role", "oem"], env, tmp_path)
    assert done.returncode == 2, done
    assert "exists already" in done.stderr
    assert not KEY_RE.search(done.stdout)


# -- verify and projection on both databases -----------------------------------


@pytest.fixture
def ledger_env(database_url: str, tmp_path: Path) -> tuple[dict[str, str], str]:
    """A migrated database with an admin, an OEM and three items, made in-process."""
    key_file = tmp_path / "log.key"
    settings = Settings(
        environment="test",
        database_url=database_url,
        log_key_file=key_file,
        bootstrap_admin_key=ADMIN_KEY,
        _env_file=None,
    )
    prepare(settings)
    with TestClient(create_app(settings)) as client:
        oem = create_org(client, "Cell maker", "oem")
        for kind in ("battery_pack", "pv_module", "wind_blade"):
            register(client, oem, registration(kind))
    return retrace_env(database_url, key_file), database_url


def test_verify_passes_then_names_the_tampered_seq(
    ledger_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, database_url = ledger_env
    out = cli(env, tmp_path, "verify")
    assert out.startswith("ok: 7 entries"), out
    # The head is printed whole on the line (64 hex digits), ready for scripts.
    assert re.search(r"head [0-9a-f]{64}$", out.splitlines()[0]), out

    tampered = 4
    with raw_sql(database_url) as conn:
        if database_url.startswith("sqlite"):
            conn.execute("DROP TRIGGER entries_no_update")
            body = conn.execute("SELECT body FROM entries WHERE seq = ?", (tampered,)).fetchone()[0]
            conn.execute(
                "UPDATE entries SET body = ? WHERE seq = ?",
                (bytes(body).replace(b'"412.5"', b'"312.5"'), tampered),
            )
        else:
            conn.execute("DROP TRIGGER entries_append_only ON entries")
            conn.execute(
                "UPDATE entries SET body = convert_to(replace(convert_from(body, "
                "'UTF8'), '412.5', '312.5'), 'UTF8') WHERE seq = %s",
                (tampered,),
            )

    done = run_cli(["verify"], env, tmp_path)
    assert done.returncode == 1, done
    assert f"BROKEN at seq {tampered}:" in done.stdout, done.stdout


def test_projection_detects_a_corrupted_items_table_and_rebuild_repairs_it(
    ledger_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, database_url = ledger_env
    assert cli(env, tmp_path, "projection").startswith("ok")

    with raw_sql(database_url) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM items ORDER BY id").fetchall()]
        assert len(ids) == 3
        conn.execute(f"UPDATE items SET state = 'recycled' WHERE id = '{ids[0]}'")  # noqa: S608
        conn.execute(f"DELETE FROM items WHERE id = '{ids[1]}'")  # noqa: S608

    out = cli(env, tmp_path, "projection", expect=1)
    assert f"{ids[0]}: differs in state" in out
    assert f"{ids[1]}: in the log but not in the items table" in out
    assert ids[2] not in out

    rebuilt = cli(env, tmp_path, "projection", "--rebuild")
    assert "rebuilt: 3 items" in rebuilt
    assert cli(env, tmp_path, "projection").startswith("ok")
