"""Scans that name a site, and the cloned labels they reveal, on every store.

``ledger.site_scans.record_site_scan`` over SQLite and PostgreSQL (the ``store``
fixture) and the memory store: a scan at another site within ``CLONE_WINDOW``
makes one finding (the earlier scan, then the later), kept with the scan and
read back by ``clone_findings``; the same site, another item or a scan just
outside the window makes none; two sites scanning one item at the same moment
still make their finding.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from ledger.chain import format_ts
from ledger.errors import ValidationError
from ledger.site_scans import CLONE_WINDOW, CloneFinding, SiteScan, check_site, record_site_scan
from ledger.store.base import Store
from ledger.store.memory import MemoryStore
from ledger.store.sql import SqlStore

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ITEM = "itm_01JD8Z3K5V7W9XQRSTABCDEFGH"
OTHER = "itm_01JD8Z3K5V7W9XQRSTABCDEFGJ"


def _findings(store: Store) -> list[CloneFinding]:
    with store.reader() as r:
        return r.clone_findings()


def _two_sites_within_the_window(store: Store) -> None:
    assert record_site_scan(store, ITEM, "Dock 3, Foshan", "org_a", T0) is None
    later = T0 + timedelta(minutes=4)
    finding = record_site_scan(store, ITEM, " Yard 9, Hefei ", "org_b", later)
    first = SiteScan(ITEM, "Dock 3, Foshan", "org_a", format_ts(T0))
    second = SiteScan(ITEM, "Yard 9, Hefei", "org_b", format_ts(later))
    assert finding == CloneFinding(ITEM, first, second)
    assert _findings(store) == [finding]


def _same_site_other_item_or_too_late(store: Store) -> None:
    record_site_scan(store, ITEM, "Dock 3", "org_a", T0)
    assert record_site_scan(store, ITEM, "Dock 3", "org_b", T0 + timedelta(minutes=1)) is None
    assert record_site_scan(store, OTHER, "Yard 9", "org_b", T0 + timedelta(minutes=2)) is None
    # The last scan at Dock 3 was at T0 + 1 min: just outside the window from here.
    late = T0 + timedelta(minutes=1) + CLONE_WINDOW + timedelta(microseconds=1)
    assert record_site_scan(store, ITEM, "Yard 9", "org_b", late) is None
    assert _findings(store) == []


def _the_window_edge_and_the_latest_scan(store: Store) -> None:
    record_site_scan(store, ITEM, "A", "org_a", T0)
    record_site_scan(store, ITEM, "B", "org_b", T0 + timedelta(minutes=1))
    # Exactly the window after B's scan: still within it, and B is the latest elsewhere.
    edge = T0 + timedelta(minutes=1) + CLONE_WINDOW
    finding = record_site_scan(store, ITEM, "C", "org_c", edge)
    assert finding is not None
    assert (finding.first.site, finding.first.org) == ("B", "org_b")
    assert [(f.first.site, f.second.site) for f in _findings(store)] == [("A", "B"), ("B", "C")]


def _two_sites_at_once(store: Store) -> None:
    """Each item is scanned at two sites by two threads released together: whichever
    is kept second must see the first, so every item has exactly one finding."""
    items = [f"itm_CONCURRENT{n:02d}" for n in range(8)]
    barrier = threading.Barrier(2)

    def scan(item: str, site: str) -> CloneFinding | None:
        barrier.wait(timeout=10)
        return record_site_scan(store, item, site, "org_x", T0)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for item in items:
            pair = [pool.submit(scan, item, site) for site in ("North", "South")]
            made = [f.result(timeout=30) for f in pair]
            assert sum(f is not None for f in made) == 1, item
    assert sorted(f.item for f in _findings(store)) == items


SCENARIOS: list[Callable[[Store], None]] = [
    _two_sites_within_the_window,
    _same_site_other_item_or_too_late,
    _the_window_edge_and_the_latest_scan,
    _two_sites_at_once,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__.strip("_"))
def test_site_scans_on_sql(store: SqlStore, scenario: Callable[[Store], None]) -> None:
    scenario(store)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__.strip("_"))
def test_site_scans_in_memory(scenario: Callable[[Store], None]) -> None:
    scenario(MemoryStore())


def test_the_scans_stay_outside_the_log(store: SqlStore) -> None:
    record_site_scan(store, ITEM, "A", "org_a", T0)
    record_site_scan(store, ITEM, "B", "org_b", T0 + timedelta(seconds=30))
    with store.reader() as r:
        assert r.size() == 0
        assert len(r.clone_findings()) == 1


@pytest.mark.parametrize(
    "site", ["", "   ", "x" * 201, "Dock\x003", "Dock\n3", "Dock\x7f", "Dock \ud800"]
)
def test_a_site_that_is_not_one_is_refused(site: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_site(site)
    assert refused.value.pointer == "/site"
    store = MemoryStore()
    with pytest.raises(ValidationError):
        record_site_scan(store, ITEM, site, "org_a", T0)
    assert _findings(store) == []


def test_a_site_is_kept_trimmed_and_whole() -> None:
    assert check_site("  Dock 3, Foshan ") == "Dock 3, Foshan"
    assert check_site("仓库 " + "x" * 195) == "仓库 " + "x" * 195
