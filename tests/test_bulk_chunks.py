"""Bulk uploads are written a chunk at a time, against a real server process.

A single write made during a large upload waits for one chunk, not for the whole
upload; a server killed part-way keeps the chunks it acknowledged to itself, and a
retry with the same idempotency key replays them and writes the rest, so every line
ends up in the log exactly once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.bulk import CHUNK_LINES
from ledger.store.sql import SqlStore
from tests.factories import ADMIN_KEY
from tests.processes.server import Servers, retrace_env
from tests.test_processes import bearer, create_org

LINES = 12 * CHUNK_LINES
NDJSON = {"Content-Type": "application/x-ndjson"}


def body(prefix: str, lines: int = LINES) -> bytes:
    return b"\n".join(
        orjson.dumps({"kind": "pv_module", "code": f"{prefix}-{n:06d}"}) for n in range(lines)
    )


def log_size(store: SqlStore) -> int:
    with store.lookup() as r:
        return r.size()


def wait_for_size(store: SqlStore, size: int, deadline: float) -> None:
    while log_size(store) < size:
        assert time.monotonic() < deadline, f"the log never reached {size} entries"
        time.sleep(0.02)


@pytest.mark.slow
def test_a_single_write_during_a_large_upload_waits_for_a_chunk_not_the_upload(
    database_url: str, tmp_path: Path
) -> None:
    env = retrace_env(database_url, tmp_path / "log.key", ADMIN_KEY)
    store = SqlStore(database_url)
    with Servers(tmp_path) as servers, httpx.Client(timeout=300.0) as api:
        server = servers.start(env, workers=1)
        api.base_url = httpx.URL(server.url)
        bulk_oem = create_org(api, "Bulk OEM", "oem")
        other_oem = create_org(api, "Other OEM", "oem")
        before = log_size(store)
        answer: dict[str, Any] = {}

        def upload() -> None:
            started = time.monotonic()
            response = api.post(
                "/v1/items/bulk", content=body("PV-BIG"), headers={**NDJSON, **bearer(bulk_oem)}
            )
            answer["status"], answer["seconds"] = response.status_code, time.monotonic() - started
            answer["accepted"] = response.json().get("accepted")

        uploader = threading.Thread(target=upload)
        uploader.start()
        # Once the first chunk is in, one registration from someone else.
        wait_for_size(store, before + CHUNK_LINES, time.monotonic() + 120)
        started = time.monotonic()
        single = api.post(
            "/v1/items", json={"kind": "pv_module", "code": "PV-ALONE-1"}, headers=bearer(other_oem)
        )
        waited = time.monotonic() - started
        still_uploading = uploader.is_alive()
        uploader.join(timeout=300)
        assert single.status_code == 201, single.text
        assert (answer["status"], answer["accepted"]) == (200, LINES), answer
        assert still_uploading, "the upload ended before the single write: make it larger"
        # The single write went in between chunks, long before the upload ended.
        assert waited < answer["seconds"] / 4, (waited, answer["seconds"])
        seq = single.json()["entry"]["seq"]
        assert before + CHUNK_LINES <= seq < before + LINES
    store.dispose()


@pytest.mark.slow
def test_a_retry_after_a_crash_part_way_writes_every_line_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    env = retrace_env(database_url, tmp_path / "log.key", ADMIN_KEY)
    store = SqlStore(database_url)
    upload = body("PV-RETRY")
    with Servers(tmp_path) as servers, httpx.Client(timeout=300.0) as api:
        server = servers.start(env, workers=1)
        api.base_url = httpx.URL(server.url)
        oem = create_org(api, "Retry OEM", "oem")
        before = log_size(store)
        headers = {**NDJSON, **bearer(oem), "Idempotency-Key": "upload-7"}

        def post() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server dies under it
                api.post("/v1/items/bulk", content=upload, headers=headers)

        first = threading.Thread(target=post)
        first.start()
        wait_for_size(store, before + 2 * CHUNK_LINES, time.monotonic() + 120)
        server.kill()
        first.join(timeout=60)
        cut = log_size(store) - before
        assert 0 < cut < LINES, f"{cut} of {LINES} lines were written before the kill"
        assert cut % CHUNK_LINES == 0, "a chunk was written in part"

        again = servers.start(env, workers=1)
        retry = httpx.post(
            f"{again.url}/v1/items/bulk", content=upload, headers=headers, timeout=300
        )
        assert retry.status_code == 200, retry.text
        answer = retry.json()
        assert (answer["accepted"], answer["refused"]) == (LINES, 0)
        assert [r["line"] for r in answer["results"]] == list(range(1, LINES + 1))
        assert "Idempotent-Replayed" not in retry.headers  # only part of it was a replay
        # Every line once: the codes of the log's new registrations, no duplicate.
        assert log_size(store) == before + LINES
        seqs = sorted(r["seq"] for r in answer["results"])
        assert seqs == list(range(before, before + LINES))

        # The whole request again: all of it a replay now, and nothing written.
        replay = httpx.post(
            f"{again.url}/v1/items/bulk", content=upload, headers=headers, timeout=300
        )
        assert replay.status_code == 200, replay.text
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == answer
        assert log_size(store) == before + LINES
    store.dispose()
