"""The real server in separate processes: concurrent writers and crashes.

These start ``retrace serve`` as a subprocess on a fresh database of each
backend and talk to it over loopback. Several client processes appending at
once must leave one unbroken chain; a server killed with SIGKILL mid-append
must keep every acknowledged entry and nothing half-written, and take new
appends after a restart.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.chain import ZERO_HASH
from tests.factories import ADMIN_KEY
from tests.processes.server import (
    RetraceServer,
    Servers,
    retrace_env,
    run_cli,
    spawned,
)

CLIENT_SCRIPT = Path(__file__).parent / "processes" / "client.py"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
MAX_LOG_PAGES = 100
PAGE = 1000


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_org(client: httpx.Client, name: str, role: str) -> str:
    response = client.post(
        "/v1/orgs", json={"name": name, "role": role, "region": "CN"}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


def read_log(client: httpx.Client, regulator_key: str) -> list[dict[str, Any]]:
    """Every entry of the log, in seq order, through GET /v1/log/entries."""
    entries: list[dict[str, Any]] = []
    start: int | None = 0
    for _ in range(MAX_LOG_PAGES):
        if start is None:
            return entries
        response = client.get(
            "/v1/log/entries", params={"start": start, "limit": PAGE}, headers=bearer(regulator_key)
        )
        assert response.status_code == 200, response.text
        page = response.json()
        entries.extend(page["entries"])
        start = page["next"]
    raise AssertionError(f"the log has more than {MAX_LOG_PAGES} pages")


def assert_one_chain(entries: list[dict[str, Any]]) -> None:
    """seq 0..n-1 without gaps, each entry linked to the one before and to its item's last."""
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    head = ZERO_HASH
    item_heads: dict[str, str] = {}
    for entry in entries:
        assert entry["prev"] == head, f"entry {entry['seq']} does not link to its predecessor"
        if entry["item"] is not None:
            assert entry["item_prev"] == item_heads.get(entry["item"]), entry["seq"]
            item_heads[entry["item"]] = entry["hash"]
        head = entry["hash"]
    assert len({e["hash"] for e in entries}) == len(entries)


def assert_log_verifies(client: httpx.Client, regulator_key: str, size: int) -> None:
    verify = client.get("/v1/log/verify", headers=bearer(regulator_key), timeout=120.0)
    assert verify.status_code == 200, verify.text
    body = verify.json()
    assert (body["ok"], body["size"], body["first_bad"]) == (True, size, None), body


def assert_cli_ok(env: dict[str, str], cwd: Path, *args: str) -> None:
    done = run_cli(list(args), env, cwd)
    assert done.returncode == 0, f"retrace {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    assert done.stdout.startswith("ok"), done.stdout


# -- many writer processes ----------------------------------------------------

CLIENTS = 4
PER_CLIENT = 250


@pytest.mark.slow
def test_client_processes_appending_at_once_make_one_chain(
    database_url: str, tmp_path: Path
) -> None:
    env = retrace_env(database_url, tmp_path / "log.key", ADMIN_KEY)
    with Servers(tmp_path) as servers:
        server = servers.start(env, workers=2)
        with httpx.Client(base_url=server.url, timeout=30.0) as api:
            oem = create_org(api, "Concurrent OEM", "oem")
            regulator = create_org(api, "Auditor", "regulator")
            before = len(read_log(api, regulator))

            outs = [tmp_path / f"client-{n}.jsonl" for n in range(CLIENTS)]
            with ExitStack() as stack:
                clients = [
                    stack.enter_context(
                        spawned(
                            [
                                sys.executable,
                                str(CLIENT_SCRIPT),
                                server.url,
                                oem,
                                f"PV-P{n}",
                                str(PER_CLIENT),
                                str(outs[n]),
                            ],
                            cwd=tmp_path,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                        )
                    )
                    for n in range(CLIENTS)
                ]
                for n, client in enumerate(clients):
                    _, err = client.communicate(timeout=150)
                    assert client.returncode == 0, f"client {n}: {err}"

            acks = [json.loads(line) for out in outs for line in out.read_text().splitlines()]
            assert len(acks) == CLIENTS * PER_CLIENT
            entries = read_log(api, regulator)
            assert len(entries) == before + CLIENTS * PER_CLIENT
            assert sorted(a["seq"] for a in acks) == list(range(before, len(entries)))
            # The writers really ran at once: their entries interleave in the log.
            writer = {a["seq"]: a["code"].split("-")[1] for a in acks}
            order = [writer[seq] for seq in sorted(writer)]
            assert sum(a != b for a, b in pairwise(order)) >= CLIENTS
            assert_one_chain(entries)
            for ack in acks:
                entry = entries[ack["seq"]]
                assert (entry["hash"], entry["item"], entry["type"]) == (
                    ack["hash"],
                    ack["item"],
                    "registered",
                )
                assert entry["data"]["code"] == ack["code"]
            assert_log_verifies(api, regulator, len(entries))
        assert_cli_ok(env, tmp_path, "verify")


# -- a crash in the middle of appends -----------------------------------------

THREADS = 8
KILL_AFTER = 250
APPEND_DEADLINE_S = 60.0
MAX_APPENDS_PER_THREAD = 5000


@dataclass
class Appends:
    """What the appending threads saw: acknowledged entries, requests cut off, refusals."""

    acked: list[dict[str, Any]] = field(default_factory=list)
    cut_off: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


def append_until_cut_off(url: str, key: str, thread: int, seen: Appends) -> None:
    """Register items one by one until the server stops answering (bounded)."""
    deadline = time.monotonic() + APPEND_DEADLINE_S + 30.0
    with httpx.Client(base_url=url, headers=bearer(key), timeout=15.0) as client:
        for n in range(MAX_APPENDS_PER_THREAD):
            if time.monotonic() > deadline or seen.stop.is_set():
                return
            code = f"PV-K{thread}-{n:06d}"
            body = {"kind": "pv_module", "code": code, "attributes": {"mass_kg": "21.0"}}
            try:
                response = client.post("/v1/items", json=body)
            except httpx.TransportError:
                with seen.lock:
                    seen.cut_off.append(code)
                return
            with seen.lock:
                if response.status_code != 201:
                    seen.refused.append(f"{code}: {response.status_code} {response.text}")
                    return
                answer = response.json()
                seen.acked.append(
                    {
                        "seq": answer["entry"]["seq"],
                        "hash": answer["entry"]["hash"],
                        "item": answer["item"]["id"],
                        "code": code,
                    }
                )


def crash_during_appends(
    server: RetraceServer, oem: str, crash: Callable[[], object] | None = None
) -> Appends:
    """Append from several threads, SIGKILL the server's group (or ``crash`` it
    another way) once enough are acked."""
    seen = Appends()
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [
            pool.submit(append_until_cut_off, server.url, oem, n, seen) for n in range(THREADS)
        ]
        deadline = time.monotonic() + APPEND_DEADLINE_S
        while seen.count() < KILL_AFTER and time.monotonic() < deadline:
            if all(f.done() for f in futures):
                break
            time.sleep(0.01)
        (crash or server.kill)()
        time.sleep(1.0)  # what survives the crash goes on appending for a moment
        seen.stop.set()
        for future in futures:
            future.result(timeout=60)
    assert not seen.refused, seen.refused[:5]
    assert seen.count() >= KILL_AFTER, f"only {seen.count()} appends before the deadline"
    return seen


def assert_crash_kept(
    api: httpx.Client, oem: str, entries: list[dict[str, Any]], seen: Appends
) -> None:
    """Every acknowledged entry is in the log with the hash the client was given, and a
    request cut off by the crash was written whole (entry and item) or not at all."""
    for ack in seen.acked:
        assert ack["seq"] < len(entries), f"acknowledged entry {ack['seq']} is lost"
        entry = entries[ack["seq"]]
        assert (entry["hash"], entry["item"], entry["data"]["code"]) == (
            ack["hash"],
            ack["item"],
            ack["code"],
        )
    logged = {e["data"]["code"]: e["item"] for e in entries if e["type"] == "registered"}
    for code in seen.cut_off:
        scan = api.post("/v1/scan", json={"payload": code}, headers=bearer(oem))
        if code in logged:
            assert scan.status_code == 200, scan.text
            assert scan.json()["item"]["id"] == logged[code]
        else:
            assert scan.status_code == 404, scan.text


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_keeps_acknowledged_entries_and_nothing_half_written(
    database_url: str, tmp_path: Path, workers: int
) -> None:
    env = retrace_env(database_url, tmp_path / "log.key", ADMIN_KEY)
    with Servers(tmp_path) as servers:
        server = servers.start(env, workers=workers)
        with httpx.Client(base_url=server.url, timeout=30.0) as api:
            oem = create_org(api, "Crash OEM", "oem")
            regulator = create_org(api, "Crash auditor", "regulator")
        seen = crash_during_appends(server, oem)

        restarted = servers.start(env, workers=workers)
        with httpx.Client(base_url=restarted.url, timeout=30.0) as api:
            entries = read_log(api, regulator)
            assert_one_chain(entries)
            assert_crash_kept(api, oem, entries, seen)
            assert_log_verifies(api, regulator, len(entries))

            # New appends continue the same chain.
            after = api.post(
                "/v1/items",
                headers=bearer(oem),
                json={"kind": "pv_module", "code": "PV-AFTER-CRASH", "attributes": {}},
            )
            assert after.status_code == 201, after.text
            assert after.json()["entry"]["seq"] == len(entries)
            assert after.json()["entry"]["prev"] == entries[-1]["hash"]
            assert_log_verifies(api, regulator, len(entries) + 1)
        restarted.stop()
        assert_cli_ok(env, tmp_path, "projection")
        assert_cli_ok(env, tmp_path, "verify")


@pytest.mark.slow
def test_sigkill_of_one_worker_keeps_acknowledged_entries_and_the_others_serve(
    database_url: str, tmp_path: Path
) -> None:
    env = retrace_env(database_url, tmp_path / "log.key", ADMIN_KEY)
    with Servers(tmp_path) as servers:
        server = servers.start(env, workers=2)
        with httpx.Client(base_url=server.url, timeout=30.0) as api:
            oem = create_org(api, "Worker crash OEM", "oem")
            regulator = create_org(api, "Worker crash auditor", "regulator")
        killed: list[int] = []
        seen = crash_during_appends(server, oem, lambda: killed.append(server.kill_worker()))
        assert len(killed) == 1
        assert killed[0] not in server.worker_pids()

        with httpx.Client(base_url=server.url, timeout=30.0) as api:
            # The same server answers on: the other worker, and the one uvicorn starts anew.
            after = api.post(
                "/v1/items",
                headers=bearer(oem),
                json={"kind": "pv_module", "code": "PV-AFTER-WORKER", "attributes": {}},
            )
            assert after.status_code == 201, after.text
            entries = read_log(api, regulator)
            assert_one_chain(entries)
            assert_crash_kept(api, oem, entries, seen)
            assert after.json()["entry"]["seq"] == len(entries) - 1
            assert_log_verifies(api, regulator, len(entries))
        server.stop()
        assert_cli_ok(env, tmp_path, "projection")
        assert_cli_ok(env, tmp_path, "verify")
