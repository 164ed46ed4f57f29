"""Item queries (``ledger.queries``) on every store: filters, visibility, keyset pages.

The items are written through the ledger with a clock the test moves, and the
test keeps its own account of each item (kind, code, maker, holder, every org
that held it, state, the day of its last change). Every query's answer, read
page by page, must equal that account filtered in Python. A second test pages
through while another thread keeps writing: no item is seen twice, and every
item that existed when paging began is seen.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import items, orgs, queries
from ledger.commit import Tx
from ledger.errors import ValidationError
from ledger.lifecycle import Role
from ledger.orgs import Created
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.base import Store
from tests.factories import code_for

KINDS = ["battery_pack", "battery_module", "battery_cell", "pv_module", "wind_blade"]
STATES = ["registered", "in_service", "retired", "collected", "assessed"]
REGIONS = ["CN", "DE", "US"]
START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
START_DAY = START.date()
CAST = [
    ("oem", Role.OEM, "CN"),
    ("oem2", Role.OEM, "DE"),
    ("operator", Role.OPERATOR, "US"),
    ("recycler", Role.RECYCLER, "CN"),
    ("recycler2", Role.RECYCLER, "DE"),
    ("recycler3", Role.RECYCLER, "US"),
    ("regulator", Role.REGULATOR, "CN"),
]
_names = itertools.count(1)


@dataclass
class Known:
    """The test's own account of one item."""

    id: str
    kind: str
    code: str
    maker: str
    holder: str
    state: str = "registered"
    held: set[str] = field(default_factory=set)
    last: date = START_DAY


@dataclass
class World:
    ledger: Ledger
    orgs: dict[str, OrgRecord]
    now: list[datetime]
    known: list[Known] = field(default_factory=list)

    def org(self, name: str) -> OrgRecord:
        return self.orgs[name]

    def register(self, maker: str, kind: str) -> Known:
        code = code_for(kind)
        raw = {"kind": kind, "code": code, "attributes": {"mass_kg": "412.5"}}
        actor = self.org(maker)
        done = self.ledger.write(lambda tx: items.register(tx, actor, raw))
        known = Known(done.item.id, kind, code, actor.id, actor.id)
        known.held.add(actor.id)
        known.last = self.now[0].date()
        self.known.append(known)
        return known

    def record(self, known: Known, event: str, data: dict[str, Any]) -> None:
        actor = next(o for o in self.orgs.values() if o.id == known.holder)
        self.ledger.write(lambda tx: items.record_event(tx, actor, known.id, event, data))
        if event == "transferred":
            known.holder = data["to_org"]
            known.held.add(known.holder)
        else:
            known.state = {"installed": "in_service"}.get(event, event)
        known.last = self.now[0].date()


def _world(store: Store) -> World:
    now = [START]
    ledger = Ledger(store, clock=lambda: now[0])
    admin = ledger.write(
        lambda tx: orgs.create_org(tx, None, f"admin {next(_names)}", Role.ADMIN, "CN")
    ).org
    cast = {"admin": admin}
    for name, role, region in CAST:
        label = f"{name} {next(_names)}"

        def create(tx: Tx, label: str = label, role: Role = role, region: str = region) -> Created:
            return orgs.create_org(tx, admin, label, role, region)

        cast[name] = ledger.write(create).org
    return World(ledger, cast, now)


@pytest.fixture
def world(contract_store: Store) -> World:
    return _world(contract_store)


# -- the account, filtered in Python -------------------------------------------


def expected(world: World, caller: OrgRecord, f: queries.ItemFilters) -> list[str]:
    region = {o.id: o.region for o in world.orgs.values()}
    sees_all = caller.role in (Role.REGULATOR, Role.ADMIN)
    return [
        k.id
        for k in world.known
        if (sees_all or caller.id in k.held)
        and f.kind in (None, k.kind)
        and f.state in (None, k.state)
        and f.holder in (None, k.holder)
        and f.manufacturer in (None, k.maker)
        and f.region in (None, region.get(k.holder))
        and (f.code_prefix is None or k.code.startswith(f.code_prefix))
        and (f.since is None or f.since <= k.last)
        and (f.until is None or k.last <= f.until)
    ]


def read_all(
    world: World,
    caller: OrgRecord,
    f: queries.ItemFilters,
    limit: int,
    scan: int = queries.SCAN,
) -> list[queries.ItemPage]:
    pages, cursor = [], None
    while True:
        page = queries.query_items(
            world.ledger.store, caller, f, cursor=cursor, limit=limit, scan=scan
        )
        pages.append(page)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
        assert len(pages) < 500


# -- generated lives -------------------------------------------------------------


@st.composite
def lives(draw: st.DrawFn) -> list[dict[str, Any]]:
    return draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(KINDS),
                    "maker": st.sampled_from(["oem", "oem2"]),
                    "state": st.sampled_from(STATES),
                    "to": st.sampled_from([None, "oem2", "operator", "recycler", "recycler2"]),
                    "onward": st.sampled_from([None, "recycler2", "recycler3"]),
                    "days": st.integers(0, 3),
                }
            ),
            min_size=1,
            max_size=4,
        )
    )


def live(world: World, life: dict[str, Any]) -> None:
    """Register an item, take it to its state, move custody as drawn; days pass."""
    world.now[0] += timedelta(days=life["days"], seconds=1)
    known = world.register(life["maker"], life["kind"])
    state, to = life["state"], life["to"]
    if state in ("collected", "assessed"):
        to = "recycler"  # collected only by a recycler it was handed to
    if state == "in_service":
        world.record(known, "installed", {"site": "Plant 7"})
    if state in ("retired", "collected", "assessed"):
        world.record(known, "retired", {"reason": "end of life"})
    world.now[0] += timedelta(days=life["days"], seconds=1)
    if to is not None and world.org(to).id != known.holder:
        world.record(known, "transferred", {"to_org": world.org(to).id})
    if state in ("collected", "assessed"):
        world.record(known, "collected", {"site": "Dock 3", "mass_kg": "410.2"})
    if state == "assessed":
        world.record(known, "assessed", {"soh_pct": "71.5", "grade": "recycle"})
    onward = life["onward"]
    if onward is not None and world.org(onward).id != known.holder:
        # The holder passes it on: it held the item and holds it no more.
        world.record(known, "transferred", {"to_org": world.org(onward).id})


def filters(world: World, data: st.DataObject) -> queries.ItemFilters:
    """Filters drawn so that the draws never depend on what the world holds
    (examples add to one world): org names and an index into the codes."""
    names = st.sampled_from(["admin", *(n for n, _, _ in CAST), "nobody"])
    org_id = st.none() | names.map(lambda n: world.orgs[n].id if n in world.orgs else "org_nobody")
    days = st.none() | st.dates(START_DAY - timedelta(days=1), START_DAY + timedelta(days=90))
    codes = [k.code for k in world.known]
    picked = data.draw(st.tuples(st.integers(0, 10**6), st.integers(1, 24)), label="prefix")
    code = codes[picked[0] % len(codes)]
    prefix, inside = code[: picked[1]], code[1 : picked[1] + 1]
    return data.draw(
        st.builds(
            queries.ItemFilters,
            kind=st.none() | st.sampled_from(KINDS),
            state=st.none() | st.sampled_from([*STATES, "recycled"]),
            holder=org_id,
            manufacturer=org_id,
            region=st.none() | st.sampled_from([*REGIONS, "FR"]),
            code_prefix=st.sampled_from([None, prefix, inside, "C", "PV-", "BLADE", "ZZ"]),
            since=days,
            until=days,
        ),
        label="filters",
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_filter_answers_what_the_account_says(world: World, data: st.DataObject) -> None:
    for life in data.draw(lives(), label="lives"):
        live(world, life)
    f = filters(world, data)
    if f.since is not None and f.until is not None and f.until < f.since:
        f = queries.ItemFilters(**{**vars(f), "until": f.since})
    limit = data.draw(st.integers(1, 6), label="limit")
    # How far a page reads: the whole of this small log, or a few seqs at a time.
    scan = data.draw(st.sampled_from([queries.SCAN, 17, 41]), label="scan")
    # The drawn filters together, each of them alone (together they mostly
    # match nothing), and none: for every caller, whose view differs.
    alone = [
        queries.ItemFilters(**{name: value}) for name, value in vars(f).items() if value is not None
    ]
    by_id = {k.id: k for k in world.known}
    for caller in world.orgs.values():
        for each, size in [(f, limit), (queries.ItemFilters(), limit)] + [(a, 50) for a in alone]:
            pages = read_all(world, caller, each, size, scan)
            seen = [view.item.id for page in pages for view in page.items]
            assert seen == expected(world, caller, each), (caller.name, each)
            assert all(len(page.items) <= size for page in pages)
            if scan == queries.SCAN:  # bounded by the log, not by the scan
                assert all(len(page.items) == size for page in pages[:-1])
            for view in (v for page in pages for v in page.items):
                known = by_id[view.item.id]
                assert (view.item.state.value, view.item.holder) == (known.state, known.holder)


def test_a_page_reads_no_further_than_its_scan(world: World) -> None:
    regulator, oem = world.org("regulator"), world.org("oem")
    made = [world.register("oem", "pv_module").id for _ in range(12)]
    with world.ledger.store.reader() as r:
        size = r.size()
    # A filter nothing matches: each page reads the items of 4 seqs and comes
    # back empty with a cursor to the rest, until the log's end.
    none = queries.ItemFilters(until=START_DAY - timedelta(days=1))
    pages = read_all(world, regulator, none, 10, scan=4)
    assert [len(page.items) for page in pages] == [0] * len(pages)
    assert len(pages) == -(-size // 4)
    # Short pages lose nothing: every match comes once, in order.
    every = read_all(world, oem, queries.ItemFilters(kind="pv_module"), 3, scan=4)
    assert [v.item.id for page in every for v in page.items] == made
    assert all(len(page.items) <= 3 for page in every)
    # The cursor of a page that stopped at its bound is one this service reads.
    first = queries.query_items(world.ledger.store, regulator, none, limit=10, scan=4)
    assert first.next_cursor is not None
    again = queries.query_items(
        world.ledger.store, regulator, none, cursor=first.next_cursor, limit=10, scan=4
    )
    assert again.items == []


def test_children_come_with_the_items(world: World) -> None:
    pack = world.register("oem", "battery_pack")
    raw = {"kind": "battery_module", "code": code_for("battery_module"), "parent": pack.id}
    oem = world.org("oem")
    module = world.ledger.write(lambda tx: items.register(tx, oem, raw)).item
    page = queries.query_items(world.ledger.store, oem, queries.ItemFilters(kind="battery_pack"))
    assert [(v.item.id, v.children) for v in page.items] == [(pack.id, [module.id])]


@pytest.mark.parametrize(
    ("cursor", "limit", "f", "pointer"),
    [
        ("not a cursor", 10, queries.ItemFilters(), "/cursor"),
        ("MTI6aXRtX2E", 10, queries.ItemFilters(), None),  # "12:itm_a": well formed
        ("LTE6aXRtX2E", 10, queries.ItemFilters(), "/cursor"),  # "-1:itm_a"
        ("OTk5OTk5OTk5OTk5OTk5OTk5OTk6aXRtX2E", 10, queries.ItemFilters(), "/cursor"),
        (None, 0, queries.ItemFilters(), "/limit"),
        (None, 1001, queries.ItemFilters(), "/limit"),
        (None, 10, queries.ItemFilters(holder="a\x00b"), "/holder"),
        (None, 10, queries.ItemFilters(code_prefix=""), "/code_prefix"),
        (None, 10, queries.ItemFilters(region="x" * 65), "/region"),
        (
            None,
            10,
            queries.ItemFilters(since=date(2026, 2, 2), until=date(2026, 2, 1)),
            "/until",
        ),
    ],
)
def test_malformed_cursors_and_filters_name_the_parameter(
    world: World, cursor: str | None, limit: int, f: queries.ItemFilters, pointer: str | None
) -> None:
    regulator = world.org("regulator")
    if pointer is None:
        page = queries.query_items(world.ledger.store, regulator, f, cursor=cursor, limit=limit)
        assert page.items == []
        return
    with pytest.raises(ValidationError) as refused:
        queries.query_items(world.ledger.store, regulator, f, cursor=cursor, limit=limit)
    assert refused.value.pointer == pointer


@pytest.mark.parametrize("reader", ["regulator", "oem"])
def test_paging_while_writers_append_never_repeats_or_skips(world: World, reader: str) -> None:
    for n in range(24):
        known = world.register("oem" if n % 3 else "oem2", KINDS[n % len(KINDS)])
        if n % 2:
            world.record(known, "transferred", {"to_org": world.org("recycler").id})
    before = {k.id for k in world.known}
    caller = world.org(reader)
    visible = set(expected(world, caller, queries.ItemFilters()))
    written = threading.Semaphore(0)
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        # New items, and events that move existing ones (their last change, holder
        # and state), until the reader is done.
        try:
            n = 0
            while not stop.is_set():
                n += 1
                world.now[0] += timedelta(seconds=1)
                known = world.register("oem", KINDS[n % len(KINDS)])
                older = world.known[n % len(before)]
                if older.state == "registered" and older.holder == world.org("oem").id:
                    world.record(older, "retired", {"reason": "end of life"})
                world.record(known, "installed", {"site": "Plant 7"})
                written.release()
        except BaseException as exc:
            failures.append(exc)
            written.release()

    writer = threading.Thread(target=write)
    writer.start()
    seen: list[str] = []
    try:
        cursor, pages = None, 0
        while True:
            # Each page is read after at least one more write has committed.
            assert written.acquire(timeout=30)
            assert not failures, failures
            page = queries.query_items(
                world.ledger.store, caller, queries.ItemFilters(), cursor=cursor, limit=3
            )
            seen.extend(v.item.id for v in page.items)
            pages += 1
            if page.next_cursor is None or pages > 40:
                break
            cursor = page.next_cursor
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not failures, failures
    assert pages > 5
    assert len(seen) == len(set(seen)), "an item was shown twice"
    assert visible <= set(seen), "an item that existed before paging began was skipped"
    assert len(world.known) > len(before) + 5, "the writer did not run alongside"
