"""Tiles in the store past the first tile of tile level 1 (65,536 leaves), on SQLite and
PostgreSQL: written by appends in uneven batches, filled in by the migration for a log
that predates them, and the only thing a proof reads when they hold every node it names.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

import ledger.store
from hashing import generate_private_key, root_from_leaves, verify_inclusion
from ledger.chain import ZERO_HASH, Entry, build_entry
from ledger.store.sql import SqlStore
from ledger.store.tables import TreeTileRow
from ledger.transparency import Transparency
from tests.ledger.test_tree_store import clock, expected_tiles, stored_leaves, stored_tiles

_tiles = TreeTileRow.__table__  # type: ignore[attr-defined]
_PATH = Path(ledger.store.__file__).parent / "migrations" / "versions" / "0005_tree_tiles.py"
_SPEC = importlib.util.spec_from_file_location("tiles_migration", _PATH)
assert _SPEC is not None
assert _SPEC.loader is not None
MIGRATION = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(MIGRATION)

SIZE = 65_536 + 300
ACTOR = "org_01JD8Z3K5V7W9XQRSTABCDEFGH"


def entries(size: int) -> Iterator[Entry]:
    prev = ZERO_HASH
    for seq in range(size):
        entry = build_entry(
            seq=seq,
            now=clock(),
            actor=ACTOR,
            item=f"itm_01JD8Z3K5V7W9X{seq:010d}",
            type="registered",
            data={"kind": "pv_module", "code": f"TILE-{seq:06d}"},
            prev=prev,
            item_prev=None,
        )
        prev = entry.hash
        yield entry


def fill(store: SqlStore, size: int) -> None:
    """Append in batches of uneven sizes, so tiles complete inside and across them."""
    stream = entries(size)
    for batch_size in itertools.cycle((1, 3, 250, 4096, 7)):
        batch = list(itertools.islice(stream, batch_size))
        if not batch:
            return
        with store.writer() as w:
            w.append(batch, expected_size=batch[0].seq)


def test_appends_store_every_complete_tile_and_proofs_read_only_tiles(store: SqlStore) -> None:
    fill(store, SIZE)
    leaves = stored_leaves(store)
    tiles = stored_tiles(store)
    assert (1, 0) in tiles
    assert (0, 256) in tiles
    assert (0, 257) not in tiles
    assert tiles == expected_tiles(leaves)

    tlog = Transparency(store, generate_private_key(), "test.example/log", clock)
    size = 65_536
    proof = tlog.inclusion(70_000 % size, size)
    root = root_from_leaves(leaves[:size])
    verify_inclusion(
        proof.index, size, leaves[proof.index], [bytes.fromhex(p) for p in proof.proof], root
    )
    # Every node of that proof lies in a complete tile: two tiles read, no single node.
    assert (len(tlog.tree.tiles), len(tlog.tree)) == (2, 0)
    # Right of the last complete tile, the proof takes single nodes as well.
    proof = tlog.inclusion(SIZE - 1, SIZE)
    verify_inclusion(
        SIZE - 1,
        SIZE,
        leaves[-1],
        [bytes.fromhex(p) for p in proof.proof],
        root_from_leaves(leaves),
    )
    assert len(tlog.tree) > 0


def test_the_migration_fills_in_the_tiles_of_a_log_that_predates_them(store: SqlStore) -> None:
    fill(store, SIZE)
    before = stored_tiles(store)
    # The log as it stood before tiles: the same entries and nodes, no tiles table.
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE tree_tiles"))
        _tiles.create(conn)
        MIGRATION.fill(conn, _tiles)
    assert stored_tiles(store) == before
    assert len(before) == SIZE // 256 + 1  # tile level 0, and tile (1, 0)
