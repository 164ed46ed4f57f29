"""A hostile body never holds up anyone else: the real server, timed.

``retrace serve`` in its own process, one worker. While it is sent the body that once
stalled it (attributes nested 256 deep, 1.8 KB) and a few megabytes of JSON nested too
deep to parse, ``/healthz`` answers in well under a second, and each hostile request gets
its 4xx problem+json within a second.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.factories import ADMIN_KEY, registration
from tests.processes.server import Servers, retrace_env


def _hostile_bodies() -> dict[str, bytes]:
    deep: Any = "x"
    for _ in range(256):
        deep = {"a": deep}
    old = registration()
    old["attributes"]["deep"] = deep
    pad = json.dumps(registration(attributes={"pad": ["y" * 100] * 1000}))
    too_deep = '{"attributes": [' + ",".join([pad] * 30) + "," + "[" * 200_000 + "]" * 200_000
    return {"old": json.dumps(old).encode(), "too deep": (too_deep + "]}").encode()}


def test_healthz_answers_while_hostile_bodies_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    env = retrace_env(database_url, tmp_path / "log.key", ADMIN_KEY)
    with Servers(tmp_path) as servers:
        url = servers.start(env).url
        with httpx.Client(base_url=url, timeout=30) as client:
            made = client.post(
                "/v1/orgs",
                json={"name": "OEM", "role": "oem", "region": "CN"},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            assert made.status_code == 201, made.text
            key = made.json()["api_key"]

        answers: dict[str, tuple[int, float, str]] = {}

        def send(name: str, body: bytes) -> None:
            with httpx.Client(base_url=url, timeout=30) as own:
                started = time.monotonic()
                answer = own.post(
                    "/v1/items",
                    content=body,
                    headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
                )
                took = time.monotonic() - started
                answers[name] = (answer.status_code, took, answer.headers["content-type"])

        health: list[float] = []
        with httpx.Client(base_url=url, timeout=30) as probe:
            probe.get("/healthz")  # the connection is open before the clock starts
            for _ in range(3):
                senders = [
                    threading.Thread(target=send, args=item) for item in _hostile_bodies().items()
                ]
                for sender in senders:
                    sender.start()
                while any(sender.is_alive() for sender in senders):
                    started = time.monotonic()
                    assert probe.get("/healthz").status_code == 200
                    health.append(time.monotonic() - started)
                for sender in senders:
                    sender.join()
                for name, (status, took, kind) in answers.items():
                    assert status in (400, 413, 422), (name, status)
                    assert kind == "application/problem+json", name
                    assert took < 1.0, (name, took)

    assert health, "no /healthz request overlapped the hostile ones"
    assert max(health) < 0.5, health
