"""Checkpoint publishing logs what happened, not every tick of the publishing loop.

Two app instances over one database stand for two workers, each running the
loop every 0.1 s. Over a quiet second neither logs anything; an append is
followed by exactly one ``checkpoint.published``, from whichever worker signed it,
naming the size it covers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from api.app import create_app
from api.bootstrap import prepare
from api.settings import Settings
from tests.factories import ADMIN_KEY, create_org, register

INTERVAL = 0.1


@contextmanager
def two_workers(settings: Settings) -> Iterator[list[TestClient]]:
    fast = settings.model_copy(update={"checkpoint_interval": INTERVAL})
    prepare(fast)  # the bootstrap admin and its key: two entries
    with ExitStack() as stack:
        yield [stack.enter_context(TestClient(create_app(fast))) for _ in range(2)]


def published(events: Sequence[MutableMapping[str, Any]]) -> list[int]:
    return [e["size"] for e in events if e["event"] == "checkpoint.published"]


def wait_for(events: Sequence[MutableMapping[str, Any]], size: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while size not in published(events):
        assert time.monotonic() < deadline, f"no checkpoint of size {size}: {events}"
        time.sleep(INTERVAL)


def test_only_checkpoints_actually_stored_are_logged(settings: Settings) -> None:
    with capture_logs() as events, two_workers(settings) as (first, second):
        wait_for(events, 2)
        time.sleep(20 * INTERVAL)  # two workers, twenty ticks each, nothing new
        assert published(events) == [2]

        oem = create_org(first, "Logged cells", "oem")  # the org and its key
        wait_for(events, 4)
        register(second, oem)
        wait_for(events, 5)
        time.sleep(20 * INTERVAL)
        assert published(events) == [2, 4, 5]
        assert not [e for e in events if e["event"] == "checkpoint.failed"]
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        served = first.get("/v1/log/checkpoint", headers=admin).text
    assert served.splitlines()[1] == "5"
