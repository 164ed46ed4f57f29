"""Tiles of 256 hashes against the reference tree math."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashing import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    leaf_hash,
    new_perfect_nodes,
    root_from_leaves,
    tile_complete,
    tile_of,
    tile_rows,
    tiles_completed,
)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def test_a_tile_gives_every_node_between_its_row_and_the_next() -> None:
    row = leaves(2 * TILE_WIDTH)
    tile = Tile((0, 1), b"".join(row[TILE_WIDTH:]))
    for level in range(TILE_HEIGHT):
        width = 1 << level
        for index in range(TILE_WIDTH // width):
            node = (level, (TILE_WIDTH // width) + index)
            assert tile_of(node) == (0, 1)
            start = TILE_WIDTH + index * width
            assert tile.node(node) == root_from_leaves(row[start : start + width])


def test_a_tile_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="not 256 hashes"):
        Tile((0, 0), b"\x00" * 32 * 255)


@given(level=st.integers(0, 40), index=st.integers(0, 2**30))
def test_a_node_lies_inside_the_tile_that_holds_it(level: int, index: int) -> None:
    tile = tile_of((level, index))
    row_level, first, count = tile_rows(tile)
    assert row_level <= level < row_level + TILE_HEIGHT
    # The node's leaves lie inside the tile's leaves.
    lo, hi = index << level, (index + 1) << level
    assert first << row_level <= lo
    assert hi <= (first + count) << row_level


@given(tile_level=st.integers(0, 3), index=st.integers(0, 2**20), size=st.integers(0, 2**40))
def test_a_tile_is_complete_exactly_when_its_last_row_hash_exists(
    tile_level: int, index: int, size: int
) -> None:
    row_level, first, count = tile_rows((tile_level, index))
    last_exists = (first + count) << row_level <= size
    assert tile_complete((tile_level, index), size) == last_exists


def test_appends_complete_each_tile_once_when_its_last_hash_is_made() -> None:
    made: dict[tuple[int, int], bytes] = {}
    completed: list[tuple[int, int]] = []
    for seq, leaf in enumerate(leaves(3 * TILE_WIDTH + 5)):
        nodes = new_perfect_nodes(seq, leaf, lambda level, i: made[(level, i)])
        for level, index, node in nodes:
            made[(level, index)] = node
        now = tiles_completed((level, index) for level, index, _ in nodes)
        assert all(tile_complete(t, seq + 1) and not tile_complete(t, seq) for t in now)
        completed += now
    assert completed == [(0, 0), (0, 1), (0, 2)]
    # A tile at tile level 1 completes with the 65,536th leaf alone.
    assert tiles_completed([(8, 255), (0, 65535)]) == [(0, 255), (1, 0)]
    assert tiles_completed([(7, 255), (9, 255), (0, 65534)]) == []


def test_tile_hashes_match_sha256_of_adjacent_pairs() -> None:
    row = leaves(TILE_WIDTH)
    tile = Tile((0, 0), b"".join(row))
    assert tile.node((1, 0)) == hashlib.sha256(b"\x01" + row[0] + row[1]).digest()
    assert tile.nbytes == sum((TILE_WIDTH >> j) * 32 for j in range(TILE_HEIGHT))
