"""The streaming form of the Merkle tree: a growing tree's frontier and aligned subtrees.

This module owns the tree math a verifier needs when it sees the leaves once, in order, and
keeps no list of them (RFC 6962 §2.1, RFC 9162 §2.1.1):

* ``TreeFrontier``: the right frontier of a tree, one perfect-subtree hash per 1 bit of its
  size, enough to extend it and to compute its root after any number of leaves;
* ``subtree_levels`` and ``covering_subtrees``: the perfect subtrees inside a run of leaves
  that starts anywhere in the tree, and the aligned ones that cover a range of it, so runs
  hashed apart (in other processes) join a frontier in order.

The hashes use ``hashing.tree``'s node prefix; proofs are ``hashing.tree``'s and
``hashing.proofs``'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from hashing.tree import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX

__all__ = ["SubtreeLevels", "Subtrees", "TreeFrontier", "covering_subtrees", "subtree_levels"]

Subtrees = list[tuple[int, bytes]]
"""Aligned perfect subtrees ``(level, hash)``, left to right: level L covers 2**L leaves."""

SubtreeLevels = list[tuple[int, list[bytes]]]
"""Per level, ``(index of the first node, node hashes)``; see ``subtree_levels``."""


class TreeFrontier:
    """The right frontier of an RFC 6962 tree: enough to extend it and to compute its root.

    Holds one perfect-subtree hash per 1 bit of ``size``, largest (leftmost) first: after
    n leaves, O(log n) hashes, whatever n.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Resume a frontier saved with ``hashes`` after ``size`` leaves.

        Args:
            size: leaves in the tree so far.
            hashes: its frontier, as ``hashes`` gave it.

        Raises:
            ValueError: the hashes do not fit a tree of that size.
        """
        if size < 0 or len(hashes) != size.bit_count() or any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError(
                f"a tree of {size} leaves has {max(size, 0).bit_count()} frontier hashes "
                f"of {HASH_SIZE} bytes"
            )
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Add the leaf hash at index ``size``."""
        self.append_subtree(leaf, 0)

    def append_subtree(self, node: bytes, level: int) -> None:
        """Add a perfect subtree of ``2**level`` leaves starting at index ``size``.

        Raises:
            ValueError: ``size`` is not a multiple of ``2**level``.
        """
        if self.size & ((1 << level) - 1):
            raise ValueError(f"a subtree of 2**{level} leaves cannot start at {self.size}")
        stack = self.hashes
        stack.append(node)
        count = self.size >> level
        self.size += 1 << level
        sha = hashlib.sha256
        while count & 1:  # merge one subtree per trailing 1 bit
            right = stack.pop()
            stack.append(sha(NODE_PREFIX + stack.pop() + right).digest())
            count >>= 1

    def root(self) -> bytes:
        """The Merkle Tree Hash of the leaves so far (RFC 9162 §2.1.1)."""
        if not self.hashes:
            return EMPTY_ROOT
        sha = hashlib.sha256
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = sha(NODE_PREFIX + left + root).digest()
        return root

    def copy(self) -> TreeFrontier:
        """An independent frontier of the same tree."""
        return TreeFrontier(self.size, self.hashes)


def subtree_levels(start: int, leaves: list[bytes]) -> SubtreeLevels:
    """Every perfect subtree inside leaves ``[start, start + len(leaves))``, by level.

    Args:
        start: the tree index of the first leaf.
        leaves: leaf hashes, in order.

    Returns:
        Level L as ``(index of its first node, hashes)``, node i covering leaves
        ``[i * 2**L, (i + 1) * 2**L)`` (global alignment: the run may start anywhere).
    """
    sha = hashlib.sha256
    levels = [(start, leaves)]
    first, row = start, leaves
    while len(row) > 1:
        skip = first & 1  # a node whose left sibling is outside the run
        row = [
            sha(NODE_PREFIX + row[i] + row[i + 1]).digest() for i in range(skip, len(row) - 1, 2)
        ]
        first = (first + skip) >> 1
        if not row:
            break
        levels.append((first, row))
    return levels


def covering_subtrees(levels: SubtreeLevels, low: int, high: int) -> Subtrees:
    """The aligned perfect subtrees covering leaves ``[low, high)``, left to right.

    Args:
        levels: ``subtree_levels`` of a run holding leaves ``[low, high)``.
        low: first leaf index covered.
        high: one past the last.

    Returns:
        ``(level, hash)`` pairs; appended in order to a frontier of size ``low`` they give
        the frontier of size ``high``.
    """
    out: Subtrees = []
    while low < high:
        level = min((low & -low).bit_length() - 1 if low else 64, len(levels) - 1)
        while low + (1 << level) > high:
            level -= 1
        first, row = levels[level]
        out.append((level, row[(low >> level) - first]))
        low += 1 << level
    return out
