"""The ``retrace`` command as an operator runs it: a subprocess with RETRACE_* set.

``init`` on a fresh SQLite file, org creation, and the two integrity checks:
``verify`` (the chain) and ``projection`` (the items table against a rebuild
from the log), both of which must fail loudly after tampering. Where there is no
ledger, every command but ``init`` and ``serve`` creates nothing and says so; an
export that fails leaves nothing behind; ``keys`` issues, lists and revokes API
keys, never the last active admin key.
"""

from __future__ import annotations

import os
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
from typer.testing import CliRunner

from api.app import create_app
from api.bootstrap import prepare
from api.cli import app
from api.settings import Settings, get_settings
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


# -- no ledger here: read-only commands create nothing -----------------------------

runner = CliRunner()


@pytest.fixture
def no_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty folder as the working directory, with no RETRACE_* set (the defaults)."""
    folder = tmp_path / "empty"
    folder.mkdir()
    for name in [n for n in os.environ if n.startswith("RETRACE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(folder)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def test_verify_without_a_ledger_creates_nothing_and_says_what_to_do(tmp_path: Path) -> None:
    env = retrace_env("unused", tmp_path / "unused")
    for name in ("RETRACE_DATABASE_URL", "RETRACE_LOG_KEY_FILE"):
        del env[name]
    done = run_cli(["verify"], env, tmp_path)
    assert done.returncode == 2, done
    assert "no ledger here: run `retrace init` or set RETRACE_DATABASE_URL" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["verify"],
        ["projection"],
        ["projection", "--rebuild"],
        ["orgs", "list"],
        ["orgs", "create", "Acme", "--role", "oem"],
        ["keys", "list"],
        ["keys", "issue", "Acme"],
        ["keys", "revoke", "key_X"],
        ["labels", "out.pdf", "--item", "itm_X"],
        ["export", "bundle"],
    ],
    ids=" ".join,
)
def test_commands_on_no_ledger_create_nothing(no_ledger: Path, args: list[str]) -> None:
    done = runner.invoke(app, args)
    assert done.exit_code == 2, done.output
    assert "no ledger here: run `retrace init` or set RETRACE_DATABASE_URL" in done.stderr
    assert list(no_ledger.iterdir()) == []


def test_a_database_without_the_schema_is_no_ledger(
    no_ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = no_ledger / "other.db"
    sqlite3.connect(empty).close()
    monkeypatch.setenv("RETRACE_DATABASE_URL", f"sqlite:///{empty}")
    get_settings.cache_clear()
    done = runner.invoke(app, ["verify"])
    assert done.exit_code == 2, done.output
    assert "no ledger here" in done.stderr
    assert "no Retrace schema" in done.stderr


# -- export: whole or nothing --------------------------------------------------------


def move_entry(database_url: str, seq: int, to: int) -> None:
    """Renumber one entry past the triggers: the log then has a hole (or not again)."""
    with raw_sql(database_url) as conn:
        if database_url.startswith("sqlite"):
            conn.execute("DROP TRIGGER IF EXISTS entries_no_update")
            conn.execute("UPDATE entries SET seq = ? WHERE seq = ?", (to, seq))
        else:
            conn.execute("DROP TRIGGER IF EXISTS entries_append_only ON entries")
            conn.execute("UPDATE entries SET seq = %s WHERE seq = %s", (to, seq))


def test_a_failed_export_leaves_nothing_and_the_retry_succeeds(
    ledger_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, database_url = ledger_env
    target = tmp_path / "exports" / "bundle"
    # A hole in the log: the export writes every entry it finds, then sees one missing.
    move_entry(database_url, 3, 1000)
    done = run_cli(["export", str(target), "--no-publish"], env, tmp_path)
    assert done.returncode == 2, done
    assert "expected 1001 entries, got 7" in done.stdout
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no partial folder beside it either

    move_entry(database_url, 1000, 3)
    out = cli(env, tmp_path, "export", str(target))
    assert "exported 7 entries" in out
    assert sorted(p.name for p in target.iterdir()) == [
        "checkpoints",
        "entries.jsonl",
        "log.vkey",
        "manifest.json",
        "witnesses.txt",
    ]
    assert list(target.parent.iterdir()) == [target]
    assert cli(env, tmp_path, "audit", str(target)).startswith("ok")


def test_export_shows_its_total(ledger_env: tuple[dict[str, str], str], tmp_path: Path) -> None:
    env, _ = ledger_env
    done = run_cli(["export", str(tmp_path / "bundle")], env, tmp_path)
    assert done.returncode == 0, done
    assert re.search(r"exporting entries.* 7/7\b", done.stderr), done.stderr
    assert "/?" not in done.stderr


# -- keys: issue, list, revoke -------------------------------------------------------


def key_rows(env: dict[str, str], cwd: Path) -> dict[str, tuple[str, str, str]]:
    """``retrace keys list`` by key id: (org id, role, active or revoked)."""
    rows = [line.split() for line in cli(env, cwd, "keys", "list").splitlines()]
    # id, org id, role, "issued", time, "active" | "revoked" time, org name
    return {row[0]: (row[1], row[2], row[5]) for row in rows}


def log_types(database_url: str) -> list[str]:
    with raw_sql(database_url) as conn:
        return [row[0] for row in conn.execute("SELECT type FROM entries ORDER BY seq")]


def test_keys_issue_list_and_revoke_are_logged_and_work_at_once(
    ledger_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, database_url = ledger_env
    key_file = Path(env["RETRACE_LOG_KEY_FILE"])
    before = key_rows(env, tmp_path)
    assert [row[1] for row in before.values()] == ["admin", "oem"]

    by_name = api_key_in(cli(env, tmp_path, "keys", "issue", "Cell maker"))
    oem_id = next(row[0] for row in before.values() if row[1] == "oem")
    by_id = api_key_in(cli(env, tmp_path, "keys", "issue", oem_id))
    assert log_types(database_url)[-2:] == ["key_issued", "key_issued"]

    listed = cli(env, tmp_path, "keys", "list")
    for secret in (by_name, by_id, ADMIN_KEY):
        assert secret not in listed
    rows = key_rows(env, tmp_path)
    new_ids = [key_id for key_id in rows if key_id not in before]
    assert len(new_ids) == 2
    assert all(rows[k] == (oem_id, "oem", "active") for k in new_ids)

    with api(database_url, key_file) as client:
        for secret in (by_name, by_id):
            assert client.get("/v1/orgs/me", headers=bearer(secret)).json()["id"] == oem_id

    # By the key itself, then by its id: each a log entry, refused at once.
    cli(env, tmp_path, "keys", "revoke", by_name)
    cli(env, tmp_path, "keys", "revoke", new_ids[1])
    assert log_types(database_url)[-2:] == ["key_revoked", "key_revoked"]
    rows = key_rows(env, tmp_path)
    assert [rows[k][2] for k in new_ids] == ["revoked", "revoked"]
    with api(database_url, key_file) as client:
        for secret in (by_name, by_id):
            assert client.get("/v1/orgs/me", headers=bearer(secret)).status_code == 401

    again = run_cli(["keys", "revoke", new_ids[0]], env, tmp_path)
    assert again.returncode == 2
    assert "revoked already" in again.stderr
    unknown = run_cli(["keys", "revoke", "rtr_not_a_key_of_ours"], env, tmp_path)
    assert unknown.returncode == 2
    assert "rtr_not_a_key_of_ours" not in unknown.stderr + unknown.stdout


def test_the_last_active_admin_key_is_never_revoked(
    ledger_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, database_url = ledger_env
    key_file = Path(env["RETRACE_LOG_KEY_FILE"])
    admin_key_id = next(k for k, row in key_rows(env, tmp_path).items() if row[1] == "admin")
    size = len(log_types(database_url))

    done = run_cli(["keys", "revoke", ADMIN_KEY], env, tmp_path)
    assert done.returncode == 2, done
    assert f"API key {admin_key_id} is the last active admin key" in done.stderr
    assert len(log_types(database_url)) == size  # nothing written

    second = api_key_in(cli(env, tmp_path, "keys", "issue", "Retrace admin"))
    cli(env, tmp_path, "keys", "revoke", admin_key_id)
    with api(database_url, key_file) as client:
        assert client.get("/v1/orgs/me", headers=bearer(ADMIN_KEY)).status_code == 401
        assert client.get("/v1/orgs/me", headers=bearer(second)).json()["role"] == "admin"
        # The API refuses the same: the rule is the ledger's.
        rows = key_rows(env, tmp_path)
        new_id = next(k for k, row in rows.items() if row[1:] == ("admin", "active"))
        refused = client.post(f"/v1/keys/{new_id}/revoke", headers=bearer(second))
        assert refused.status_code == 409, refused.text
        assert "last active admin key" in refused.json()["detail"]
