"""The storage contract (``ledger.store.base``) held against every store.

Each test runs on ``MemoryStore``, ``SqlStore`` on SQLite and ``SqlStore`` on
PostgreSQL (``contract_store``, see ``conftest.py``) and asserts only what the
Protocols promise, so it holds on all three: the log (head, range reads,
``append`` at an expected size and the Merkle nodes it stores, checked against
``hashing``'s reference tree), the projection beside it, and the write
transaction (all or nothing, savepoints, one writer at a time).

Isolation: a write is invisible to every other view until it commits, and
visible to every view opened after. Whether a reader opened *before* a commit
sees it afterwards differs (memory and SQLite keep a snapshot, PostgreSQL reads
committed), so that is not asserted. Orders by text use values that sort alike
in every collation.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hashing import EMPTY_ROOT, NodeId, root_from_leaves
from ledger.chain import ZERO_HASH, Entry, StoredEntry, build_entry
from ledger.codes import code_scope
from ledger.errors import ConcurrentAppendError, DuplicateError
from ledger.events import ItemKind
from ledger.lifecycle import Item, Role, State
from ledger.records import CheckpointRecord, IdempotentAnswer, IssuedKey, KeyRecord, OrgRecord
from ledger.store.base import CodeKey, LogReader, Reader, Store, Writer
from ledger.transparency import tree_root

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
_serials = itertools.count(1)


class Boom(Exception):
    """The caller's own failure inside a write (not a store error)."""


# -- factories -------------------------------------------------------------------


def make_entries(
    start: int, prev: str, items: Sequence[str | None], *, actor: str = "org_A"
) -> list[Entry]:
    """One entry per element of ``items`` (its item id or None), linked from ``prev``."""
    out: list[Entry] = []
    for seq, item in enumerate(items, start):
        entry = build_entry(
            seq=seq,
            now=NOW + timedelta(seconds=seq),
            actor=actor,
            item=item,
            type="noted",
            data={"n": seq, "by": actor, "note": "Zählerstand 412,5 kWh €"},
            prev=prev,
            item_prev=None,
        )
        out.append(entry)
        prev = entry.hash
    return out


def next_entries(r: LogReader, items: Sequence[str | None], *, actor: str = "org_A") -> list[Entry]:
    """Entries that continue the log ``r`` sees."""
    head = r.head()
    size, prev = head if head is not None else (0, ZERO_HASH)
    return make_entries(size, prev, items, actor=actor)


def append(store: Store, items: Sequence[str | None], *, actor: str = "org_A") -> list[Entry]:
    """Append (and commit) entries continuing the log; returns them."""
    with store.writer() as w:
        entries = next_entries(w, items, actor=actor)
        w.append(entries, expected_size=entries[0].seq)
    return entries


def stored(entries: Sequence[Entry]) -> list[StoredEntry]:
    return [StoredEntry(e.seq, e.hash, e.body, e.item, e.type, e.actor) for e in entries]


def leaves(entries: Sequence[Entry]) -> list[bytes]:
    return [bytes.fromhex(e.hash) for e in entries]


def expected_nodes(leaf_hashes: Sequence[bytes]) -> dict[NodeId, bytes]:
    """Every perfect subtree of the leaves, computed by ``hashing``'s reference tree."""
    out: dict[NodeId, bytes] = {}
    level = 0
    while (1 << level) <= len(leaf_hashes):
        width = 1 << level
        for index in range(len(leaf_hashes) // width):
            out[(level, index)] = root_from_leaves(leaf_hashes[index * width : (index + 1) * width])
        level += 1
    return out


def candidate_ids(span: int) -> list[NodeId]:
    """Every (level, index) of a tree of ``span`` leaves, and some beyond."""
    return [
        (level, index)
        for level in range(span.bit_length() + 1)
        for index in range((span >> level) + 2)
    ]


def make_item(
    kind: ItemKind = ItemKind.BATTERY_PACK,
    *,
    item_id: str | None = None,
    code: str | None = None,
    manufacturer: str = "org_M1",
    seq: int = 0,
    parent: str | None = None,
    state: State = State.REGISTERED,
) -> Item:
    n = next(_serials)
    return Item(
        id=item_id or f"itm_{n:08d}",
        kind=kind,
        code=code or f"CODE{n:08d}",
        state=state,
        holder=manufacturer,
        manufacturer=manufacturer,
        parent=parent,
        origin=None,
        attributes={"mass_kg": "412.5", "chemistry": "LFP", "serial": n},
        head=f"{n:064x}",
        head_seq=seq,
    )


def item_id(item: Item) -> str:
    return item.id


def code_key(item: Item) -> CodeKey:
    return (item.kind.value, code_scope(item.kind.value, item.manufacturer), item.code)


def make_org(name: str, role: Role = Role.OEM) -> OrgRecord:
    return OrgRecord(f"org_{name.upper()}", name, role, "CN")


def answer(n: int) -> IdempotentAnswer:
    # Sealed answers are opaque bytes: NUL and high bytes must round-trip.
    return IdempotentAnswer(f"{n:064x}", 1, bytes([0, 255, n % 256]) + b"sealed\x00answer")


def checkpoint(size: int) -> CheckpointRecord:
    return CheckpointRecord(
        size, f"{size:064x}", f"retrace.test/log\n{size}\nroot\n\n— sig\n", "2026-03-04T05:06:07Z"
    )


def views(store: Store) -> list[Callable[[], AbstractContextManager[Reader]]]:
    """Both ways of reading a store: one consistent view, and independent lookups."""
    return [store.reader, store.lookup]


# -- the log ---------------------------------------------------------------------


def test_an_empty_store_has_no_log_and_no_projection(contract_store: Store) -> None:
    contract_store.ping()
    for view in views(contract_store):
        with view() as r:
            assert r.head() is None
            assert r.size() == 0
            assert r.nodes([(0, 0), (0, 1), (1, 0), (3, 2)]) == {}
            assert tree_root(r, 0) == EMPTY_ROOT
            assert r.entries(0, 10) == []
            assert list(r.iter_entries()) == []
            assert r.recent_entries(10) == []
            assert r.item_entries("itm_A") == []
            assert r.items_entries(["itm_A"]) == {}
            assert list(r.iter_items()) == []
            assert (r.count_items(), r.item_counts()) == (0, {})
            assert r.orgs() == []
            assert r.checkpoints() == []
            assert r.latest_checkpoint() is None
            assert r.witness_keys() == []


def test_appended_entries_read_back_in_seq_order(contract_store: Store) -> None:
    first = append(contract_store, [None, None, None])
    with contract_store.writer() as w:
        second = next_entries(w, ["itm_A", "itm_B", "itm_A", None, "itm_A"], actor="org_B")
        w.append(second, expected_size=3)
        # The write reads its own entries before it commits.
        assert w.head() == (8, second[-1].hash)
        assert w.entries(3, 10) == stored(second)
    log = first + second

    for view in views(contract_store):
        with view() as r:
            assert r.head() == (8, log[-1].hash)
            assert r.size() == 8
            assert r.entries(0, 100) == stored(log)
            assert r.entries(2, 3) == stored(log[2:5])  # across the two appends
            assert r.entries(7, 5) == stored(log[7:])
            assert r.entries(8, 5) == []
            for batch in (1, 3, 8, 5000):
                assert list(r.iter_entries(batch)) == stored(log)
            assert r.recent_entries(3) == stored(log[::-1][:3])
            assert r.recent_entries(100) == stored(log[::-1])
            assert r.item_entries("itm_A") == stored([log[3], log[5], log[7]])
            assert r.item_entries("itm_B") == stored([log[4]])
            assert r.item_entries("itm_C") == []

    # Many items at once: past SQLite's IN list of 500, sorted so the items with
    # entries come in the third; and by the report tables' name for the same read.
    many = [f"itm_{n:04d}" for n in range(1200)] + ["itm_B", "itm_C", "itm_A", "itm_B"]
    by_item = {"itm_A": stored([log[3], log[5], log[7]]), "itm_B": stored([log[4]])}
    for view in views(contract_store):
        with view() as r:
            assert r.items_entries(many) == by_item
            assert r.items_entries(["itm_C"]) == {}
            assert r.items_entries([]) == {}
    with contract_store.reports() as tables:
        assert tables.entries_of(many) == by_item
        # What a slice of the log touches: its count, each item with its last seq there.
        assert tables.touched(0, 100) == (8, {"itm_A": 7, "itm_B": 4})
        assert tables.touched(2, 3) == (3, {"itm_A": 3, "itm_B": 4})
        assert tables.touched(6, 5) == (2, {"itm_A": 7})
        assert tables.touched(8, 5) == (0, {})


@pytest.mark.parametrize(
    ("expected_size", "first_seq", "count"),
    [
        pytest.param(0, 0, 1, id="stale-at-0"),
        pytest.param(2, 2, 3, id="stale-overlapping"),
        pytest.param(4, 4, 1, id="ahead-even"),
        pytest.param(5, 5, 2, id="ahead-odd"),
        pytest.param(3, 4, 1, id="entries-skip-a-seq"),
    ],
)
def test_append_at_a_size_the_log_is_not_raises_and_keeps_nothing(
    contract_store: Store, expected_size: int, first_seq: int, count: int
) -> None:
    log = append(contract_store, [None, None, None])
    prev = ZERO_HASH if first_seq == 0 else "ab" * 32
    stray = make_entries(first_seq, prev, [None] * count, actor="org_B")

    with pytest.raises(ConcurrentAppendError), contract_store.writer() as w:
        w.append(stray, expected_size=expected_size)

    with contract_store.reader() as r:
        assert r.head() == (3, log[-1].hash)
        assert list(r.iter_entries()) == stored(log)
        assert r.nodes(candidate_ids(16)) == expected_nodes(leaves(log))
    # The log goes on from where it was.
    more = append(contract_store, [None])
    with contract_store.reader() as r:
        assert r.head() == (4, more[0].hash)


def test_stored_merkle_nodes_match_the_reference_tree(contract_store: Store) -> None:
    log: list[Entry] = []
    # Sizes 1, 3, 6, 11, 12, 20, 33: subtrees completed across append boundaries.
    for batch in (1, 2, 3, 5, 1, 8, 13):
        log += append(contract_store, [None] * batch)
        hashes = leaves(log)
        with contract_store.reader() as r:
            # Every complete subtree is stored with the reference hash; nothing else is.
            assert r.nodes(candidate_ids(64)) == expected_nodes(hashes)
            for size in range(1, len(log) + 1):
                assert tree_root(r, size) == root_from_leaves(hashes[:size]), size


# -- the write transaction -------------------------------------------------------


def write_everything(w: Writer, org: OrgRecord) -> None:
    """One of every write a store offers (``org`` is committed already)."""
    entries = next_entries(w, ["itm_X", None])
    w.append(entries, expected_size=entries[0].seq)
    w.insert_items([make_item(item_id="itm_X", code="X-1", seq=entries[0].seq)])
    w.update_items([make_item(item_id="itm_KEPT", code="KEPT-1", state=State.RETIRED)])
    w.insert_org(make_org("Beta"), entries[1].seq)
    w.insert_key("key_NEW", org.id, "e" * 64, entries[1].seq)
    w.revoke_key("key_KEPT", entries[1].seq)
    w.save_idempotent_answer(org.id, "idem-1", answer(1), "2026-03-04T05:06:07Z")
    w.insert_checkpoint(checkpoint(entries[1].seq + 1))
    w.insert_witness("witness-b", org.id, "witness-b+00000001+AAAA", "2026-03-04T05:06:07Z")
    w.save_cosignature(entries[1].seq + 1, "witness-b", "— witness-b AAAA", 1)


def assert_nothing_written(r: Reader, org: OrgRecord, kept_item: Item) -> None:
    assert r.item("itm_X") is None
    assert r.item(kept_item.id) == kept_item
    assert r.count_items() == 1
    assert r.existing_codes([("battery_pack", "", "X-1")]) == set()
    assert r.orgs() == [org]
    assert r.key("key_NEW") is None
    assert r.key_by_hash("e" * 64) is None
    assert r.key("key_KEPT") == KeyRecord("key_KEPT", org.id, False)
    assert r.idempotent_answer(org.id, "idem-1") is None
    assert r.checkpoints() == []
    assert r.witness("witness-b") is None
    assert r.last_cosigned_size("witness-b") is None


@pytest.mark.parametrize("failure", ["caller", "store"])
def test_a_write_that_raises_keeps_nothing(contract_store: Store, failure: str) -> None:
    base = append(contract_store, [None, None])
    org = make_org("Alpha")
    kept = make_item(item_id="itm_KEPT", code="KEPT-1", seq=1)
    with contract_store.writer() as w:
        w.insert_org(org, 0)
        w.insert_key("key_KEPT", org.id, "k" * 64, 1)
        w.insert_items([kept])

    def doomed(w: Writer) -> None:
        write_everything(w, org)
        assert w.size() == 4  # the write sees itself
        if failure == "caller":
            raise Boom
        w.insert_org(make_org("Alpha"), 9)  # the store refuses: the name is taken

    raised: type[Exception] = Boom if failure == "caller" else DuplicateError
    with pytest.raises(raised), contract_store.writer() as w:
        doomed(w)

    for view in views(contract_store):
        with view() as r:
            assert r.head() == (2, base[-1].hash)
            assert r.nodes(candidate_ids(8)) == expected_nodes(leaves(base))
            assert_nothing_written(r, org, kept)


def test_a_savepoint_undoes_only_what_ran_inside_it(contract_store: Store) -> None:
    org = make_org("Alpha")
    kept = make_item(item_id="itm_KEPT", code="KEPT-1", seq=0)
    with contract_store.writer() as w:
        before = next_entries(w, [None])
        w.append(before, expected_size=0)
        w.insert_org(org, 0)
        w.insert_key("key_KEPT", org.id, "k" * 64, 0)
        w.insert_items([kept])

        def doomed() -> None:
            write_everything(w, org)
            assert w.size() == 3  # the savepoint sees itself
            raise Boom

        with pytest.raises(Boom), w.savepoint():
            doomed()

        assert w.head() == (1, before[0].hash)
        assert_nothing_written(w, org, kept)
        # The write goes on after the savepoint, over the same seqs and nodes.
        after = next_entries(w, ["itm_Y", None], actor="org_B")
        w.append(after, expected_size=1)
        w.insert_items([make_item(item_id="itm_Y", code="Y-1", seq=1)])
        w.insert_org(make_org("Gamma"), 2)

    log = before + after
    with contract_store.reader() as r:
        assert list(r.iter_entries()) == stored(log)
        assert r.nodes(candidate_ids(8)) == expected_nodes(leaves(log))
        assert r.item("itm_X") is None
        assert r.item("itm_Y") is not None
        assert [o.name for o in r.orgs()] == ["Alpha", "Gamma"]
        assert r.key("key_NEW") is None
        assert r.idempotent_answer(org.id, "idem-1") is None
        assert r.checkpoints() == []


@pytest.mark.parametrize("refusal", ["duplicate-code", "duplicate-org", "stale-append"])
def test_a_write_goes_on_after_a_store_refusal_in_a_savepoint(
    contract_store: Store, refusal: str
) -> None:
    taken = make_item(code="TAKEN-1")
    first = append(contract_store, [None])
    with contract_store.writer() as w:
        w.insert_org(make_org("Alpha"), 0)
        w.insert_items([taken])

    def refused(w: Writer) -> None:
        w.insert_org(make_org("Beta"), 1)
        if refusal == "duplicate-code":
            w.insert_items([make_item(code="TAKEN-1")])
        elif refusal == "duplicate-org":
            w.insert_org(make_org("Alpha"), 1)
        else:
            w.append(make_entries(0, ZERO_HASH, [None], actor="org_B"), expected_size=0)

    raised = ConcurrentAppendError if refusal == "stale-append" else DuplicateError
    with contract_store.writer() as w:
        with pytest.raises(raised), w.savepoint():
            refused(w)
        assert w.org_by_name("Beta") is None
        second = next_entries(w, [None])
        w.append(second, expected_size=1)
        w.insert_org(make_org("Gamma"), 1)

    with contract_store.reader() as r:
        assert list(r.iter_entries()) == stored(first + second)
        assert [o.name for o in r.orgs()] == ["Alpha", "Gamma"]
        assert r.count_items() == 1


def test_a_write_is_invisible_until_it_commits(contract_store: Store) -> None:
    base = append(contract_store, [None])
    org = make_org("Alpha")
    item = make_item(item_id="itm_A", seq=1)
    with contract_store.writer() as w:
        new = next_entries(w, ["itm_A"])
        w.append(new, expected_size=1)
        w.insert_items([item])
        w.insert_org(org, 1)
        for view in views(contract_store):
            with view() as r:
                assert r.head() == (1, base[0].hash)
                assert r.nodes([(0, 1), (1, 0)]) == {}
                assert r.item("itm_A") is None
                assert r.org(org.id) is None

    for view in views(contract_store):
        with view() as r:
            assert r.head() == (2, new[0].hash)
            assert r.nodes([(1, 0)]) == {(1, 0): root_from_leaves(leaves(base + new))}
            assert r.item("itm_A") == item
            assert r.org(org.id) == org


def test_of_two_writers_at_one_size_exactly_one_wins(contract_store: Store) -> None:
    log = append(contract_store, [None, None, None])
    barrier = threading.Barrier(2)

    def race(actor: str) -> Entry | None:
        with contract_store.reader() as r:
            mine = next_entries(r, [None], actor=actor)
        barrier.wait(timeout=30)
        try:
            with contract_store.writer() as w:
                w.append(mine, expected_size=mine[0].seq)
                time.sleep(0.05)  # a slow commit: the other writer must wait for it, or lose
        except ConcurrentAppendError:
            return None
        return mine[0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(5):
            outcomes = list(pool.map(race, ["org_A", "org_B"]))
            winners = [e for e in outcomes if e is not None]
            assert len(winners) == 1, outcomes
            log += winners

    with contract_store.reader() as r:
        assert r.head() == (8, log[-1].hash)
        assert list(r.iter_entries()) == stored(log)
        assert r.nodes(candidate_ids(16)) == expected_nodes(leaves(log))


def test_migrate_again_keeps_everything(contract_store: Store) -> None:
    log = append(contract_store, [None, None])
    with contract_store.writer() as w:
        w.insert_org(make_org("Alpha"), 0)
    contract_store.migrate()
    contract_store.ping()
    with contract_store.reader() as r:
        assert list(r.iter_entries()) == stored(log)
        assert r.orgs() == [make_org("Alpha")]


# -- items -----------------------------------------------------------------------


def test_items_read_back_by_id_ids_and_codes(contract_store: Store) -> None:
    pack = make_item(item_id="itm_P", code="PACK-1", seq=0)
    # Inserted out of id order: children and iter_items sort by id.
    module_2 = make_item(ItemKind.BATTERY_MODULE, item_id="itm_P2", code="MOD-2", parent="itm_P")
    module_1 = make_item(ItemKind.BATTERY_MODULE, item_id="itm_P1", code="MOD-1", parent="itm_P")
    panel = make_item(ItemKind.PV_MODULE, item_id="itm_V", code="PACK-1", seq=3)
    with contract_store.writer() as w:
        w.insert_items([pack, module_2])
        w.insert_items([panel, module_1])

    for view in views(contract_store):
        with view() as r:
            assert r.item("itm_P") == pack
            assert r.item("itm_P2") == module_2
            assert r.item("itm_Q") is None
            assert r.items_by_ids(["itm_P", "itm_V", "itm_Q", "itm_P"]) == {
                "itm_P": pack,
                "itm_V": panel,
            }
            assert r.items_by_ids([]) == {}
            many = [f"itm_{n:04d}" for n in range(1200)]  # past SQLite's IN list of 500
            assert r.items_by_ids([*many, "itm_V"]) == {"itm_V": panel}
            assert r.children("itm_P") == ["itm_P1", "itm_P2"]
            assert r.children("itm_P1") == []
            assert [i.id for i in r.iter_items()] == ["itm_P", "itm_P1", "itm_P2", "itm_V"]
            assert r.count_items() == 4

            def by_codes(codes: list[str], kinds: list[str], r: Reader = r) -> list[Item]:
                return sorted(r.items_by_codes(codes, kinds), key=item_id)

            assert by_codes(["PACK-1"], ["battery_pack"]) == [pack]
            assert by_codes(["PACK-1"], ["battery_pack", "pv_module"]) == [pack, panel]
            assert by_codes(["PACK-1"], ["battery_module"]) == []
            assert by_codes(["MOD-1", "MOD-2"], ["battery_module"]) == [module_1, module_2]
            assert by_codes(["MOD-1", "MOD-2", "PACK-1", "NONE"], [k.value for k in ItemKind]) == [
                pack,
                module_1,
                module_2,
                panel,
            ]
            assert by_codes(["NONE"], ["battery_pack"]) == []
            assert by_codes([], ["battery_pack"]) == []


def test_existing_codes_tells_which_keys_are_taken(contract_store: Store) -> None:
    pack = make_item(code="PACK-1", manufacturer="org_M1")
    panel = make_item(ItemKind.PV_MODULE, code="SER-1", manufacturer="org_M1")
    with contract_store.writer() as w:
        w.insert_items([pack, panel])

    with contract_store.reader() as r:
        assert code_key(pack) == ("battery_pack", "", "PACK-1")
        assert code_key(panel) == ("pv_module", "org_M1", "SER-1")
        assert r.existing_codes([code_key(pack)]) == {code_key(pack)}
        assert r.existing_codes([code_key(panel)]) == {code_key(panel)}
        # The same serial under another manufacturer, or the same code of another kind, is free.
        free = [("pv_module", "org_M2", "SER-1"), ("battery_module", "", "PACK-1")]
        for key in free:
            assert r.existing_codes([key]) == set()
        assert r.existing_codes([code_key(pack), code_key(panel), *free]) == {
            code_key(pack),
            code_key(panel),
        }
        assert r.existing_codes([]) == set()


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        pytest.param(
            (ItemKind.BATTERY_PACK, "org_M1"),
            (ItemKind.BATTERY_PACK, "org_M2"),
            True,
            id="battery-code-unique-per-kind",
        ),
        pytest.param(
            (ItemKind.PV_MODULE, "org_M1"),
            (ItemKind.PV_MODULE, "org_M1"),
            True,
            id="pv-serial-same-maker",
        ),
        pytest.param(
            (ItemKind.PV_MODULE, "org_M1"),
            (ItemKind.PV_MODULE, "org_M2"),
            False,
            id="pv-serial-other-maker",
        ),
        pytest.param(
            (ItemKind.WIND_BLADE, "org_M1"),
            (ItemKind.WIND_BLADE, "org_M2"),
            False,
            id="blade-serial-other-maker",
        ),
        pytest.param(
            (ItemKind.BATTERY_PACK, "org_M1"),
            (ItemKind.BATTERY_MODULE, "org_M1"),
            False,
            id="battery-code-other-kind",
        ),
    ],
)
@pytest.mark.parametrize("together", [False, True], ids=["apart", "one-batch"])
def test_a_code_taken_in_its_scope_raises_duplicate(
    contract_store: Store,
    first: tuple[ItemKind, str],
    second: tuple[ItemKind, str],
    clash: bool,
    together: bool,
) -> None:
    one = make_item(first[0], code="SAME-1", manufacturer=first[1])
    two = make_item(second[0], code="SAME-1", manufacturer=second[1])

    def insert() -> None:
        with contract_store.writer() as w:
            w.insert_org(make_org("Beta"), 1)
            w.insert_items([one, two] if together else [two])

    if not together:
        with contract_store.writer() as w:
            w.insert_items([one])
    if clash:
        with pytest.raises(DuplicateError):
            insert()
    else:
        insert()

    with contract_store.reader() as r:
        assert r.item(two.id) == (None if clash else two)
        assert r.item(one.id) == (None if clash and together else one)
        assert r.orgs() == ([] if clash else [make_org("Beta")])
        assert r.existing_codes([code_key(two)]) == (
            set() if clash and together else {code_key(two)}
        )


def test_update_items_rewrites_rows_but_keeps_their_registration_order(
    contract_store: Store,
) -> None:
    first = make_item(item_id="itm_A", code="A-1", seq=1)
    second = make_item(item_id="itm_B", code="B-1", seq=2)
    with contract_store.writer() as w:
        w.insert_items([first, second])

    moved = Item(
        id="itm_A",
        kind=first.kind,
        code=first.code,
        state=State.IN_SERVICE,
        holder="org_OP",
        manufacturer=first.manufacturer,
        parent=None,
        origin="itm_B",
        attributes={"mass_kg": "400", "note": "Ünïcode"},
        head="f" * 64,
        head_seq=9,
    )
    ghost = make_item(item_id="itm_GHOST", code="G-1")
    with contract_store.writer() as w:
        w.update_items([moved, ghost])
        w.update_items([])

    with contract_store.reader() as r:
        assert r.item("itm_A") == moved
        assert r.item("itm_B") == second
        assert r.item("itm_GHOST") is None  # an update inserts nothing
        assert r.count_items() == 2
        assert r.items_registered_by("org_M1") == [moved, second]
        assert r.item_counts() == {
            ("battery_pack", "in_service"): 1,
            ("battery_pack", "registered"): 1,
        }


def test_items_registered_by_lists_a_makers_items_oldest_first(contract_store: Store) -> None:
    late = make_item(item_id="itm_A", seq=7)
    early = make_item(item_id="itm_B", seq=2)
    middle = make_item(ItemKind.PV_MODULE, item_id="itm_C", seq=4)
    other = make_item(item_id="itm_D", seq=3, manufacturer="org_M2")
    with contract_store.writer() as w:
        w.insert_items([late, other])
        w.insert_items([early, middle])

    with contract_store.reader() as r:
        assert r.items_registered_by("org_M1") == [early, middle, late]
        assert r.items_registered_by("org_M2") == [other]
        assert r.items_registered_by("org_M3") == []


def test_replace_items_swaps_the_whole_projection(contract_store: Store) -> None:
    gone = make_item(item_id="itm_A", code="A-1", seq=0)
    kept = make_item(item_id="itm_B", code="B-1", seq=1)
    with contract_store.writer() as w:
        w.insert_items([gone, kept])

    rebuilt = replace(kept, state=State.RETIRED, head_seq=8)
    added = make_item(ItemKind.WIND_BLADE, item_id="itm_C", code="C-1", seq=6)
    with contract_store.writer() as w:
        w.replace_items([rebuilt, added], {"itm_B": 5, "itm_C": 2})

    with contract_store.reader() as r:
        assert r.item("itm_A") is None
        assert list(r.iter_items()) == [rebuilt, added]
        assert r.items_registered_by("org_M1") == [added, rebuilt]  # by the given created seqs
        assert r.existing_codes([code_key(gone)]) == set()
        assert r.existing_codes([code_key(rebuilt)]) == {code_key(rebuilt)}

    # The replaced code is free again; the kept one is still taken.
    with contract_store.writer() as w:
        w.insert_items([make_item(code="A-1")])
    with pytest.raises(DuplicateError), contract_store.writer() as w:
        w.insert_items([make_item(code="B-1")])

    with contract_store.writer() as w:
        w.replace_items([], {})
    with contract_store.reader() as r:
        assert r.count_items() == 0


def test_item_counts_per_kind_and_state(contract_store: Store) -> None:
    with contract_store.writer() as w:
        w.insert_items(
            [
                make_item(ItemKind.BATTERY_PACK),
                make_item(ItemKind.BATTERY_PACK),
                make_item(ItemKind.BATTERY_PACK, state=State.RETIRED),
                make_item(ItemKind.PV_MODULE, state=State.RETIRED),
                make_item(ItemKind.WIND_BLADE, state=State.RECYCLED),
            ]
        )

    with contract_store.reader() as r:
        assert r.item_counts() == {
            ("battery_pack", "registered"): 2,
            ("battery_pack", "retired"): 1,
            ("pv_module", "retired"): 1,
            ("wind_blade", "recycled"): 1,
        }
        assert r.count_items() == 5


# -- orgs and keys ---------------------------------------------------------------


def test_orgs_read_back_oldest_first(contract_store: Store) -> None:
    # Inserted neither in seq order nor in name order.
    regulator = make_org("Mid", Role.REGULATOR)
    admin = make_org("Zeta", Role.ADMIN)
    recycler = make_org("Alpha", Role.RECYCLER)
    with contract_store.writer() as w:
        w.insert_org(recycler, 5)
        w.insert_org(admin, 0)
    with contract_store.writer() as w:
        w.insert_org(regulator, 2)

    for view in views(contract_store):
        with view() as r:
            assert r.orgs() == [admin, regulator, recycler]
            assert r.org(recycler.id) == recycler
            assert r.org("org_NONE") is None
            assert r.org_by_name("Mid") == regulator
            assert r.org_by_name("mid") is None
            assert r.org_by_name("Nobody") is None


def test_an_org_name_taken_raises_duplicate(contract_store: Store) -> None:
    first = make_org("Alpha")
    with contract_store.writer() as w:
        w.insert_org(first, 0)

    def insert(w: Writer, again: OrgRecord) -> None:
        w.insert_org(make_org("Beta"), 1)
        w.insert_org(again, 2)

    for again in (OrgRecord("org_OTHER", "Alpha", Role.RECYCLER, "DE"), first):
        with pytest.raises(DuplicateError), contract_store.writer() as w:
            insert(w, again)

    with contract_store.reader() as r:
        assert r.orgs() == [first]
        assert r.org("org_OTHER") is None


def test_keys_are_found_by_hash_with_their_org_and_revoked(contract_store: Store) -> None:
    org = make_org("Alpha")
    other = make_org("Beta", Role.RECYCLER)
    with contract_store.writer() as w:
        w.insert_org(org, 0)
        w.insert_org(other, 1)
        w.insert_key("key_A", org.id, "a" * 64, 2)
        w.insert_key("key_B", other.id, "b" * 64, 3)

    with contract_store.reader() as r:
        assert r.key_by_hash("a" * 64) == (KeyRecord("key_A", org.id, False), org)
        assert r.key_by_hash("b" * 64) == (KeyRecord("key_B", other.id, False), other)
        assert r.key_by_hash("c" * 64) is None
        assert r.key("key_A") == KeyRecord("key_A", org.id, False)
        assert r.key("key_NONE") is None

    with contract_store.writer() as w:
        w.revoke_key("key_A", 4)

    for view in views(contract_store):
        with view() as r:
            assert r.key("key_A") == KeyRecord("key_A", org.id, True)
            assert r.key_by_hash("a" * 64) == (KeyRecord("key_A", org.id, True), org)
            assert r.key("key_B") == KeyRecord("key_B", other.id, False)


def test_api_keys_list_in_issue_order_with_their_entries(contract_store: Store) -> None:
    org = make_org("Alpha")
    other = make_org("Beta", Role.RECYCLER)
    with contract_store.writer() as w:
        w.insert_org(org, 0)
        w.insert_org(other, 1)
        # Ids that sort against the issue order: the order is the entries'.
        w.insert_key("key_Z", org.id, "a" * 64, 2)
        w.insert_key("key_A", other.id, "b" * 64, 3)
        w.insert_key("key_M", org.id, "c" * 64, 4)
    with contract_store.writer() as w:
        w.revoke_key("key_Z", 5)

    for view in views(contract_store):
        with view() as r:
            assert r.api_keys() == [
                IssuedKey("key_Z", org.id, 2, 5),
                IssuedKey("key_A", other.id, 3, None),
                IssuedKey("key_M", org.id, 4, None),
            ]
            assert [k.id for k in r.api_keys(org.id)] == ["key_Z", "key_M"]
            assert [k.revoked for k in r.api_keys(org.id)] == [True, False]
            assert r.api_keys("org_NONE") == []


# -- checkpoints, witnesses, cosignatures, answers ------------------------------


def test_checkpoints_read_back_by_size(contract_store: Store) -> None:
    with contract_store.writer() as w:
        w.insert_checkpoint(checkpoint(3))
        w.insert_checkpoint(checkpoint(12))
    with contract_store.writer() as w:
        w.insert_checkpoint(checkpoint(7))

    with contract_store.reader() as r:
        assert r.latest_checkpoint() == checkpoint(12)
        assert r.checkpoint(7) == checkpoint(7)
        assert r.checkpoint(4) is None
        assert r.checkpoints() == [checkpoint(3), checkpoint(7), checkpoint(12)]


def test_witnesses_and_their_newest_cosignatures(contract_store: Store) -> None:
    with contract_store.writer() as w:
        w.insert_witness("witness-b", "org_R1", "witness-b+0002+BBBB", "2026-03-04T05:06:07Z")
        w.insert_witness("witness-a", "org_R2", "witness-a+0001+AAAA", "2026-03-04T05:06:07Z")
        w.insert_witness("witness-c", "org_R1", "witness-c+0003+CCCC", "2026-03-04T05:06:07Z")
        w.save_cosignature(5, "witness-b", "— witness-b old", 100)
        w.save_cosignature(5, "witness-c", "— witness-c first", 100)
        w.save_cosignature(5, "witness-c", "— witness-c again", 101)  # in one write
    with contract_store.writer() as w:
        w.save_cosignature(5, "witness-a", "— witness-a", 102)
        w.save_cosignature(5, "witness-b", "— witness-b new", 103)  # in a later write
        w.save_cosignature(9, "witness-a", "— witness-a at 9", 104)

    for view in views(contract_store):
        with view() as r:
            assert r.witness("witness-a") == "witness-a+0001+AAAA"
            assert r.witness("witness-z") is None
            assert r.witness_keys() == [
                "witness-a+0001+AAAA",
                "witness-b+0002+BBBB",
                "witness-c+0003+CCCC",
            ]
            assert r.witness_keys("org_R1") == ["witness-b+0002+BBBB", "witness-c+0003+CCCC"]
            assert r.witness_keys("org_R9") == []
            assert r.cosignature_lines(5) == [
                "— witness-a",
                "— witness-b new",
                "— witness-c again",
            ]
            assert r.cosignature_lines(9) == ["— witness-a at 9"]
            assert r.cosignature_lines(7) == []
            assert r.last_cosigned_size("witness-a") == 9
            assert r.last_cosigned_size("witness-b") == 5
            assert r.last_cosigned_size("witness-z") is None


def test_idempotent_answers_round_trip_per_org_and_key(contract_store: Store) -> None:
    with contract_store.writer() as w:
        w.save_idempotent_answer("org_A", "key-1", answer(1), "2026-03-04T05:06:07Z")
        w.save_idempotent_answer("org_A", "key-2", answer(2), "2026-03-04T05:06:08Z")
        w.save_idempotent_answer("org_B", "key-1", answer(3), "2026-03-04T05:06:09Z")

    for view in views(contract_store):
        with view() as r:
            assert r.idempotent_answer("org_A", "key-1") == answer(1)
            assert r.idempotent_answer("org_A", "key-2") == answer(2)
            assert r.idempotent_answer("org_B", "key-1") == answer(3)
            assert r.idempotent_answer("org_B", "key-2") is None
            assert r.idempotent_answer("org_C", "key-1") is None


@pytest.mark.parametrize("row", ["answer", "checkpoint", "witness"])
def test_a_second_row_under_one_key_raises_duplicate(contract_store: Store, row: str) -> None:
    def write(w: Writer, n: int) -> None:
        if row == "answer":
            w.save_idempotent_answer("org_A", "key-1", answer(n), "2026-03-04T05:06:07Z")
        elif row == "checkpoint":
            w.insert_checkpoint(CheckpointRecord(5, f"{n:064x}", f"note {n}", "2026-03-04Z"))
        else:
            w.insert_witness("witness-a", f"org_R{n}", f"witness-a+{n}+AAAA", "2026-03-04Z")

    with contract_store.writer() as w:
        write(w, 1)

    def again(w: Writer) -> None:
        w.insert_org(make_org("Beta"), 1)
        write(w, 2)

    with pytest.raises(DuplicateError), contract_store.writer() as w:
        again(w)

    with contract_store.reader() as r:
        assert r.idempotent_answer("org_A", "key-1") == (answer(1) if row == "answer" else None)
        assert [c.root for c in r.checkpoints()] == (["1".zfill(64)] if row == "checkpoint" else [])
        assert r.witness_keys() == (["witness-a+1+AAAA"] if row == "witness" else [])
        assert r.orgs() == []


# -- pipelined writes --------------------------------------------------------------


def test_pipelined_writes_land_together_and_read_back(contract_store: Store) -> None:
    first = append(contract_store, ["itm_A", None])
    item, other = make_item(seq=2), make_item(seq=3)
    with contract_store.writer() as w:
        w.insert_items([other])
    changed = replace(other, state=State.RETIRED, head_seq=3)
    with contract_store.writer() as w:
        entries = next_entries(w, [item.id, None, other.id])
        with w.together():
            w.append(entries, expected_size=2)
            w.insert_items([item])
            w.update_items([changed])
    every = [*first, *entries]
    with contract_store.reader() as r:
        assert r.entries(0, 10) == stored(every)
        assert r.item(item.id) == item
        assert r.item(other.id) == changed
        assert r.nodes(candidate_ids(len(every))) == expected_nodes(leaves(every))


def test_a_clash_in_a_pipeline_raises_duplicate_and_keeps_nothing(contract_store: Store) -> None:
    taken = make_item(code="TAKEN-1")
    with contract_store.writer() as w:
        w.insert_items([taken])
    append(contract_store, [None])
    again = make_item(code="TAKEN-1")

    def clash() -> None:
        with contract_store.writer() as w:
            entries = next_entries(w, [again.id])
            with w.together():
                w.append(entries, expected_size=entries[0].seq)
                w.insert_items([again])

    with pytest.raises(DuplicateError):
        clash()
    with contract_store.reader() as r:
        assert r.size() == 1
        assert r.item(again.id) is None
        assert r.existing_codes([code_key(again)]) == {code_key(taken)}
    # The store takes the next write as if nothing had happened.
    append(contract_store, [again.id])
