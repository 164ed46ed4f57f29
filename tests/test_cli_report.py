"""``retrace report NAME`` over a database the API wrote, on both databases.

The command prints what the API answers a regulator (``--json``, ``--csv``) or, with
``--org``, that org; on a terminal, a table of the same cells.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.bootstrap import prepare
from api.cli import app
from api.settings import Settings, get_settings
from tests.factories import ADMIN_KEY, Org, create_org, event, register, registration

runner = CliRunner()


@pytest.fixture
def written(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, Org]]]:
    """A ledger with a few lives in it, its API, and the command's environment."""
    key_file = tmp_path / "log.key"
    settings = Settings(
        environment="test",
        database_url=database_url,
        log_key_file=key_file,
        bootstrap_admin_key=ADMIN_KEY,
        _env_file=None,
    )
    prepare(settings)
    for name in [n for n in os.environ if n.startswith("RETRACE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RETRACE_DATABASE_URL", database_url)
    monkeypatch.setenv("RETRACE_LOG_KEY_FILE", str(key_file))
    get_settings.cache_clear()
    with TestClient(create_app(settings)) as client:
        orgs = {
            "oem": create_org(client, "Cell maker", "oem", "CN-GD"),
            "other": create_org(client, "Panel maker", "oem", "DE"),
            "recycler": create_org(client, "Recycler", "recycler", "CN-JS"),
            "regulator": create_org(client, "Regulator", "regulator", "CN"),
        }
        for kind in ("battery_pack", "pv_module"):
            item = register(client, orgs["oem"], registration(kind))["id"]
            event(client, orgs["oem"], item, "retired", {"reason": "worn", "date": "2025-01-24"})
            event(client, orgs["oem"], item, "transferred", {"to_org": orgs["recycler"].id})
        register(client, orgs["other"], registration("wind_blade"))
        yield client, orgs
    get_settings.cache_clear()


def _cli(*args: str) -> str:
    done = runner.invoke(app, list(args), terminal_width=400)
    assert done.exit_code == 0, done.output
    return done.stdout


def _api(client: TestClient, name: str, org: Org, csv: bool = False) -> Any:
    headers = {**org.headers, **({"Accept": "text/csv"} if csv else {})}
    answer = client.get(f"/v1/reports/{name}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.text if csv else answer.json()


@pytest.mark.parametrize("name", ["inventory", "deadlines", "flows", "anomalies"])
def test_report_prints_what_the_api_answers(
    written: tuple[TestClient, dict[str, Org]], name: str
) -> None:
    client, orgs = written
    everything = json.loads(_cli("report", name, "--json"))
    served = _api(client, name, orgs["regulator"])
    assert everything["report"] == name
    assert everything["rows"] == served["rows"]
    assert everything["rows"], "the lives written give every one of these reports a row"
    assert _cli("report", name, "--csv").replace("\r\n", "\n") == _api(
        client, name, orgs["regulator"], csv=True
    ).replace("\r\n", "\n")
    mine = json.loads(_cli("report", name, "--json", "--org", "Panel maker"))
    assert mine["rows"] == _api(client, name, orgs["other"])["rows"]
    assert mine["rows"] != everything["rows"]


def test_report_on_a_terminal_is_a_table(written: tuple[TestClient, dict[str, Org]]) -> None:
    client, orgs = written
    shown = _cli("report", "inventory", "--table", "monthly")
    for row in _api(client, "inventory", orgs["regulator"])["monthly"]:
        assert row["month"] in shown
    assert "registered" in shown


def test_report_rebuild_folds_the_whole_log_again_to_the_same_figures(
    written: tuple[TestClient, dict[str, Org]],
) -> None:
    client, orgs = written
    served = _api(client, "inventory", orgs["regulator"])
    rebuilt = json.loads(_cli("report", "inventory", "--json", "--rebuild"))
    assert rebuilt["rows"] == served["rows"]
    assert rebuilt["monthly"] == served["monthly"]
    assert rebuilt["size"] == served["size"] > 0


@pytest.mark.usefixtures("written")
def test_report_refuses_an_unknown_name_or_org() -> None:
    done = runner.invoke(app, ["report", "nonsense"])
    assert done.exit_code != 0
    done = runner.invoke(app, ["report", "inventory", "--org", "Nobody"])
    assert done.exit_code == 2
    assert "no org 'Nobody'" in done.stderr
