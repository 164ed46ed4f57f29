"""The Merkle tree in tiles of 256 hashes (the layout of C2SP tlog-tiles).

A tile at tile level ``L`` and index ``t`` holds the 256 perfect-subtree hashes
``(8·L, 256·t) … (8·L, 256·t + 255)``: the leaves themselves at tile level 0,
the roots of 256-leaf subtrees at tile level 1, and so on. The seven levels of
nodes between one tile's row and the next are not stored: they follow from the
tile's row by hashing pairs. So a proof of any leaf in a tree of n leaves needs
at most ``ceil(log2(n) / 8)`` tiles, three up to 16.7 million leaves, however
scattered the nodes it names.

A tile exists once all 256 of its hashes do; the nodes right of the last
complete tile of each level (fewer than 256 per level) are kept as single
nodes by the store. This module is the arithmetic only; storing and reading
tiles is the ledger's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from hashing.tree import HASH_SIZE, NODE_PREFIX, NodeId

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileId",
    "tile_complete",
    "tile_of",
    "tile_rows",
    "tiles_completed",
]

TILE_HEIGHT = 8
"""Tree levels per tile: a tile's row is tree level ``TILE_HEIGHT · L``."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a complete tile (256)."""

_PREFIXED = hashlib.sha256(NODE_PREFIX)

TileId = tuple[int, int]
"""``(tile level, index)``: the hashes ``(8·level, 256·index + k)`` for k in 0..255."""


def tile_of(node: NodeId) -> TileId:
    """The tile whose row or in-between levels hold the perfect subtree ``node``."""
    level, index = node
    above = level % TILE_HEIGHT
    return level // TILE_HEIGHT, index >> (TILE_HEIGHT - above)


def tile_complete(tile: TileId, size: int) -> bool:
    """Whether a tree of ``size`` leaves holds every hash of ``tile``."""
    level, index = tile
    return (index + 1) << (TILE_HEIGHT * (level + 1)) <= size


def tiles_completed(nodes: Iterable[NodeId]) -> list[TileId]:
    """The tiles that ``nodes`` complete: each one's last row hash is among them."""
    return sorted(
        (level // TILE_HEIGHT, index >> TILE_HEIGHT)
        for level, index in nodes
        if level % TILE_HEIGHT == 0 and index % TILE_WIDTH == TILE_WIDTH - 1
    )


def tile_rows(tile: TileId) -> tuple[int, int, int]:
    """``(tree level, first index, count)`` of the stored hashes that make ``tile``."""
    level, index = tile
    return level * TILE_HEIGHT, index * TILE_WIDTH, TILE_WIDTH


class Tile:
    """One complete tile, with every node of its in-between levels computed once.

    Args:
        tile: its id.
        hashes: its 256 row hashes, concatenated (8,192 bytes).

    Raises:
        ValueError: ``hashes`` is not 256 hashes long.
    """

    __slots__ = ("id", "levels")

    def __init__(self, tile: TileId, hashes: bytes) -> None:
        if len(hashes) != TILE_WIDTH * HASH_SIZE:
            raise ValueError(
                f"tile {tile} holds {len(hashes)} bytes, not {TILE_WIDTH} hashes of {HASH_SIZE}"
            )
        self.id = tile
        levels = [bytes(hashes)]
        for _ in range(1, TILE_HEIGHT):
            row = memoryview(levels[-1])
            # A node's hash is SHA-256(0x01 ‖ left ‖ right), and left ‖ right are
            # adjacent in the row below: hash the pair in place, from a copy of
            # the hash state that has taken the prefix.
            above = []
            for i in range(0, len(row), 2 * HASH_SIZE):
                state = _PREFIXED.copy()
                state.update(row[i : i + 2 * HASH_SIZE])
                above.append(state.digest())
            levels.append(b"".join(above))
        self.levels = levels

    def node(self, node: NodeId) -> bytes:
        """The hash of ``node``, which must lie in this tile (``tile_of(node) == id``)."""
        level, index = node
        above = level % TILE_HEIGHT
        offset = index - (self.id[1] << (TILE_HEIGHT - above))
        start = offset * HASH_SIZE
        return self.levels[above][start : start + HASH_SIZE]

    @property
    def nbytes(self) -> int:
        return sum(len(row) for row in self.levels)
