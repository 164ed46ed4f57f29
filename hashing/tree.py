"""Merkle tree hashing for the log (RFC 6962 §2.1, RFC 9162 §2.1).

This module owns the tree math: leaf and interior node hashes with their domain-separation
prefixes, the Merkle Tree Hash (MTH) of a list of leaves, and the construction of inclusion
and consistency proofs. Verifying proofs is ``hashing.proofs``'s job; storing nodes is the
ledger's.

Two forms are provided:

* ``*_from_leaves``: from the full list of leaf hashes (O(n)); the reference form, used by
  offline verifiers and tests.
* A storage form in which the caller keeps the hash of every *perfect* subtree, addressed
  ``(level, index)``: the hash of leaves ``[index * 2**level, (index + 1) * 2**level)``.
  Level 0 holds the leaf hashes. ``new_perfect_nodes`` says which nodes to store after an
  append; ``root_at``, ``inclusion_proof`` and ``consistency_proof`` read O(log n) nodes
  through a ``get_node(level, index)`` callback, and the ``nodes_needed_for_*`` helpers list
  those nodes up front so a SQL store can fetch them in one query.

Every non-perfect subtree that RFC 9162 needs is a range ``[lo, hi)`` whose start is a
multiple of the largest power of two not exceeding ``hi - lo``; its MTH is the right fold
of its perfect sub-ranges taken left to right (largest first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from hashing.errors import TreeSizeError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "GetNode",
    "NodeId",
    "consistency_proof",
    "consistency_proof_from_leaves",
    "inclusion_proof",
    "inclusion_proof_from_leaves",
    "leaf_hash",
    "new_perfect_nodes",
    "node_hash",
    "nodes_needed_for_append",
    "nodes_needed_for_consistency",
    "nodes_needed_for_inclusion",
    "nodes_needed_for_root",
    "root_at",
    "root_from_leaves",
]

HASH_SIZE = 32
"""Size in bytes of every leaf, node and root hash (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the empty tree: SHA-256 of nothing (RFC 6962 §2.1)."""

LEAF_PREFIX = b"\x00"
"""Domain-separation prefix of a leaf hash (RFC 6962 §2.1)."""

NODE_PREFIX = b"\x01"
"""Domain-separation prefix of an interior node hash (RFC 6962 §2.1)."""

NodeId = tuple[int, int]
"""``(level, index)`` of a perfect subtree: leaves ``[index << level, (index + 1) << level)``."""

GetNode = Callable[[int, int], bytes]
"""Reads a stored perfect-subtree hash by ``(level, index)``."""


def leaf_hash(data: bytes) -> bytes:
    """Hash a leaf: SHA-256(0x00 ‖ data) (RFC 6962 §2.1).

    Args:
        data: the leaf's bytes (for the ledger, an entry's canonical JSON).

    Returns:
        The 32-byte leaf hash.
    """
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash an interior node: SHA-256(0x01 ‖ left ‖ right) (RFC 6962 §2.1).

    Args:
        left: hash of the left child.
        right: hash of the right child.

    Returns:
        The 32-byte node hash.
    """
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly less than ``n`` (``n >= 2``), RFC 6962 §2.1's k."""
    return 1 << ((n - 1).bit_length() - 1)


# --- Reference form: from the full list of leaf hashes ---------------------------------


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Compute the Merkle Tree Hash of a list of leaf hashes (RFC 9162 §2.1.1).

    Args:
        leaf_hashes: the leaf hashes in log order.

    Returns:
        The 32-byte root; ``EMPTY_ROOT`` for no leaves.
    """
    # A stack of perfect subtrees, largest first: appending leaf i merges one subtree per
    # trailing 1 bit of i, exactly as ``new_perfect_nodes`` does for a store.
    stack: list[bytes] = []
    for count, leaf in enumerate(leaf_hashes):
        node = leaf
        while count & 1:
            node = node_hash(stack.pop(), node)
            count >>= 1
        stack.append(node)
    if not stack:
        return EMPTY_ROOT
    root = stack.pop()
    while stack:
        root = node_hash(stack.pop(), root)
    return root


def inclusion_proof_from_leaves(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Build the inclusion proof PATH(index, D[size]) (RFC 9162 §2.1.3.1).

    Args:
        leaf_hashes: the leaf hashes in log order; at least ``size`` of them.
        index: 0-based index of the leaf to prove.
        size: tree size the proof is for.

    Returns:
        The proof hashes, bottom-up (the sibling nearest the leaf first).

    Raises:
        TreeSizeError: unless ``0 <= index < size <= len(leaf_hashes)``.
    """
    _check_inclusion_args(index, size, len(leaf_hashes))
    return [root_from_leaves(leaf_hashes[lo:hi]) for lo, hi in _inclusion_ranges(index, size)]


def consistency_proof_from_leaves(
    leaf_hashes: Sequence[bytes], size1: int, size2: int
) -> list[bytes]:
    """Build the consistency proof PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1).

    Args:
        leaf_hashes: the leaf hashes in log order; at least ``size2`` of them.
        size1: the older tree size.
        size2: the newer tree size.

    Returns:
        The proof hashes in RFC order; empty when ``size1 == size2``.

    Raises:
        TreeSizeError: unless ``0 < size1 <= size2 <= len(leaf_hashes)``.
    """
    _check_consistency_args(size1, size2, len(leaf_hashes))
    ranges = _consistency_ranges(size1, size2)
    return [root_from_leaves(leaf_hashes[lo:hi]) for lo, hi in ranges]


# --- Proof shapes as leaf ranges ------------------------------------------------------


def _check_inclusion_args(index: int, size: int, available: int | None = None) -> None:
    if size < 1 or not 0 <= index < size:
        raise TreeSizeError(f"leaf index {index} is not in a tree of size {size}")
    if available is not None and size > available:
        raise TreeSizeError(f"tree size {size} exceeds the {available} leaves available")


def _check_consistency_args(size1: int, size2: int, available: int | None = None) -> None:
    if size1 < 1:
        # RFC 9162 §2.1.4 defines proofs for 0 < m; a proof from the empty tree proves
        # nothing and the reference verifiers refuse it.
        raise TreeSizeError(f"consistency proof from tree size {size1} is not defined")
    if size2 < size1:
        raise TreeSizeError(f"tree size {size2} is smaller than {size1}")
    if available is not None and size2 > available:
        raise TreeSizeError(f"tree size {size2} exceeds the {available} leaves available")


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PATH(index, D[size]), bottom-up."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1 SUBPROOF)."""
    ranges: list[tuple[int, int]] = []
    lo, hi, m = 0, size2, size1
    whole = True  # SUBPROOF's flag b: the old tree is the whole current subtree so far
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def _perfect_nodes(lo: int, hi: int) -> list[NodeId]:
    """Split an aligned range ``[lo, hi)`` into perfect subtrees, left to right."""
    nodes: list[NodeId] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def _range_hash(lo: int, hi: int, get_node: GetNode) -> bytes:
    """MTH of the aligned range ``[lo, hi)`` from stored perfect subtrees."""
    nodes = _perfect_nodes(lo, hi)
    level, index = nodes.pop()
    result = get_node(level, index)
    while nodes:
        level, index = nodes.pop()
        result = node_hash(get_node(level, index), result)
    return result


def _flatten(ranges: list[tuple[int, int]]) -> list[NodeId]:
    return [node for lo, hi in ranges for node in _perfect_nodes(lo, hi)]


# --- Storage form: perfect subtrees addressed (level, index) ----------------------------


def nodes_needed_for_append(size_before: int) -> list[NodeId]:
    """List the stored nodes ``new_perfect_nodes`` reads when leaf ``size_before`` is appended.

    Args:
        size_before: tree size before the append (the new leaf's index).

    Returns:
        ``(level, index)`` of each left sibling that the new leaf completes, bottom-up.
    """
    nodes: list[NodeId] = []
    index, level = size_before, 0
    while index & 1:
        nodes.append((level, index - 1))
        index >>= 1
        level += 1
    return nodes


def new_perfect_nodes(
    size_before: int, leaf: bytes, get_node: GetNode
) -> list[tuple[int, int, bytes]]:
    """Compute the perfect subtrees completed by appending one leaf.

    Args:
        size_before: tree size before the append; the new leaf gets this index.
        leaf: the new leaf's 32-byte leaf hash (``leaf_hash(data)``), not its data.
        get_node: reads a previously stored node by ``(level, index)``.

    Returns:
        ``(level, index, hash)`` for each node to store, level 0 (the leaf itself) first.
        At most ``log2(size_before + 1) + 1`` nodes; reads one fewer.

    Raises:
        TreeSizeError: ``size_before`` is negative.
    """
    if size_before < 0:
        raise TreeSizeError(f"tree size {size_before} is negative")
    result = [(0, size_before, leaf)]
    node = leaf
    for level, index in nodes_needed_for_append(size_before):
        node = node_hash(get_node(level, index), node)
        result.append((level + 1, index >> 1, node))
    return result


def nodes_needed_for_root(size: int) -> list[NodeId]:
    """List the stored nodes ``root_at(size, ...)`` reads (one per 1 bit of ``size``).

    Raises:
        TreeSizeError: ``size`` is negative.
    """
    if size < 0:
        raise TreeSizeError(f"tree size {size} is negative")
    return _perfect_nodes(0, size)


def root_at(size: int, get_node: GetNode) -> bytes:
    """Compute the root of the tree of the first ``size`` leaves from stored nodes.

    Args:
        size: tree size.
        get_node: reads a stored perfect subtree by ``(level, index)``.

    Returns:
        The 32-byte root; ``EMPTY_ROOT`` for size 0.

    Raises:
        TreeSizeError: ``size`` is negative.
    """
    if size < 0:
        raise TreeSizeError(f"tree size {size} is negative")
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, get_node)


def nodes_needed_for_inclusion(index: int, size: int) -> list[NodeId]:
    """List the stored nodes ``inclusion_proof(index, size, ...)`` reads (O(log size)).

    Raises:
        TreeSizeError: unless ``0 <= index < size``.
    """
    _check_inclusion_args(index, size)
    return _flatten(_inclusion_ranges(index, size))


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Build the inclusion proof for leaf ``index`` in the tree of size ``size``.

    Equal to ``inclusion_proof_from_leaves`` but reads only O(log size) stored nodes
    (``nodes_needed_for_inclusion``).

    Args:
        index: 0-based leaf index.
        size: tree size.
        get_node: reads a stored perfect subtree by ``(level, index)``.

    Returns:
        The proof hashes, bottom-up (RFC 9162 §2.1.3.1).

    Raises:
        TreeSizeError: unless ``0 <= index < size``.
    """
    _check_inclusion_args(index, size)
    return [_range_hash(lo, hi, get_node) for lo, hi in _inclusion_ranges(index, size)]


def nodes_needed_for_consistency(size1: int, size2: int) -> list[NodeId]:
    """List the stored nodes ``consistency_proof(size1, size2, ...)`` reads (O(log size2)).

    Raises:
        TreeSizeError: unless ``0 < size1 <= size2``.
    """
    _check_consistency_args(size1, size2)
    return _flatten(_consistency_ranges(size1, size2))


def consistency_proof(size1: int, size2: int, get_node: GetNode) -> list[bytes]:
    """Build the consistency proof between tree sizes ``size1`` and ``size2``.

    Equal to ``consistency_proof_from_leaves`` but reads only O(log size2) stored nodes
    (``nodes_needed_for_consistency``).

    Args:
        size1: the older tree size.
        size2: the newer tree size.
        get_node: reads a stored perfect subtree by ``(level, index)``.

    Returns:
        The proof hashes in RFC 9162 §2.1.4.1 order; empty when ``size1 == size2``.

    Raises:
        TreeSizeError: unless ``0 < size1 <= size2``.
    """
    _check_consistency_args(size1, size2)
    return [_range_hash(lo, hi, get_node) for lo, hi in _consistency_ranges(size1, size2)]
