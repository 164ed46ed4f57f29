"""Proof verification: reference probes, RFC 9162 vectors, mutations and edge rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashing import (
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    new_perfect_nodes,
    root_at,
    verify_consistency,
    verify_inclusion,
)
from tests.hashing import vectors

PROBES = "merkle_proof_probes.json"
INCLUSION_PROBES = vectors.cases(PROBES, lambda d: ((c["file"], c) for c in d["inclusion"]))
CONSISTENCY_PROBES = vectors.cases(PROBES, lambda d: ((c["file"], c) for c in d["consistency"]))


def _tree_cases(source: str, inclusion_key: str, consistency_key: str) -> Any:
    def select(data: dict[str, Any]) -> Any:
        for case in data[inclusion_key]:
            case_id = f"{source}-inclusion-{case['leaf_index']}-of-{case['tree_size']}"
            yield case_id, ("inclusion", case)
        for case in data[consistency_key]:
            case_id = f"{source}-consistency-{case['size1']}-to-{case['size2']}"
            yield case_id, ("consistency", case)

    return select


VECTOR_PROOFS = [
    *vectors.cases(
        "merkle_rfc6962_tree_and_proofs.json",
        _tree_cases("published", "published_inclusion_proofs", "published_consistency_proofs"),
    ),
    *vectors.cases(
        "merkle_rfc6962_all_proofs_derived.json",
        _tree_cases("derived", "inclusion", "consistency"),
    ),
]


def _h(text: str | None) -> bytes:
    return bytes.fromhex(text) if text is not None else b""


def _proof(hashes: list[str] | None) -> list[bytes]:
    return [_h(x) for x in hashes or []]


# --- transparency-dev/merkle testdata probes (proof/verify_test.go) -------------------


@pytest.mark.parametrize("probe", INCLUSION_PROBES)
def test_inclusion_probe(probe: dict[str, Any]) -> None:
    def run() -> None:
        verify_inclusion(
            probe["leafIdx"],
            probe["treeSize"],
            _h(probe["leafHash"]),
            _proof(probe["proof"]),
            _h(probe["root"]),
        )

    if probe["wantErr"]:
        with pytest.raises(ProofError):
            run()
    else:
        run()


@pytest.mark.parametrize("probe", CONSISTENCY_PROBES)
def test_consistency_probe(probe: dict[str, Any]) -> None:
    def run() -> None:
        verify_consistency(
            probe["size1"],
            probe["size2"],
            _proof(probe["proof"]),
            _h(probe["root1"]),
            _h(probe["root2"]),
        )

    if probe["wantErr"]:
        with pytest.raises(ProofError):
            run()
    else:
        run()


def test_probe_counts() -> None:
    data = vectors.load(PROBES)
    assert (len(data["inclusion"]), len(data["consistency"])) == (86, 98)


# --- RFC 6962 vectors (published by transparency-dev/merkle, and derived) -------------


@pytest.mark.parametrize("entry", VECTOR_PROOFS)
def test_vector_proof_verifies_and_every_mutation_fails(entry: tuple[str, dict[str, Any]]) -> None:
    kind, case = entry
    proof = _proof(case["proof"])
    if kind == "inclusion":
        args = (case["leaf_index"], case["tree_size"], _h(case["leaf_hash"]))
        verify_inclusion(*args, proof, _h(case["root"]))
        for mutated in _mutations(proof):
            with pytest.raises(ProofError):
                verify_inclusion(*args, mutated, _h(case["root"]))
        with pytest.raises(ProofError):
            verify_inclusion(*args, proof, _flip(_h(case["root"])))
        with pytest.raises(ProofError):
            verify_inclusion(args[0], args[1], _flip(args[2]), proof, _h(case["root"]))
    else:
        size1, size2 = case["size1"], case["size2"]
        root1, root2 = _h(case["root1"]), _h(case["root2"])
        verify_consistency(size1, size2, proof, root1, root2)
        for mutated in _mutations(proof):
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, mutated, root1, root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, _flip(root1), root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, root1, _flip(root2))


def _flip(value: bytes, position: int = 0) -> bytes:
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]


def _mutations(proof: list[bytes]) -> list[list[bytes]]:
    """Flipped bit in each element, truncated, extended, reordered."""
    mutated = [[*proof[:i], _flip(p, 31), *proof[i + 1 :]] for i, p in enumerate(proof)]
    mutated.append([*proof, proof[-1] if proof else b"\x00" * 32])
    if proof:
        mutated.append(proof[:-1])
        mutated.append(proof[1:])
    if len(proof) > 1 and proof[0] != proof[1]:
        mutated.append([proof[1], proof[0], *proof[2:]])
    return mutated


# --- The strict rules, one by one ------------------------------------------------------

_LEAVES = [leaf_hash(bytes([i])) for i in range(64)]
_NODES: dict[tuple[int, int], bytes] = {}
for _size, _leaf in enumerate(_LEAVES):
    for _level, _index, _value in new_perfect_nodes(_size, _leaf, lambda lv, ix: _NODES[lv, ix]):
        _NODES[_level, _index] = _value


def _get(level: int, index: int) -> bytes:
    return _NODES[level, index]


def test_leaf_hash_must_be_32_bytes() -> None:
    root = root_at(1, _get)
    with pytest.raises(ProofError, match="leaf hash is 31 bytes"):
        verify_inclusion(0, 1, _LEAVES[0][:31], [], root)


def test_index_must_be_in_the_tree() -> None:
    with pytest.raises(ProofError, match="not in a tree of size 4"):
        verify_inclusion(4, 4, _LEAVES[4], inclusion_proof(3, 4, _get), root_at(4, _get))
    with pytest.raises(ProofError, match="not in a tree"):
        verify_inclusion(-1, 4, _LEAVES[0], [], root_at(4, _get))


def test_proof_hashes_must_be_32_bytes() -> None:
    proof = inclusion_proof(0, 2, _get)
    with pytest.raises(ProofError, match="proof hash 0 is 33 bytes"):
        verify_inclusion(0, 2, _LEAVES[0], [proof[0] + b"\x00"], root_at(2, _get))


def test_wrong_proof_length_is_named() -> None:
    with pytest.raises(ProofError, match="proof has 2 hashes; leaf 0 of a tree of size 5 needs 3"):
        verify_inclusion(0, 5, _LEAVES[0], inclusion_proof(0, 5, _get)[:2], root_at(5, _get))


def test_consistency_from_size_zero_is_refused() -> None:
    empty = root_at(0, _get)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 0, [], empty, empty)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 3, [], empty, root_at(3, _get))


def test_equal_sizes_need_an_empty_proof_and_equal_roots() -> None:
    root = root_at(5, _get)
    verify_consistency(5, 5, [], root, root)
    with pytest.raises(ProofError, match="proof is not empty"):
        verify_consistency(5, 5, [root], root, root)
    with pytest.raises(ProofError, match="roots differ"):
        verify_consistency(5, 5, [], root, root_at(4, _get))


def test_shrinking_tree_is_refused() -> None:
    with pytest.raises(ProofError, match="smaller"):
        verify_consistency(5, 4, [], root_at(5, _get), root_at(4, _get))


def test_empty_proof_between_different_sizes_is_refused() -> None:
    with pytest.raises(ProofError, match="is empty"):
        verify_consistency(4, 8, [], root_at(4, _get), root_at(8, _get))


def test_mismatch_names_the_root() -> None:
    proof = consistency_proof(3, 7, _get)
    with pytest.raises(ProofError, match="does not match root1"):
        verify_consistency(3, 7, proof, root_at(2, _get), root_at(7, _get))
    with pytest.raises(ProofError, match="does not match root2"):
        verify_consistency(3, 7, proof, root_at(3, _get), root_at(6, _get))


# --- Every proof the tree builds verifies; a flipped bit never does -------------------


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_built_inclusion_proofs_verify(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, len(_LEAVES)))
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, size, _get)
    verify_inclusion(index, size, _LEAVES[index], proof, root_at(size, _get))
    if proof:
        element = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        proof[element] = _flip_bit(proof[element], bit)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, _LEAVES[index], proof, root_at(size, _get))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_built_consistency_proofs_verify(data: st.DataObject) -> None:
    size2 = data.draw(st.integers(1, len(_LEAVES)))
    size1 = data.draw(st.integers(1, size2))
    proof = consistency_proof(size1, size2, _get)
    root1, root2 = root_at(size1, _get), root_at(size2, _get)
    verify_consistency(size1, size2, proof, root1, root2)
    if proof:
        element = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        proof[element] = _flip_bit(proof[element], bit)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, root1, root2)


def _flip_bit(value: bytes, bit: int) -> bytes:
    position, mask = divmod(bit, 8)
    return value[:position] + bytes([value[position] ^ (1 << mask)]) + value[position + 1 :]


def test_every_pair_up_to_64_verifies() -> None:
    for size2 in range(1, len(_LEAVES) + 1):
        root2 = root_at(size2, _get)
        for index in range(size2):
            verify_inclusion(
                index, size2, _LEAVES[index], inclusion_proof(index, size2, _get), root2
            )
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(size1, size2, _get)
            verify_consistency(size1, size2, proof, root_at(size1, _get), root2)
