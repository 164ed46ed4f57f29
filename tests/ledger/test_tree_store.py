"""The stored Merkle tree against the reference tree math, on SQLite and PostgreSQL.

One log of 2,000 entries per backend, written in bulk transactions of uneven sizes; for
random sizes m <= n <= 2,000 every inclusion and consistency proof the store serves must
verify against ``root_from_leaves`` of the stored leaf hashes, and must fail against a log
with one leaf changed. A writer killed with SIGKILL while appending must leave entries and
tree nodes agreeing: every perfect subtree of the final size is stored, with the right
hash, and nothing beyond it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import create_admin
from hashing import (
    ProofError,
    TreeFrontier,
    generate_private_key,
    root_at,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from ledger import items, orgs
from ledger.commit import Tx
from ledger.errors import ValidationError
from ledger.lifecycle import Role
from ledger.records import OrgRecord
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from ledger.store.tables import TreeNodeRow, TreeTileRow
from ledger.transparency import Transparency, tree_root
from ledger.verify import verify_log

SIZE = 2000
# Uneven transactions, so node completion crosses batch boundaries in every way.
BATCHES = (1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610)
_nodes = TreeNodeRow.__table__  # type: ignore[attr-defined]
_tiles = TreeTileRow.__table__  # type: ignore[attr-defined]
ROOT = Path(__file__).resolve().parents[2]


def clock() -> datetime:
    return datetime(2026, 11, 29, tzinfo=UTC)


def make_oem(ledger: Ledger) -> OrgRecord:
    admin = create_admin(ledger).org
    return ledger.write(lambda tx: orgs.create_org(tx, admin, "Tree OEM", Role.OEM, "CN")).org


def fill(ledger: Ledger, oem: OrgRecord, size: int) -> None:
    """Register PV modules in uneven bulk writes until the log has ``size`` entries."""
    serial = itertools.count()
    for batch in itertools.cycle(BATCHES):
        with ledger.store.reader() as r:
            left = size - r.size()
        if left <= 0:
            return

        def register_batch(tx: Tx, n: int = min(batch, left)) -> list[items.Written]:
            return [
                items.register(tx, oem, {"kind": "pv_module", "code": f"PV-T-{next(serial):06d}"})
                for _ in range(n)
            ]

        ledger.write(register_batch)


def stored_leaves(store: SqlStore) -> list[bytes]:
    with store.reader() as r:
        return [bytes.fromhex(row.hash) for row in r.iter_entries()]


def stored_nodes(store: SqlStore) -> dict[tuple[int, int], bytes]:
    with store.reader() as r:
        rows = r.conn.execute(sa.select(_nodes.c.level, _nodes.c.idx, _nodes.c.hash))
        return {(row.level, row.idx): bytes(row.hash) for row in rows}


def stored_tiles(store: SqlStore) -> dict[tuple[int, int], bytes]:
    with store.reader() as r:
        rows = r.conn.execute(sa.select(_tiles.c.level, _tiles.c.idx, _tiles.c.hashes))
        return {(row.level, row.idx): bytes(row.hashes) for row in rows}


def expected_tiles(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete tile of the tree over ``leaves``, from the leaves alone."""
    nodes = {**perfect_nodes(leaves), **{(0, i): leaf for i, leaf in enumerate(leaves)}}
    tiles: dict[tuple[int, int], bytes] = {}
    for level in itertools.count():
        row = sorted((i, h) for (lv, i), h in nodes.items() if lv == 8 * level)
        if len(row) < 256:
            return tiles
        for t in range(len(row) // 256):
            tiles[(level, t)] = b"".join(h for _, h in row[t * 256 : (t + 1) * 256])
    return tiles


def perfect_nodes(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect subtree above the leaves, computed level by level."""
    nodes: dict[tuple[int, int], bytes] = {}
    level, row = 0, leaves
    while len(row) > 1:
        level += 1
        row = [
            hashlib.sha256(b"\x01" + row[i] + row[i + 1]).digest()
            for i in range(0, len(row) - 1, 2)
        ]
        nodes.update(((level, index), node) for index, node in enumerate(row))
    return nodes


def assert_tree_agrees_with_entries(store: SqlStore) -> int:
    """Entries and tree nodes agree at the log's size; returns that size."""
    leaves = stored_leaves(store)
    nodes = stored_nodes(store)
    assert nodes == perfect_nodes(leaves)
    assert stored_tiles(store) == expected_tiles(leaves)
    everything = {**nodes, **{(0, i): leaf for i, leaf in enumerate(leaves)}}
    assert root_at(len(leaves), lambda level, i: everything[(level, i)]) == root_from_leaves(leaves)
    with store.reader() as r:
        assert tree_root(r, len(leaves)) == root_from_leaves(leaves)
    return len(leaves)


def changed(leaves: list[bytes], index: int) -> list[bytes]:
    other = list(leaves)
    other[index] = hashlib.sha256(b"changed" + leaves[index]).digest()
    return other


def test_served_proofs_verify_against_the_leaves_and_fail_against_a_changed_log(
    store: SqlStore,
) -> None:
    ledger = Ledger(store, clock=clock)
    fill(ledger, make_oem(ledger), SIZE)
    tlog = Transparency(store, generate_private_key(), "test.example/log", clock)
    leaves = stored_leaves(store)
    assert len(leaves) == SIZE
    assert_tree_agrees_with_entries(store)
    frontier, roots = TreeFrontier(), [root_from_leaves([])]
    for leaf in leaves:
        frontier.append(leaf)
        roots.append(frontier.root())

    @settings(
        max_examples=120,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        n = data.draw(st.integers(1, SIZE), label="n")
        m = data.draw(st.integers(1, n), label="m")
        index = data.draw(st.integers(0, n - 1), label="index")
        j = data.draw(st.integers(0, n - 1), label="changed leaf")

        inclusion = tlog.inclusion(index, n)
        path = [bytes.fromhex(p) for p in inclusion.proof]
        assert bytes.fromhex(inclusion.leaf_hash) == leaves[index]
        verify_inclusion(index, n, leaves[index], path, roots[n])
        consistency = tlog.consistency(m, n)
        proof = [bytes.fromhex(p) for p in consistency.proof]
        verify_consistency(m, n, proof, roots[m], roots[n])

        other = changed(leaves, j)
        other_m, other_n = root_from_leaves(other[:m]), root_from_leaves(other[:n])
        with pytest.raises(ProofError):
            verify_inclusion(index, n, leaves[index], path, other_n)
        if j == index:
            with pytest.raises(ProofError):
                verify_inclusion(index, n, other[index], path, roots[n])
        with pytest.raises(ProofError):
            verify_consistency(m, n, proof, roots[m], other_n)
        if j < m:
            with pytest.raises(ProofError):
                verify_consistency(m, n, proof, other_m, roots[n])
        # Both roots from the changed log: the proof only fails where it holds a node over
        # the changed leaf. For m a power of two (or m = n) it holds none over [0, m), so a
        # change there gives a changed log that is, rightly, consistent with itself.
        if m < n and (j >= m or m & (m - 1)):
            with pytest.raises(ProofError):
                verify_consistency(m, n, proof, other_m, other_n)
        else:
            verify_consistency(m, n, proof, other_m, other_n)

    check()


WRITER = """
import itertools, random, sys
from datetime import UTC, datetime
from ledger import items, orgs
from ledger.service import Ledger
from ledger.store.sql import SqlStore

url, tag = sys.argv[1], sys.argv[2]
store = SqlStore(url)
ledger = Ledger(store, clock=lambda: datetime.now(UTC))
with store.reader() as r:
    oem = r.org_by_name("Tree OEM")
rng = random.Random(tag)
serial = itertools.count()
while True:
    count = rng.randint(1, 40)
    written = ledger.write(lambda tx: [
        items.register(tx, oem, {"kind": "pv_module", "code": f"PV-{tag}-{next(serial):06d}"})
        for _ in range(count)])
    print(written[-1].entries[-1].seq + 1, flush=True)
"""

ROUNDS = 3
ACKS_BEFORE_KILL = 15
WRITER_DEADLINE_S = 60.0


def append_then_kill(database_url: str, script: Path, tag: str) -> int:
    """Run the writer until it acknowledged some writes, SIGKILL it; the last acked size."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(script), database_url, tag],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked = 0
    try:
        deadline = time.monotonic() + WRITER_DEADLINE_S
        assert process.stdout is not None
        for count, line in enumerate(process.stdout, start=1):
            acked = int(line)
            if count >= ACKS_BEFORE_KILL or time.monotonic() > deadline:
                break
        # Kill at an arbitrary point of the next write (mid-transaction, most likely).
        time.sleep(0.004 * len(tag))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        stderr = process.stderr.read() if process.stderr else ""
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == -signal.SIGKILL, stderr
    assert acked > 0, stderr
    return acked


@pytest.mark.slow
def test_a_writer_killed_mid_append_leaves_entries_and_tree_agreeing(
    store: SqlStore, database_url: str, tmp_path: Path
) -> None:
    ledger = Ledger(store, clock=lambda: clock() + timedelta(seconds=1))
    make_oem(ledger)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    for round_ in range(ROUNDS):
        acked = append_then_kill(database_url, script, f"K{round_}")
        size = assert_tree_agrees_with_entries(store)
        assert size >= acked
        report = verify_log(ledger.store)
        assert report.ok, report.first_bad
    # After the crashes, appends continue the same tree.
    fill(ledger, store_oem(store), size + 7)
    assert assert_tree_agrees_with_entries(store) == size + 7


def store_oem(store: SqlStore) -> OrgRecord:
    with store.reader() as r:
        oem = r.org_by_name("Tree OEM")
    assert oem is not None
    return oem


def test_proofs_from_a_small_node_cache_match_fresh_ones_and_follow_the_log(
    store: SqlStore,
) -> None:
    ledger = Ledger(store, clock=clock)
    oem = make_oem(ledger)
    fill(ledger, oem, 300)
    key = generate_private_key()
    cached = Transparency(store, key, "test.example/log", clock)
    cached.tree.limit = 16  # forgets nodes all the time
    cached.tree.tiles.limit = 1  # and tiles
    for n, index in itertools.product((1, 2, 7, 64, 255, 300), (0, 5, 63, 299)):
        if index >= n:
            continue
        fresh = Transparency(store, key, "test.example/log", clock)
        assert cached.inclusion(index, n) == fresh.inclusion(index, n)
        assert cached.consistency(max(1, n // 3), n) == fresh.consistency(max(1, n // 3), n)
        assert len(cached.tree) <= 16
        assert len(cached.tree.tiles) <= 1
    # The cache knows the log had 300 entries; a bigger tree is refused until it exists.
    with pytest.raises(ValidationError, match="beyond the log's 300 entries"):
        cached.inclusion(0, 320)
    for n in range(20):
        ledger.write(partial(items.register, actor=oem, raw={"kind": "pv_module", "code": f"M{n}"}))
    leaves = stored_leaves(store)
    assert len(leaves) == 320
    proof = cached.inclusion(310, 320)
    verify_inclusion(
        310, 320, leaves[310], [bytes.fromhex(p) for p in proof.proof], root_from_leaves(leaves)
    )


def test_a_proof_from_the_cache_alone_is_the_read_one_or_none(store: SqlStore) -> None:
    ledger = Ledger(store, clock=clock)
    fill(ledger, make_oem(ledger), 300)
    key = generate_private_key()
    warm = Transparency(store, key, "test.example/log", clock)
    # A process that has not read the log's size answers nothing from its cache.
    assert warm.cached_inclusion(5, 300) is None
    assert warm.cached_consistency(100, 300) is None
    for n, index in itertools.product((1, 2, 7, 64, 255, 300), (0, 5, 63, 299)):
        if index >= n:
            continue
        fresh = Transparency(store, key, "test.example/log", clock)
        read = fresh.inclusion(index, n)
        assert warm.inclusion(index, n) == read
        assert warm.cached_inclusion(index, n) == read
        first = max(1, n // 3)
        assert warm.consistency(first, n) == fresh.consistency(first, n)
        assert warm.cached_consistency(first, n) == fresh.consistency(first, n)
        assert warm.cached_consistency(n, n) == fresh.consistency(n, n)
    # Beyond what the cache knows of the log: None, and the read refuses it.
    assert warm.cached_inclusion(0, 320) is None
    with pytest.raises(ValidationError, match="beyond the log's 300 entries"):
        warm.inclusion(0, 320)
    # Bad arguments are refused without any read.
    with pytest.raises(ValidationError, match="not inside a tree"):
        warm.cached_inclusion(300, 300)
    with pytest.raises(ValidationError, match="meaningless"):
        warm.cached_consistency(0, 300)
