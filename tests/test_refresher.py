"""The report refresher ``retrace serve`` runs beside its workers (``api.refresher``).

One refresher per server whatever its number of workers; it brings the report
aggregates up to the log's head (as a rebuild from the log alone would have them,
and as ``/metrics`` reports), runs at a lower CPU priority than the workers, and
ends with the server: stopped by it, or on its own when the server is killed.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import pytest

from ledger.reports import behind, rebuild
from ledger.store.sql import SqlStore
from tests.conftest import report_aggregates
from tests.factories import ADMIN_KEY, registration
from tests.processes.server import RetraceServer, Servers, retrace_env

pytestmark = pytest.mark.slow

WITHIN_S = 10.0


def _env(folder: Path) -> dict[str, str]:
    return retrace_env(
        f"sqlite:///{folder / 'retrace.db'}",
        folder / "log.key",
        ADMIN_KEY,
        RETRACE_REPORT_REFRESH_INTERVAL="0.2",
    )


def _gauge(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} not in /metrics"
    return float(match.group(1))


def _register(server: RetraceServer, count: int) -> None:
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        oem = http.post(
            "/v1/orgs",
            json={"name": "Refresher OEM", "role": "oem", "region": "CN"},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ).json()
        for _ in range(count):
            answer = http.post(
                "/v1/items",
                json=registration(),
                headers={"Authorization": f"Bearer {oem['api_key']}"},
            )
            assert answer.status_code == 201, answer.text


def _wait_folded(server: RetraceServer, deadline_s: float = 30.0) -> tuple[float, float]:
    """Poll /metrics until the aggregates cover the whole log; (covered, size)."""
    ends = time.monotonic() + deadline_s
    with httpx.Client(base_url=server.url, timeout=10.0) as http:
        while True:
            text = http.get("/metrics").text
            covered = _gauge(text, "retrace_report_aggregates_entries")
            size = _gauge(text, "retrace_log_entries")
            if covered == size or time.monotonic() > ends:
                return covered, size
            time.sleep(0.1)


def _gone(pid: int) -> bool:
    """True once ``pid`` has ended (no such process, or a zombie not yet reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def _wait_for(condition: Callable[[], bool]) -> bool:
    ends = time.monotonic() + WITHIN_S
    while not condition():
        if time.monotonic() > ends:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("workers", [1, 2])
def test_one_refresher_brings_the_aggregates_to_the_head(tmp_path: Path, workers: int) -> None:
    with Servers(tmp_path) as servers:
        server = servers.start(_env(tmp_path), workers=workers)
        [refresher] = server.refresher_pids()
        assert server.process is not None
        own = os.getpriority(os.PRIO_PROCESS, server.process.pid)
        # A lower CPU priority than the server's own processes (set once it starts).
        assert _wait_for(lambda: os.getpriority(os.PRIO_PROCESS, refresher) > own)
        _register(server, 12)
        covered, size = _wait_folded(server)
        assert size >= 14  # the org, its key and the items
        assert covered == size
        store = SqlStore(f"sqlite:///{tmp_path / 'retrace.db'}")
        try:
            assert behind(store) == 0
            kept = report_aggregates(store)
            rebuild(store)
            assert report_aggregates(store) == kept
        finally:
            store.dispose()


@pytest.mark.parametrize(
    ("sent", "workers"),
    [
        # SIGTERM to the server alone, not its group: the server stops the refresher.
        (signal.SIGTERM, 2),
        # SIGKILL: the server cannot; the refresher sees its parent gone and ends.
        (signal.SIGKILL, 1),
    ],
)
def test_the_refresher_ends_with_the_server(
    tmp_path: Path, sent: signal.Signals, workers: int
) -> None:
    with Servers(tmp_path) as servers:
        server = servers.start(_env(tmp_path), workers=workers)
        [refresher] = server.refresher_pids()
        assert server.process is not None
        os.kill(server.process.pid, sent)
        server.process.wait(timeout=30)
        assert _wait_for(partial(_gone, refresher))
