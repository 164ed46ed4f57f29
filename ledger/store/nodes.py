"""Merkle nodes remembered by one process.

A leaf hash or a perfect subtree never changes once stored, so whatever has
read or committed one may keep it: the append path (``ledger.store.sql``) and
the proofs (``ledger.transparency``) each keep a ``NodeMemo`` and read from the
store only what it does not hold. Proofs keep complete tiles of 256 hashes too
(``TileCache``), so that a proof anywhere in a large log reads at most a few.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from hashing import NodeId, Tile, TileId

__all__ = ["NodeMemo", "TileCache"]


class NodeMemo:
    """Stored Merkle nodes (leaf hashes included) by (level, index), bounded.

    Past ``limit`` nodes the oldest are forgotten, and read again when needed.
    Only ever give it nodes that are committed.
    """

    def __init__(self, limit: int = 1 << 16) -> None:
        self.limit = limit
        self._nodes: dict[NodeId, bytes] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, node: NodeId) -> bytes | None:
        return self._nodes.get(node)

    def known(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """The nodes among ``ids`` it holds."""
        return {i: self._nodes[i] for i in ids if i in self._nodes}

    def add(self, nodes: Mapping[NodeId, bytes]) -> None:
        """Remember committed ``nodes``, forgetting the oldest beyond the limit."""
        self._nodes.update(nodes)
        extra = len(self._nodes) - self.limit
        if extra > 0:
            for old in list(itertools.islice(self._nodes, extra)):
                del self._nodes[old]


class TileCache:
    """Complete tiles (``hashing.Tile``) remembered by one process, least recently
    used forgotten first beyond ``limit`` tiles (16 KiB each with their levels)."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._tiles: OrderedDict[TileId, Tile] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tiles)

    def get(self, tile: TileId) -> Tile | None:
        found = self._tiles.get(tile)
        if found is not None:
            self._tiles.move_to_end(tile)
        return found

    def add(self, tile: Tile) -> None:
        """Remember a tile read from the store (complete tiles never change)."""
        self._tiles[tile.id] = tile
        self._tiles.move_to_end(tile.id)
        while len(self._tiles) > self.limit:
            self._tiles.popitem(last=False)
