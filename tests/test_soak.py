"""A bounded soak: a minute of mixed traffic against two workers, memory sampled.

Writers register items and record events, a bulk upload comes every few seconds,
readers scan and page through the log. Every answer is a 2xx (or the 4xx the
request deserves), and the workers' memory levels off: after the first third of
the run (caches and pools filling), it grows by no more than a few MB.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.factories import ADMIN_KEY
from tests.processes.server import Servers, retrace_env
from tests.test_processes import bearer, create_org

SECONDS = 60.0
GROWTH_MB = 25.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_minute_of_mixed_traffic_levels_off(database_url: str, tmp_path: Path) -> None:
    env = retrace_env(database_url, tmp_path / "log.key", ADMIN_KEY)
    unexpected: list[str] = []
    stop = threading.Event()

    def check(answer: httpx.Response) -> None:
        if answer.status_code >= 500:
            unexpected.append(f"{answer.request.method} {answer.request.url.path}: {answer.text}")

    with Servers(tmp_path) as servers:
        server = servers.start(env, workers=2)
        with httpx.Client(base_url=server.url, timeout=60.0) as api:
            oem = create_org(api, "Soak OEM", "oem")
            recycler = create_org(api, "Soak recycler", "recycler")

        def writer(n: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60.0) as api:
                i = 0
                while not stop.is_set():
                    i += 1
                    made = api.post(
                        "/v1/items",
                        json={"kind": "pv_module", "code": f"PV-S{n}-{i}"},
                        headers=bearer(oem),
                    )
                    check(made)
                    if made.status_code == 201 and i % 3 == 0:
                        item = made.json()["item"]["id"]
                        check(
                            api.post(
                                f"/v1/items/{item}/events",
                                json={"type": "retired", "data": {"reason": "soak"}},
                                headers=bearer(oem),
                            )
                        )

        def bulk() -> None:
            with httpx.Client(base_url=server.url, timeout=60.0) as api:
                i = 0
                while not stop.wait(3.0):
                    i += 1
                    lines = b"\n".join(
                        orjson.dumps({"kind": "pv_module", "code": f"PV-B{i}-{k}"})
                        for k in range(2000)
                    )
                    check(
                        api.post(
                            "/v1/items/bulk",
                            content=lines,
                            headers={"Content-Type": "application/x-ndjson", **bearer(oem)},
                        )
                    )

        def reader() -> None:
            with httpx.Client(base_url=server.url, timeout=60.0) as api:
                i = 0
                while not stop.is_set():
                    i += 1
                    check(
                        api.post(
                            "/v1/scan",
                            json={"payload": f"PV-S0-{i % 50 + 1}"},
                            headers=bearer(recycler),
                        )
                    )
                    check(api.get("/v1/log/checkpoint"))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
        threads += [threading.Thread(target=bulk), threading.Thread(target=reader)]
        for thread in threads:
            thread.start()
        samples: list[float] = []
        started = time.monotonic()
        while time.monotonic() - started < SECONDS:
            samples.append(sum(rss_mb(pid) for pid in server.worker_pids()))
            time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert unexpected == [], unexpected[:5]
    third = len(samples) // 3
    settled = statistics.median(samples[third : 2 * third])
    end = statistics.median(samples[-third:])
    assert end - settled < GROWTH_MB, (
        f"memory grew from {settled:.0f} MB to {end:.0f} MB over the run: {samples}"
    )
