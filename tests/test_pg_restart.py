"""PostgreSQL restarted under load, on a cluster of the test's own.

The test makes a throwaway PostgreSQL cluster (initdb, a free port), serves Retrace
on it, and keeps appending from several threads while the cluster stops for a
moment and starts again. While it is down every write is refused with 503
problem+json (never a 500); the service needs no restart to write again; and every
write it acknowledged is in the log, which verifies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import unavailable
from tests.factories import ADMIN_KEY
from tests.processes.server import Servers, free_port, retrace_env
from tests.test_processes import bearer, create_org, read_log

PG_BIN = Path(os.environ.get("RETRACE_PG_BIN", "")) if os.environ.get("RETRACE_PG_BIN") else None
THREADS = 3


def _pg_bin() -> Path:
    if PG_BIN is not None:
        return PG_BIN
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        unavailable("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    return found[-1].parent


class Cluster:
    """A PostgreSQL cluster in a temporary folder, run as the postgres user when root."""

    def __init__(self, root: Path) -> None:
        self.bin = _pg_bin()
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, f"{args[0]}: {done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "pg.log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="retrace-pg-"))
    made = Cluster(root)
    made.init()
    made.start()
    with psycopg.connect(made.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE retrace")
    yield made
    subprocess.run(
        [*made.as_user, str(made.bin / "pg_ctl"), "-D", str(made.data), "-m", "immediate", "stop"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_a_postgresql_restart_under_load_is_503_then_writes_again_losing_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = retrace_env(cluster.url("retrace"), tmp_path / "log.key", ADMIN_KEY)
    acknowledged: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()
    lock = threading.Lock()

    def append(url: str, key: str, thread: int) -> None:
        with httpx.Client(base_url=url, timeout=30.0) as api:
            n = 0
            while not stop.is_set():
                n += 1
                code = f"PV-R{thread}-{n}"
                try:
                    answer = api.post(
                        "/v1/items", json={"kind": "pv_module", "code": code}, headers=bearer(key)
                    )
                except httpx.HTTPError:
                    continue  # no answer: neither acknowledged nor refused
                with lock:
                    statuses.append(answer.status_code)
                    if answer.status_code == 201:
                        acknowledged.append(code)
                    elif answer.status_code == 503:
                        assert answer.headers["content-type"].startswith("application/problem")
                if answer.status_code != 201:
                    time.sleep(0.05)

    with Servers(tmp_path) as servers:
        server = servers.start(env, workers=2)
        with httpx.Client(base_url=server.url, timeout=30.0) as api:
            oem = create_org(api, "Restart OEM", "oem")
            regulator = create_org(api, "Restart auditor", "regulator")
        threads = [
            threading.Thread(target=append, args=(server.url, oem, n)) for n in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        with lock:
            before_outage, answered = len(acknowledged), len(statuses)
        cluster.stop("fast")
        time.sleep(1.5)
        cluster.start()
        # Writes go through again without touching the service.
        deadline = time.monotonic() + 20
        with lock:
            mark = len(acknowledged)
        while time.monotonic() < deadline:
            with lock:
                if len(acknowledged) > mark + 20:
                    break
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        assert before_outage > 0
        assert len(acknowledged) > mark + 20, "the service did not write again after the restart"
        assert 503 in statuses[answered:], "no write was refused while down"
        assert set(statuses) <= {201, 503}, sorted(set(statuses))
        with httpx.Client(base_url=server.url, timeout=60.0) as api:
            log = read_log(api, regulator)
            codes = {e["data"]["code"] for e in log if e["type"] == "registered"}
            missing = [c for c in acknowledged if c not in codes]
            assert missing == [], f"{len(missing)} acknowledged writes are not in the log"
            verify = api.get("/v1/log/verify", headers=bearer(regulator)).json()
            assert (verify["ok"], verify["size"]) == (True, len(log))
