"""``verify`` checks the stored Merkle tree: every node and tile against the entries.

Someone with database access changes, removes or adds one node or tile (after
lifting the append-only triggers, as an attacker would); ``verify_log`` names it,
with the first entry under it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from ledger.store.sql import SqlStore
from ledger.verify import verify_log
from tests.ledger.test_tiles_store import fill

SIZE = 700  # two complete tiles, nodes up to level 9


def lift_guards(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        for table in ("tree_nodes", "tree_tiles"):
            if store.dialect == "postgresql":
                conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for verb in ("update", "delete"):
                    conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))


def run(store: SqlStore, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


ZERO = b"\x00" * 32
CASES: dict[str, tuple[Callable[[SqlStore], None], int, str]] = {
    "a zeroed node": (
        lambda s: run(s, "UPDATE tree_nodes SET hash = :h WHERE level = 3 AND idx = 5", h=ZERO),
        5 << 3,
        "Merkle node (3, 5): stored 0000000000000000…, but its children hash to",
    ),
    "a node removed": (
        lambda s: run(s, "DELETE FROM tree_nodes WHERE level = 9 AND idx = 0"),
        0,
        "Merkle node (9, 0): the node is missing",
    ),
    "a node added past the log": (
        lambda s: run(s, "INSERT INTO tree_nodes (level, idx, hash) VALUES (2, 175, :h)", h=ZERO),
        175 << 2,
        "Merkle node (2, 175): the node lies beyond",
    ),
    "a tile changed": (
        lambda s: run(
            s, "UPDATE tree_tiles SET hashes = :h WHERE level = 0 AND idx = 1", h=ZERO * 256
        ),
        256,
        "tile (0, 1): the tile differs from its row of nodes at level 0",
    ),
    "a tile removed": (
        lambda s: run(s, "DELETE FROM tree_tiles WHERE level = 0 AND idx = 0"),
        0,
        "tile (0, 0): the tile is missing",
    ),
    "a tile added past the log": (
        lambda s: run(
            s, "INSERT INTO tree_tiles (level, idx, hashes) VALUES (0, 2, :h)", h=ZERO * 256
        ),
        512,
        "tile (0, 2): the tile lies beyond",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_verify_names_the_first_bad_node_or_tile(store: SqlStore, case: str) -> None:
    fill(store, SIZE)
    assert verify_log(store).ok
    tamper, seq, reason = CASES[case]
    lift_guards(store)
    tamper(store)
    report = verify_log(store)
    assert not report.ok
    assert report.size == SIZE  # the entries themselves are sound
    assert report.first_bad is not None
    assert report.first_bad["seq"] == seq
    assert report.first_bad["reason"].startswith(reason), report.first_bad
