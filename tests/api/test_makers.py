"""Manufacturer codes through the HTTP API, on both databases.

An admin binds a GB/T 34014 manufacturer code to an OEM org; each binding is a
log entry, listed by ``GET /v1/makers``, rebuilt from the log by a projection
rebuild and accepted by ``retrace audit``. A battery code carrying a code bound
to another org is refused; an unbound code is accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.settings import Settings, get_settings
from ledger.projection import projection_differences, rebuild_projection
from ledger.store.sql import SqlStore
from tests.conftest import World
from tests.factories import Org, battery_code, register, registration

PROBLEM = "application/problem+json"


def _bind(world: World, code: str, org: str, by: Org | None = None) -> Any:
    return world.client.post(
        "/v1/makers", json={"code": code, "org": org}, headers=(by or world.admin).headers
    )


def _makers(world: World, by: Org) -> list[dict[str, Any]]:
    answer = world.client.get("/v1/makers", headers=by.headers)
    assert answer.status_code == 200, answer.text
    makers: list[dict[str, Any]] = answer.json()["makers"]
    return makers


def _refused(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body


def test_a_binding_is_a_log_entry_and_is_listed(world: World) -> None:
    answer = _bind(world, "CAT", world.oem.id)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["code"], body["org"]) == ("CAT", world.oem.id)
    entry = body["entry"]
    assert (entry["type"], entry["item"], entry["actor"]) == (
        "maker_bound",
        None,
        world.admin.id,
    )
    assert entry["data"] == {"code": "CAT", "org": world.oem.id}
    served = world.client.get(
        "/v1/log/entries",
        params={"start": entry["seq"], "limit": 1},
        headers=world.regulator.headers,
    ).json()["entries"]
    assert served == [entry]
    assert _bind(world, "0A9", world.oem2.id).status_code == 201
    expected = [
        {"code": "0A9", "org": world.oem2.id, "seq": entry["seq"] + 1},
        {"code": "CAT", "org": world.oem.id, "seq": entry["seq"]},
    ]
    for reader in (world.regulator, world.oem2, world.recycler):
        assert _makers(world, reader) == expected


def test_only_an_admin_binds_and_only_to_an_oem(world: World) -> None:
    for org in (world.oem, world.regulator, world.recycler):
        _refused(_bind(world, "CAT", world.oem.id, by=org), 403, "forbidden")
    body = _refused(_bind(world, "CAT", world.recycler.id), 422, "invalid-value")
    assert body["pointer"] == "/org"
    _refused(_bind(world, "CAT", "org_nobody"), 404, "not-found")
    for bad in ("CA", "CATL", "cat", "C-T"):
        body = _refused(_bind(world, bad, world.oem.id), 422, "invalid-request")
        assert "/code" in body["detail"], body
    assert _bind(world, "CAT", world.oem.id).status_code == 201
    for org in (world.oem, world.oem2):
        body = _refused(_bind(world, "CAT", org.id), 409, "duplicate")
        assert body["bound_to"] == world.oem.id
    assert len(_makers(world, world.admin)) == 1


def test_a_code_bound_to_another_org_is_refused(world: World) -> None:
    c = world.client
    assert _bind(world, "NHY", world.oem.id).status_code == 201
    theirs = registration(code=battery_code(manufacturer="NHY"))
    body = _refused(
        c.post("/v1/items", json=theirs, headers=world.oem2.headers), 409, "maker-code-bound"
    )
    assert (body["rule"], body["maker_code"], body["bound_to"], body["pointer"]) == (
        "maker-code-bound",
        "NHY",
        world.oem.id,
        "/code",
    )
    # In bulk too, line by line.
    lines = [registration(code=battery_code(manufacturer="NHY")), registration()]
    bulk = c.post("/v1/items/bulk", json=lines, headers=world.oem2.headers).json()
    assert (bulk["accepted"], bulk["refused"]) == (1, 1)
    assert bulk["results"][0]["error"]["code"] == "maker-code-bound"
    # Its own org registers it; a code bound to nobody is accepted from anyone.
    register(c, world.oem, theirs)
    register(c, world.oem2, registration(code=battery_code(manufacturer="BYD")))


def test_bindings_are_rebuilt_from_the_log(world: World) -> None:
    for code, org in (("CAT", world.oem), ("NHY", world.oem2)):
        assert _bind(world, code, org.id).status_code == 201
    store = world.app.state.ledger.store
    assert isinstance(store, SqlStore)
    assert projection_differences(store) == []
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM maker_codes WHERE code = 'NHY'"))
    assert projection_differences(store) == ["manufacturer codes: 1 bound, 2 in the log"]
    before = _makers(world, world.admin)
    assert [m["code"] for m in before] == ["CAT"]
    rebuild_projection(store)
    assert projection_differences(store) == []
    assert [(m["code"], m["org"]) for m in _makers(world, world.admin)] == [
        ("CAT", world.oem.id),
        ("NHY", world.oem2.id),
    ]


@pytest.fixture
def local_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """RETRACE_* pointing the CLI at the test's database and log key."""
    monkeypatch.setenv("RETRACE_ENVIRONMENT", "test")
    monkeypatch.setenv("RETRACE_DATABASE_URL", settings.database())
    monkeypatch.setenv("RETRACE_LOG_KEY_FILE", str(settings.log_key_file))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_retrace_audit_passes_a_log_with_bindings(
    world: World,
    local_env: None,  # noqa: ARG001 - the settings export reads
    tmp_path: Path,
) -> None:
    assert _bind(world, "CAT", world.oem.id).status_code == 201
    register(world.client, world.oem, registration(code=battery_code(manufacturer="CAT")))
    runner = CliRunner()
    target = tmp_path / "bundle"
    done = runner.invoke(cli_app, ["export", str(target)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    lines = (target / "entries.jsonl").read_bytes().split(b"\n")[:-1]
    assert any(b'"type":"maker_bound"' in line for line in lines)
    done = runner.invoke(cli_app, ["audit", str(target)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith(f"ok: {len(lines)} entries"), done.stdout
