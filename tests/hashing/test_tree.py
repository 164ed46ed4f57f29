"""Merkle tree math: known answers, RFC 9162 proofs, and the stored-subtree form."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashing import (
    EMPTY_ROOT,
    TreeSizeError,
    consistency_proof,
    consistency_proof_from_leaves,
    inclusion_proof,
    inclusion_proof_from_leaves,
    leaf_hash,
    new_perfect_nodes,
    node_hash,
    nodes_needed_for_append,
    nodes_needed_for_consistency,
    nodes_needed_for_inclusion,
    nodes_needed_for_root,
    root_at,
    root_from_leaves,
)
from tests.hashing import vectors

TREE = vectors.load("merkle_rfc6962_tree_and_proofs.json")
DERIVED = vectors.load("merkle_rfc6962_all_proofs_derived.json")


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- An independent, literal RFC 9162 §2.1 oracle (recursive, from the text) ----------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], b), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


# --- A stored tree: perfect subtrees kept as they complete ----------------------------


class _Store:
    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.reads: list[tuple[int, int]] = []
        for size, leaf in enumerate(leaves):
            for level, index, value in new_perfect_nodes(size, leaf, self.get):
                assert (level, index) not in self.nodes
                self.nodes[level, index] = value
        self.reads.clear()

    def get(self, level: int, index: int) -> bytes:
        self.reads.append((level, index))
        return self.nodes[level, index]


MAX_LEAVES = 2000
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_LEAVES)]
STORE = _Store(LEAVES)


# --- Known answers --------------------------------------------------------------------


def test_empty_root_is_sha256_of_nothing() -> None:
    # Reproduce: printf '' | sha256sum
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaves([]) == EMPTY_ROOT
    assert root_at(0, STORE.get) == EMPTY_ROOT


def test_leaf_and_node_hash_known_answers() -> None:
    # Reproduce: printf '\x00' | sha256sum   (RFC 6962 §2.1, the empty leaf)
    empty_leaf = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert leaf_hash(b"").hex() == empty_leaf
    # Reproduce: printf '\x00\x00' | sha256sum
    leaf_00 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
    assert leaf_hash(b"\x00").hex() == leaf_00
    # Reproduce: printf "\x01$(printf '\x00' | openssl dgst -sha256 -binary | xxd -p -c64 |
    #   sed 's/../\\x&/g')$(printf '\x00\x00' | openssl dgst -sha256 -binary | xxd -p -c64 |
    #   sed 's/../\\x&/g')" | sha256sum     (root of the 2-leaf tree in transparency-dev/merkle)
    assert node_hash(_h(empty_leaf), _h(leaf_00)).hex() == (
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
    )


def test_vector_leaf_node_and_root_hashes() -> None:
    leaves = [leaf_hash(_h(x)) for x in TREE["leaves_hex"]]
    assert [x.hex() for x in leaves] == TREE["leaf_hashes"]
    store = _Store(leaves)
    for level, hashes in TREE["node_hashes_by_level"].items():
        for index, expected in enumerate(hashes):
            assert store.nodes[int(level), index].hex() == expected
    for size, expected in TREE["roots_by_tree_size"].items():
        assert root_from_leaves(leaves[: int(size)]).hex() == expected
        assert root_at(int(size), store.get).hex() == expected


@pytest.mark.parametrize("kind", ["published", "derived"])
def test_vector_proofs_are_reproduced(kind: str) -> None:
    leaves = [leaf_hash(_h(x)) for x in TREE["leaves_hex"]]
    store = _Store(leaves)
    inclusion: list[dict[str, Any]]
    consistency: list[dict[str, Any]]
    if kind == "published":
        inclusion = TREE["published_inclusion_proofs"]
        consistency = TREE["published_consistency_proofs"]
    else:
        inclusion, consistency = DERIVED["inclusion"], DERIVED["consistency"]
    for case in inclusion:
        index, size = case["leaf_index"], case["tree_size"]
        assert leaves[index].hex() == case["leaf_hash"]
        assert [x.hex() for x in inclusion_proof_from_leaves(leaves, index, size)] == case["proof"]
        assert [x.hex() for x in inclusion_proof(index, size, store.get)] == case["proof"]
        assert root_at(size, store.get).hex() == case["root"]
    for case in consistency:
        size1, size2 = case["size1"], case["size2"]
        assert [x.hex() for x in consistency_proof_from_leaves(leaves, size1, size2)] == case[
            "proof"
        ]
        assert [x.hex() for x in consistency_proof(size1, size2, store.get)] == case["proof"]
        assert root_at(size1, store.get).hex() == case["root1"]
        assert root_at(size2, store.get).hex() == case["root2"]
    assert len(inclusion) == (5 if kind == "published" else 36)
    assert len(consistency) == (5 if kind == "published" else 36)


# --- Agreement with the RFC oracle and between the two forms, sizes 0..70 -------------

SMALL = 70


@pytest.mark.parametrize("size", range(SMALL + 1))
def test_roots_agree(size: int) -> None:
    expected = _mth(LEAVES[:size])
    assert root_from_leaves(LEAVES[:size]) == expected
    STORE.reads.clear()
    assert root_at(size, STORE.get) == expected
    assert sorted(STORE.reads) == sorted(nodes_needed_for_root(size))
    assert len(STORE.reads) == size.bit_count()


@pytest.mark.parametrize("size", range(1, SMALL + 1))
def test_inclusion_proofs_agree(size: int) -> None:
    for index in range(size):
        expected = _path(index, LEAVES[:size])
        assert inclusion_proof_from_leaves(LEAVES, index, size) == expected
        STORE.reads.clear()
        assert inclusion_proof(index, size, STORE.get) == expected
        assert sorted(STORE.reads) == sorted(nodes_needed_for_inclusion(index, size))


@pytest.mark.parametrize("size2", range(1, SMALL + 1))
def test_consistency_proofs_agree(size2: int) -> None:
    for size1 in range(1, size2 + 1):
        expected = _subproof(size1, LEAVES[:size2], True)
        assert consistency_proof_from_leaves(LEAVES, size1, size2) == expected
        STORE.reads.clear()
        assert consistency_proof(size1, size2, STORE.get) == expected
        assert sorted(STORE.reads) == sorted(nodes_needed_for_consistency(size1, size2))


def test_every_stored_node_is_the_root_of_its_leaf_range() -> None:
    for (level, index), value in STORE.nodes.items():
        if (index + 1) << level <= 4 * SMALL:
            assert value == _mth(LEAVES[index << level : (index + 1) << level])


def test_append_stores_exactly_the_completed_perfect_subtrees() -> None:
    for size in range(MAX_LEAVES):
        new = new_perfect_nodes(size, LEAVES[size], STORE.get)
        # Leaf `size` completes one subtree per trailing 1 bit of `size`, plus itself.
        trailing_ones = (size ^ (size + 1)).bit_length() - 1
        assert len(new) == trailing_ones + 1
        assert [(level, index) for level, index, _ in new] == [
            (level, (size >> level)) for level in range(trailing_ones + 1)
        ]
        assert all(STORE.nodes[level, index] == value for level, index, value in new)
        assert nodes_needed_for_append(size) == [
            (level, (size >> level) - 1) for level in range(trailing_ones)
        ]


# --- Larger trees: agreement and O(log n) reads ---------------------------------------


def _log_bound(size: int) -> int:
    return 2 * size.bit_length() + 2


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_large_inclusion_proofs_agree(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_LEAVES))
    index = data.draw(st.integers(0, size - 1))
    STORE.reads.clear()
    proof = inclusion_proof(index, size, STORE.get)
    assert proof == inclusion_proof_from_leaves(LEAVES, index, size)
    assert len(STORE.reads) <= _log_bound(size)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_large_consistency_proofs_agree(data: st.DataObject) -> None:
    size2 = data.draw(st.integers(1, MAX_LEAVES))
    size1 = data.draw(st.integers(1, size2))
    STORE.reads.clear()
    proof = consistency_proof(size1, size2, STORE.get)
    assert proof == consistency_proof_from_leaves(LEAVES, size1, size2)
    assert len(STORE.reads) <= _log_bound(size2)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, MAX_LEAVES))
def test_large_roots_agree(size: int) -> None:
    assert root_at(size, STORE.get) == root_from_leaves(LEAVES[:size])


# --- Out of range ---------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (-1, 5), (5, 5), (0, -1)])
def test_inclusion_out_of_range(index: int, size: int) -> None:
    with pytest.raises(TreeSizeError):
        inclusion_proof(index, size, STORE.get)
    with pytest.raises(TreeSizeError):
        nodes_needed_for_inclusion(index, size)
    with pytest.raises(TreeSizeError):
        inclusion_proof_from_leaves(LEAVES, index, size)


@pytest.mark.parametrize(("size1", "size2"), [(0, 0), (0, 5), (-1, 3), (6, 5)])
def test_consistency_out_of_range(size1: int, size2: int) -> None:
    with pytest.raises(TreeSizeError):
        consistency_proof(size1, size2, STORE.get)
    with pytest.raises(TreeSizeError):
        nodes_needed_for_consistency(size1, size2)
    with pytest.raises(TreeSizeError):
        consistency_proof_from_leaves(LEAVES, size1, size2)


def test_from_leaves_needs_enough_leaves() -> None:
    with pytest.raises(TreeSizeError, match="exceeds"):
        inclusion_proof_from_leaves(LEAVES[:3], 0, 4)
    with pytest.raises(TreeSizeError, match="exceeds"):
        consistency_proof_from_leaves(LEAVES[:3], 1, 4)


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(TreeSizeError):
        root_at(-1, STORE.get)
    with pytest.raises(TreeSizeError):
        nodes_needed_for_root(-1)
    with pytest.raises(TreeSizeError):
        new_perfect_nodes(-1, LEAVES[0], STORE.get)
