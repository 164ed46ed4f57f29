"""Merkle nodes remembered by one process.

A leaf hash or a perfect subtree never changes once stored, so whatever has
read or committed one may keep it: the append path (``ledger.store.sql``) and
the proofs (``ledger.transparency``) each keep a ``NodeMemo`` and read from the
store only what it does not hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from hashing import NodeId

__all__ = ["NodeMemo"]


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
