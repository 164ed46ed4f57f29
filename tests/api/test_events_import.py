"""``retrace events import FILE``: to a running server with an API key, or to the local
database as an org, as an operator runs it (a subprocess with RETRACE_* set).

Refused lines are named by their line in the file, the progress bar shows its total,
and a second run against the server records nothing twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import prepare
from api.settings import Settings
from tests.factories import ADMIN_KEY, Org, registration
from tests.processes.server import Servers, retrace_env, run_cli


def _lines(items: list[str], recycler: str) -> str:
    """Retire every item, hand the first over, and four lines that are refused."""
    rows = [json.dumps({"item": i, "type": "retired", "data": {"reason": "worn"}}) for i in items]
    rows += [
        json.dumps({"item": items[0], "type": "transferred", "data": {"to_org": recycler}}),
        "",  # blank: skipped, still counted
        json.dumps({"item": items[1], "type": "retired", "data": {"reason": "again"}}),
        '{"item": "itm_x", ',
        json.dumps({"item": "itm_01JD8Z3K5V7W9XQRSTABCDEFGH", "type": "disposed", "data": {}}),
        json.dumps({"item": items[2], "type": "repaired", "data": {}}),
    ]
    return "\n".join(rows) + "\n"


def _org(api: Any, name: str, role: str) -> Org:
    """An org made through the API (``api``: an httpx or a test client)."""
    answer = api.post(
        "/v1/orgs",
        json={"name": name, "role": role, "region": "CN-GD"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return Org(body["org"]["id"], body["api_key"], role, name)


def _register(api: Any, oem: Org, count: int) -> list[str]:
    answer = api.post(
        "/v1/items/bulk",
        json=[registration("pv_module") for _ in range(count)],
        headers=oem.headers,
    )
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["results"]]


def _check_run(done: Any, count: int) -> None:
    assert done.returncode == 1, done.stderr
    refused = done.stdout.splitlines()
    n = count
    assert [line.split(":")[0] for line in refused] == [
        f"line {n + 3}",
        f"line {n + 4}",
        f"line {n + 5}",
        f"line {n + 6}",
    ]
    assert "illegal-transition" in refused[0]
    assert "is not JSON" in refused[1]
    assert "/item" in refused[2]
    assert "not-found" in refused[2]
    assert "/type" in refused[3]
    total = count + 5
    assert f"{total}/{total}" in done.stderr  # the bar, with its total
    assert f"{count + 1} recorded, 4 refused, of {total} lines" in done.stderr


def test_import_to_a_server_with_an_api_key(tmp_path: Path) -> None:
    env = retrace_env(f"sqlite:///{tmp_path / 'retrace.db'}", tmp_path / "log.key", ADMIN_KEY)
    with Servers(tmp_path) as servers, httpx.Client(timeout=30.0) as api:
        server = servers.start(env)
        api.base_url = httpx.URL(server.url)
        oem = _org(api, "Pearl River Cells", "oem")
        recycler = _org(api, "Foshan Recycling", "recycler")
        regulator = _org(api, "Battery Authority", "regulator")
        items = _register(api, oem, 30)
        file = tmp_path / "events.jsonl"
        file.write_text(_lines(items, recycler.id))
        run = ["events", "import", str(file), "--url", server.url, "--batch", "7"]
        client_env = {**env, "RETRACE_API_KEY": oem.key}
        done = run_cli(run, client_env, tmp_path)
        _check_run(done, 30)
        size = api.get("/v1/log/entries", params={"limit": 1}, headers=regulator.headers)
        # The same file again: every batch is a replay; nothing new in the log.
        again = run_cli(run, client_env, tmp_path)
        _check_run(again, 30)
        after = api.get("/v1/log/entries", params={"limit": 1}, headers=regulator.headers)
        assert after.json()["size"] == size.json()["size"]
        first = api.get(f"/v1/items/{items[0]}", headers=oem.headers).json()
        assert (first["state"], first["holder"]) == ("retired", recycler.id)
        # A key that the server refuses stops the import with its reason.
        bad = run_cli(run, {**env, "RETRACE_API_KEY": "rtr_not_a_key"}, tmp_path)
        assert bad.returncode == 2
        assert "(401)" in bad.stderr


def test_import_to_the_local_database_as_an_org(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'retrace.db'}"
    env = retrace_env(database_url, tmp_path / "log.key", ADMIN_KEY)
    settings = Settings(
        environment="test",
        database_url=database_url,
        log_key_file=tmp_path / "log.key",
        bootstrap_admin_key=ADMIN_KEY,
        _env_file=None,
    )
    prepare(settings)
    with TestClient(create_app(settings)) as api:
        oem = _org(api, "Pearl River Cells", "oem")
        recycler = _org(api, "Foshan Recycling", "recycler")
        items = _register(api, oem, 5)
        file = tmp_path / "events.jsonl"
        file.write_text(_lines(items, recycler.id))
        done = run_cli(["events", "import", str(file), "--as", "Pearl River Cells"], env, tmp_path)
        _check_run(done, 5)
        states = [api.get(f"/v1/items/{i}", headers=oem.headers).json()["state"] for i in items]
        assert states == ["retired"] * 5
        # A JSON array works too; --json prints every line's result.
        array = tmp_path / "events.json"
        data = {"to_org": recycler.id}
        array.write_text(
            json.dumps([{"item": i, "type": "transferred", "data": data} for i in items[1:3]])
        )
        shown = run_cli(["events", "import", str(array), "--as", oem.id, "--json"], env, tmp_path)
        assert shown.returncode == 0, shown.stderr
        results = [json.loads(line) for line in shown.stdout.splitlines()]
        assert [(r["line"], r["ok"], r["item"]) for r in results] == [
            (1, True, items[1]),
            (2, True, items[2]),
        ]
        held = api.get(f"/v1/items/{items[2]}", headers=oem.headers).json()["holder"]
        assert held == recycler.id
    nobody = run_cli(["events", "import", str(file), "--as", "Nobody"], env, tmp_path)
    assert nobody.returncode == 2
    assert "no org 'Nobody'" in nobody.stderr
    neither = run_cli(["events", "import", str(file)], env, tmp_path)
    assert neither.returncode == 2
    assert "--url" in neither.stderr
