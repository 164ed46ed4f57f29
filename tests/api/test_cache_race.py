"""Read-your-writes through the cache, under writes and reads from several threads.

Each thread is an OEM with items of its own. It records corrections on its items
(an entry that changes nothing but the item's head) and reads any item, its own
and the others', by ``GET /v1/items``, by scanning its code or label, and by its
passport, all at once with the other threads. Every read a thread makes of its
own item after a write was acknowledged must show at least that write; the
others' reads in between are what could leave an old view in the cache. At the
end, every cached view equals the database's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as run_settings
from hypothesis import strategies as st

from api.settings import Settings
from ledger import reads
from tests.api.test_cache import app_client, reachable_cache_url, with_redis
from tests.conftest import World
from tests.factories import Org, create_org, make_world, register, registration

THREADS = 3
ITEMS_EACH = 1
READS = ("get", "scan_code", "scan_label", "passport")


@dataclass
class Own:
    """An item of a thread's OEM: what its registration was, and what was acknowledged."""

    id: str
    code: str
    registered_seq: int
    head_seq: int
    entries: int = 1


@dataclass
class Cast:
    world: World
    oems: list[Org]
    items: list[list[Own]] = field(default_factory=list)

    def all_ids(self) -> list[tuple[int, Own]]:
        return [(t, own) for t, mine in enumerate(self.items) for own in mine]


@pytest.fixture
def cast(settings: Settings) -> Iterator[Cast]:
    with app_client(with_redis(settings, reachable_cache_url())) as client:
        admin, orgs = make_world(client)
        world = World(client, admin, orgs)
        oems = [create_org(client, f"oem {n}", "oem") for n in range(THREADS)]
        out = Cast(world, oems)
        for thread, oem in enumerate(oems):
            mine = []
            for n in range(ITEMS_EACH):
                kind = ("battery_pack", "pv_module", "wind_blade")[(thread + n) % 3]
                item = register(client, oem, registration(kind))
                mine.append(Own(item["id"], item["code"], item["head_seq"], item["head_seq"]))
            out.items.append(mine)
        yield out


def _write(c: Cast, oem: Org, own: Own) -> None:
    answer = c.world.client.post(
        f"/v1/items/{own.id}/events",
        json={
            "type": "corrected",
            "data": {"seq": own.registered_seq, "fields": {"code": own.code}},
        },
        headers=oem.headers,
    )
    assert answer.status_code == 201, answer.text
    own.head_seq = answer.json()["item"]["head_seq"]
    own.entries += 1


def _read(c: Cast, oem: Org, how: str, own: Own) -> tuple[int | None, int | None]:
    """(head_seq, number of entries) of the item as this read shows it."""
    client, headers = c.world.client, oem.headers
    if how == "get":
        answer = client.get(f"/v1/items/{own.id}", headers=headers)
    elif how == "passport":
        answer = client.get(f"/p/{own.id}", headers={**headers, "Accept": "application/json"})
    else:
        text = own.code.lower() if how == "scan_code" else f"http://retrace.test/p/{own.id}"
        answer = client.post("/v1/scan", json={"payload": text}, headers=headers)
    assert answer.status_code == 200, (how, answer.text)
    body: dict[str, Any] = answer.json()
    if how == "passport":
        return None, len(body["timeline"])
    item = body if how == "get" else body["item"]
    return item["head_seq"], None


Step = tuple[str, int]
steps = st.lists(
    st.tuples(st.sampled_from(("write", *READS)), st.integers(0, THREADS * ITEMS_EACH - 1)),
    min_size=8,
    max_size=24,
)


@run_settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.lists(steps, min_size=THREADS, max_size=THREADS))
def test_every_read_after_a_write_shows_it(cast: Cast, plans: list[list[Step]]) -> None:
    everyone = cast.all_ids()
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def run(thread: int, plan: list[Step]) -> None:
        oem, mine = cast.oems[thread], cast.items[thread]
        try:
            start.wait()
            for what, index in plan:
                owner, own = everyone[index]
                if what == "write":
                    _write(cast, oem, mine[index % ITEMS_EACH])
                    continue
                head_seq, entries = _read(cast, oem, what, own)
                if owner != thread:
                    continue
                # A read after this thread's own acknowledged writes shows them all.
                if head_seq is not None:
                    assert head_seq >= own.head_seq, (what, own.id, head_seq, own.head_seq)
                if entries is not None:
                    assert entries >= own.entries, (what, own.id, entries, own.entries)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n, plan)) for n, plan in enumerate(plans)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    # Nothing old stayed behind: every cached view is the database's.
    store = cast.world.app.state.ledger.store
    for _, own in everyone:
        truth = reads.item_view(store, own.id)
        for how in READS:
            head_seq, entries = _read(cast, cast.oems[0], how, own)
            assert head_seq in (None, truth.item.head_seq), (how, own.id)
            assert entries in (None, own.entries), (how, own.id)
