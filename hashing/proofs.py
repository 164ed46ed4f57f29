"""Verification of Merkle inclusion and consistency proofs (RFC 9162 §2.1.3.2, §2.1.4.2).

This module owns deciding whether a proof is valid; building proofs is ``hashing.tree``'s
job. On top of the RFC algorithms it applies the stricter checks of the reference verifier
(transparency-dev/merkle ``proof/verify.go``), pinned by its probe vectors:

* a leaf hash must be exactly 32 bytes, and so must every proof hash;
* a proof must have exactly the length the tree shape requires;
* a consistency proof from tree size 0 is refused, even to an empty tree;
* equal tree sizes need an empty proof and equal roots.

Each function returns ``None`` when the proof holds and raises ``ProofError`` saying why
when it does not.
"""

from __future__ import annotations

from collections.abc import Sequence

from hashing.errors import ProofError
from hashing.tree import HASH_SIZE, node_hash

__all__ = ["verify_consistency", "verify_inclusion"]


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    Follows RFC 9162 §2.1.3.2.

    Args:
        index: 0-based leaf index.
        size: tree size the proof is for.
        leaf_hash: the 32-byte leaf hash (``tree.leaf_hash(data)``).
        proof: the inclusion proof, bottom-up.
        root: the expected root of the tree of size ``size``.

    Raises:
        ProofError: the arguments are out of range or malformed, or the proof does not
            lead from ``leaf_hash`` to ``root``.
    """
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash is {len(leaf_hash)} bytes, expected {HASH_SIZE}")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hashes(proof)
    expected = _inclusion_proof_length(index, size)
    if len(proof) != expected:
        raise ProofError(
            f"proof has {len(proof)} hashes; leaf {index} of a tree of size {size} needs {expected}"
        )
    fn, sn, result = index, size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:  # unreachable after the length check; kept as in the RFC
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if result != root:
        raise ProofError(
            f"calculated root {result.hex()} does not match the expected root {root.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size1`` leaves with ``root1`` is a prefix of the tree of
    ``size2`` leaves with ``root2``.

    Follows RFC 9162 §2.1.4.2.

    Args:
        size1: the older tree size; must be at least 1.
        size2: the newer tree size.
        proof: the consistency proof.
        root1: the root of the tree of size ``size1``.
        root2: the root of the tree of size ``size2``.

    Raises:
        ProofError: the sizes are out of range, the proof is malformed, or it does not
            tie ``root1`` to ``root2``.
    """
    if size1 < 0 or size2 < size1:
        raise ProofError(f"tree size {size2} is smaller than {size1}, or a size is negative")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree (size 0) is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError(f"tree sizes are equal ({size1}) but the proof is not empty")
        if root1 != root2:
            raise ProofError(f"tree sizes are equal ({size1}) but the roots differ")
        return
    if not proof:
        raise ProofError(f"proof from size {size1} to {size2} is empty")
    _check_hashes(proof)
    expected = _consistency_proof_length(size1, size2)
    if len(proof) != expected:
        raise ProofError(f"proof has {len(proof)} hashes; sizes {size1} to {size2} need {expected}")

    path = list(proof)
    if size1 & (size1 - 1) == 0:
        # size1 is a power of two: its root is a node of the new tree and is left out of
        # the proof (RFC 9162 §2.1.4.2 step 2).
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old = new = path[0]
    for sibling in path[1:]:
        if sn == 0:  # unreachable after the length check; kept as in the RFC
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            old = node_hash(sibling, old)
            new = node_hash(sibling, new)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            new = node_hash(new, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if old != root1:
        raise ProofError(
            f"calculated old root {old.hex()} does not match root1 {root1.hex()} (size {size1})"
        )
    if new != root2:
        raise ProofError(
            f"calculated new root {new.hex()} does not match root2 {root2.hex()} (size {size2})"
        )


def _check_hashes(proof: Sequence[bytes]) -> None:
    for position, item in enumerate(proof):
        if len(item) != HASH_SIZE:
            raise ProofError(f"proof hash {position} is {len(item)} bytes, expected {HASH_SIZE}")


def _inclusion_proof_length(index: int, size: int) -> int:
    """Hashes in PATH(index, D[size]): the inner path below the point where the paths to
    ``index`` and to the last leaf split, plus one per perfect subtree to the left above it
    (the decomposition used by transparency-dev/merkle ``decompInclProof``).
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_length(size1: int, size2: int) -> int:
    """Hashes in PROOF(size1, D[size2]) for ``0 < size1 < size2``."""
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits of size1
    length = _inclusion_proof_length(size1 - 1, size2) - shift
    # Unless size1 is a power of two, the proof starts with a node of the old tree.
    return length if size1 == 1 << shift else length + 1
