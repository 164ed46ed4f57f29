"""No secret reaches a log line: API keys, cookies, sessions, kept answers.

First the log configuration itself (``api.logs``): JSON lines off a terminal,
readable lines on one, every stdlib logger (uvicorn's too) through the same
processors, and the redaction of secret fields and of anything shaped like a
Retrace key or session in any string. Then a real ``retrace serve`` with debug
logging and two workers: keys issued, refused and used, a passport session,
idempotent retries whose answers hold a new key, and a 500; every secret is
looked for in every line the server wrote.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from api import logs
from api.sessions import SESSION_COOKIE
from tests.factories import ADMIN_KEY, battery_code
from tests.processes.server import Servers, retrace_env

KEY = "rtr_" + "Q" * 43
SESSION = "rts_" + "s" * 43
PLAIN = "plain-secret-of-no-known-shape"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    uvicorn = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in logs.STDLIB_LOGGERS
    }
    config = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, (kept, propagate) in uvicorn.items():
            logging.getLogger(name).handlers[:] = kept
            logging.getLogger(name).propagate = propagate
        structlog.configure(**config)


def _emit_secrets() -> None:
    log = structlog.get_logger("retrace.test")
    log.debug("probe.fields", api_key=KEY, authorization=f"Bearer {KEY}", cookie=SESSION)
    log.info(
        "probe.nested",
        headers={"X-API-Key": KEY, "Set-Cookie": f"{SESSION_COOKIE}={SESSION}; HttpOnly"},
        answer={"org": "org_1", "api_key": KEY},
        idempotent_answer=b"sealed",
        note=f"a key {KEY} and a session {SESSION} inside text",
        sent=f"Authorization: Bearer {PLAIN}",
    )
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/p/itm_1?key={KEY}", "1.1", 200
    )
    logging.getLogger("uvicorn.access").info("GET /v1/orgs/me?x=1&api_key=%s", PLAIN)
    try:
        raise ValueError(f"refused {KEY}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_off_a_terminal_with_secrets_masked() -> None:
    out = io.StringIO()
    logs.configure("debug", stream=out)
    _emit_secrets()
    lines = out.getvalue().splitlines()
    for secret in (KEY, SESSION, PLAIN):
        assert secret not in out.getvalue()
    records = [json.loads(line) for line in lines]  # one JSON object per line
    events = {r["event"].split(" ")[0]: r for r in records}
    assert events["probe.fields"]["level"] == "debug"
    assert events["probe.fields"]["api_key"] == logs.MASK
    assert events["probe.nested"]["headers"]["X-API-Key"] == logs.MASK
    assert events["probe.nested"]["answer"] == logs.MASK
    assert "a key [redacted] and a session [redacted] inside text" in events["probe.nested"]["note"]
    assert events["probe.nested"]["sent"] == "Authorization: Bearer [redacted]"
    access = [r["event"] for r in records if r["logger"] == "uvicorn.access"]
    assert access == [
        '127.0.0.1:5 - "GET /p/itm_1?key=[redacted] HTTP/1.1" 200',
        "GET /v1/orgs/me?x=1&api_key=[redacted]",
    ]
    crash = next(r for r in records if r["logger"] == "uvicorn.error")
    assert "ValueError: refused [redacted]" in crash["exception"]
    assert all("timestamp" in r for r in records)


@pytest.mark.usefixtures("restore_logging")
def test_readable_lines_on_a_terminal_with_secrets_masked() -> None:
    out = _Terminal()
    logs.configure("debug", stream=out)
    _emit_secrets()
    text = out.getvalue()
    for secret in (KEY, SESSION, PLAIN):
        assert secret not in text
    assert "probe.fields" in text
    assert not text.lstrip().startswith("{")
    assert "locals" not in text  # a plain traceback, never one with local variables


@pytest.mark.usefixtures("restore_logging")
def test_literal_secrets_of_any_shape_are_masked() -> None:
    out = io.StringIO()
    operator_key = "correct horse battery staple admin"
    logs.configure("info", stream=out, secrets=[operator_key])
    structlog.get_logger("retrace.test").info("probe", detail=f"bootstrapped {operator_key}")
    assert operator_key not in out.getvalue()
    assert json.loads(out.getvalue())["detail"] == "bootstrapped [redacted]"


@pytest.mark.usefixtures("restore_logging")
def test_the_level_filters_every_logger() -> None:
    out = io.StringIO()
    logs.configure("warning", stream=out)
    structlog.get_logger("retrace.test").info("quiet")
    logging.getLogger("uvicorn.error").info("quiet too")
    structlog.get_logger("retrace.test").warning("loud")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["loud"]


# -- a real server ------------------------------------------------------------------


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _org(api: httpx.Client, name: str, role: str, idempotency: str) -> dict[str, Any]:
    body = {"name": name, "role": role, "region": "CN-GD"}
    headers = {**_bearer(ADMIN_KEY), "Idempotency-Key": idempotency}
    first = api.post("/v1/orgs", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = api.post("/v1/orgs", json=body, headers=headers)  # a retry: the answer again
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["api_key"] == first.json()["api_key"]
    created: dict[str, Any] = first.json()
    return created


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])  # one: with an access log; two: spawned workers
def test_a_server_at_debug_level_logs_no_secret(tmp_path: Path, workers: int) -> None:
    database = tmp_path / "retrace.db"
    env = retrace_env(
        f"sqlite:///{database}",
        tmp_path / "log.key",
        ADMIN_KEY,
        RETRACE_LOG_LEVEL="debug",
        RETRACE_CHECKPOINT_INTERVAL="0.5",
    )
    secrets: set[str] = {ADMIN_KEY}
    with Servers(tmp_path) as servers, httpx.Client(timeout=30.0) as api:
        server = servers.start(env, workers=workers)
        api.base_url = httpx.URL(server.url)
        oem = _org(api, "Logged OEM", "oem", "org-oem")
        recycler = _org(api, "Logged Recycler", "recycler", "org-recycler")
        regulator = _org(api, "Logged Regulator", "regulator", "org-regulator")
        secrets |= {oem["api_key"], recycler["api_key"], regulator["api_key"]}
        extra = api.post(f"/v1/orgs/{oem['org']['id']}/keys", headers=_bearer(ADMIN_KEY))
        secrets.add(extra.json()["api_key"])

        # Refused: unknown keys of every shape, in every place a key may be sent.
        wrong = ["rtr_" + "w" * 43, "not-a-retrace-key-but-secret-7f3a9c", "Z" * 64]
        secrets |= set(wrong)
        for key in wrong:
            assert api.get("/v1/orgs/me", headers=_bearer(key)).status_code == 401
            assert api.post("/v1/items", json={}, headers=_bearer(key)).status_code == 401
            api.get("/v1/orgs/me", headers={"X-API-Key": key})
            api.get("/", headers={"Cookie": f"{SESSION_COOKIE}={key}; key={key}"})
            api.get("/v1/orgs/me", params={"api_key": key})  # a key in the query string

        # Accepted, idempotent and replayed.
        body = {"kind": "battery_pack", "code": battery_code(), "attributes": {"mass_kg": "40"}}
        headers = {**_bearer(oem["api_key"]), "Idempotency-Key": "reg-1"}
        item = api.post("/v1/items", json=body, headers=headers)
        assert item.status_code == 201, item.text
        assert api.post("/v1/items", json=body, headers=headers).status_code == 201
        item_id = item.json()["item"]["id"]
        refused = api.post("/v1/items", json={**body, "code": "x"}, headers=headers)
        assert refused.status_code == 422

        # A passport session: signed in, used, signed out.
        signed_in = api.post("/scan/session", headers=_bearer(regulator["api_key"]))
        session = signed_in.cookies[SESSION_COOKIE]
        secrets.add(session)
        api.cookies.clear()
        cookie = {"Cookie": f"{SESSION_COOKIE}={session}"}
        passport = api.get(f"/p/{item_id}", headers={**cookie, "Accept": "application/json"})
        assert passport.json()["access"] == "regulator"
        assert api.delete("/scan/session", headers=cookie).status_code == 204
        api.cookies.clear()

        # A 500: a row the store cannot read.
        with sqlite3.connect(database) as db:
            db.execute("UPDATE items SET attributes = '{not json' WHERE id = ?", (item_id,))
        crashed = api.get(
            f"/v1/items/{item_id}", headers={**_bearer(oem["api_key"]), "X-Request-Id": "boom-1"}
        )
        assert crashed.status_code == 500
        assert crashed.json()["request_id"] == "boom-1"
        server.stop()

    text = server.log_path.read_text()
    lines = text.splitlines()
    leaks = sorted({secret[:8] + "…" for secret in secrets for line in lines if secret in line})
    assert leaks == []
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r.get("level") == "debug" for r in records)  # debug logging was on
    crash = [r for r in records if r.get("event") == "request.crashed"]
    assert len(crash) == 1
    assert crash[0]["request_id"] == "boom-1"
    assert crash[0]["error"] == "JSONDecodeError"
    assert "Traceback" not in text
    assert "Exception in ASGI application" not in text
    # uvicorn's own lines come through the same JSON formatter.
    assert any(r.get("logger") == "uvicorn.error" for r in records)
    access = [r for r in records if r.get("logger") == "uvicorn.access"]
    assert bool(access) == (workers == 1)
    if access:
        assert any("/v1/orgs/me?api_key=[redacted]" in r["event"] for r in access)
