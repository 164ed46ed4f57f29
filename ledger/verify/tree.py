"""The check of a store's Merkle tree against its entries, as the server's ``verify`` runs it.

Owns ``verify_tree``: level by level, every stored perfect subtree must be the hash
of the two stored below it (level 0 being the entries' own hashes, checked by the
chain), none may be missing and none may lie beyond the log; every stored tile must
be its row of nodes, and no tile may lie beyond the log. So a node or tile changed
in the database is named the day ``verify`` runs, not when a proof or the next
checkpoint trips over it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from hashing import NODE_PREFIX, TILE_HEIGHT, TILE_WIDTH
from ledger.errors import AuditFailure

if TYPE_CHECKING:
    from ledger.store.base import LogReader

__all__ = ["verify_tree"]

_SLICE = 4096  # nodes read per statement


def _node(level: int, index: int, reason: str) -> AuditFailure:
    """A finding about stored node ``(level, index)``; its ``seq`` is the first entry under it."""
    return AuditFailure(f"Merkle node ({level}, {index})", reason, seq=index << level)


def verify_tree(r: LogReader, size: int) -> AuditFailure | None:
    """Check every stored node and tile of a log of ``size`` verified entries.

    Returns:
        The first bad node or tile (lowest level first), or None.
    """
    level = 1
    while size >> level:
        found = _check_level(r, level, size >> level)
        if found is not None:
            return found
        level += 1
    if r.node_range(level, 0, 1):
        return _node(level, 0, f"a node is stored above the top of a log of {size} entries")
    tile_level = 0
    while size >> (TILE_HEIGHT * (tile_level + 1)):
        found = _check_tiles(r, tile_level, size >> (TILE_HEIGHT * (tile_level + 1)))
        if found is not None:
            return found
        tile_level += 1
    if r.tiles([(tile_level, 0)]):
        return _tile((tile_level, 0), f"a tile is stored beyond a log of {size} entries")
    return None


def _tile(tile: tuple[int, int], reason: str) -> AuditFailure:
    """A finding about stored tile ``tile``; its ``seq`` is the first entry under it."""
    level, index = tile
    return AuditFailure(f"tile {tile}", reason, seq=(index * TILE_WIDTH) << (level * TILE_HEIGHT))


def _check_level(r: LogReader, level: int, count: int) -> AuditFailure | None:
    """Nodes 0 … count-1 of ``level`` from the level below, and nothing past them."""
    for start in range(0, count, _SLICE):
        n = min(_SLICE, count - start)
        below = r.node_range(level - 1, 2 * start, 2 * n)
        stored = r.node_range(level, start, n)
        if len(below) != 2 * n:
            # The level below was checked whole (or is the entries): cannot happen
            # unless the store changed while this ran.
            return _node(level - 1, 2 * start + len(below), "the node is missing")
        for k in range(n):
            expected = hashlib.sha256(NODE_PREFIX + below[2 * k] + below[2 * k + 1]).digest()
            if k >= len(stored):
                return _node(level, start + k, "the node is missing")
            if stored[k] != expected:
                return _node(
                    level,
                    start + k,
                    f"stored {stored[k].hex()[:16]}…, but its children hash to "
                    f"{expected.hex()[:16]}…",
                )
    if r.node_range(level, count, 1):
        return _node(level, count, f"the node lies beyond the log's {count << level}-entry prefix")
    return None


def _check_tiles(r: LogReader, tile_level: int, count: int) -> AuditFailure | None:
    """Tiles 0 … count-1 of ``tile_level`` against their rows, and none past them."""
    row_level = tile_level * TILE_HEIGHT
    step = max(1, _SLICE // TILE_WIDTH)
    for start in range(0, count, step):
        ids = [(tile_level, t) for t in range(start, min(count, start + step))]
        stored = r.tiles(ids)
        row = r.node_range(row_level, start * TILE_WIDTH, len(ids) * TILE_WIDTH)
        for n, tile in enumerate(ids):
            expected = b"".join(row[n * TILE_WIDTH : (n + 1) * TILE_WIDTH])
            if tile not in stored:
                return _tile(tile, "the tile is missing")
            if stored[tile] != expected:
                return _tile(tile, f"the tile differs from its row of nodes at level {row_level}")
    if r.tiles([(tile_level, count)]):
        return _tile((tile_level, count), "the tile lies beyond the log's complete tiles")
    return None
