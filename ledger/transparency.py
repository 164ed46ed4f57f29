"""The public face of the log: signed checkpoints, proofs, witness cosignatures.

Owns what lets someone who trusts nothing check the log: C2SP
tlog-checkpoint notes signed with the log key (kept as a history, never one
inconsistent with an earlier one), RFC 9162 inclusion and consistency proofs
read from the stored perfect subtrees in O(log n) rows, and C2SP
tlog-cosignature/v1 lines from regulators' witness keys. The math is
``hashing``'s; this module reads and writes the store.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hashing import (
    EMPTY_ROOT,
    HashingError,
    NodeId,
    Tile,
    TileId,
    consistency_proof,
    inclusion_proof,
    nodes_needed_for_consistency,
    nodes_needed_for_inclusion,
    nodes_needed_for_root,
    public_key_bytes,
    root_at,
    tile_complete,
    tile_of,
)
from hashing.checkpoint import checkpoint_body
from hashing.note import open_checkpoint, sign_note, split_note
from hashing.note_keys import ALG_COSIGNATURE_V1, Verifier, parse_verifier_key, verifier_key
from ledger.chain import format_ts
from ledger.errors import (
    ChainIntegrityError,
    ConflictError,
    DuplicateError,
    NotFoundError,
    SignatureError,
    ValidationError,
)
from ledger.records import CheckpointRecord
from ledger.store.base import LogReader, Store
from ledger.store.nodes import NodeMemo, TileCache


@dataclass(frozen=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: str
    proof: list[str]


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    proof: list[str]


def _getter(r: LogReader, ids: Sequence[tuple[int, int]]) -> Callable[[int, int], bytes]:
    return _from(r.nodes(ids))


def _from(found: dict[NodeId, bytes]) -> Callable[[int, int], bytes]:
    def get(level: int, index: int) -> bytes:
        node = found.get((level, index))
        if node is None:
            raise ChainIntegrityError(f"Merkle node ({level}, {index}) is missing")
        return node

    return get


def _cosigned(record: CheckpointRecord, lines: Sequence[str]) -> str:
    """A checkpoint's note followed by its witnesses' cosignature lines."""
    return record.note + "".join(line + "\n" for line in lines)


def tree_root(r: LogReader, size: int) -> bytes:
    """Root of the first ``size`` leaves from stored nodes (O(log n) rows)."""
    if size == 0:
        return EMPTY_ROOT
    return root_at(size, _getter(r, nodes_needed_for_root(size)))


class TreeCache(NodeMemo):
    """Stored Merkle nodes, complete tiles and the log's size, remembered by one
    process.

    The log never shrinks and its nodes never change, so nothing here can go
    stale: a proof inside a size already seen, over tiles and nodes already
    read, needs no database at all. Single nodes are only those right of the
    last complete tile of a level, so few are kept.
    """

    def __init__(self, limit: int = 1 << 14, tiles: int = 4096) -> None:
        super().__init__(limit)
        self.size = 0
        self.tiles = TileCache(tiles)

    def covers(self, size: int) -> bool:
        """Whether the log is known to hold at least ``size`` entries."""
        return size <= self.size

    def saw(self, size: int) -> None:
        self.size = max(self.size, size)


class _Plan:
    """Where each node a proof needs comes from: a complete tile or a single node."""

    def __init__(self, cache: TreeCache, ids: Sequence[NodeId]) -> None:
        self.cache = cache
        self.found: dict[NodeId, bytes] = {}
        self.tiled: dict[TileId, list[NodeId]] = {}
        self.single: list[NodeId] = []
        for node in ids:
            tile = tile_of(node)
            if tile_complete(tile, cache.size):
                held = cache.tiles.get(tile)
                if held is not None:
                    self.found[node] = held.node(node)
                else:
                    self.tiled.setdefault(tile, []).append(node)
            else:
                hit = cache.get(node)
                if hit is not None:
                    self.found[node] = hit
                else:
                    self.single.append(node)

    def ready(self) -> bool:
        return not self.tiled and not self.single

    def read(self, r: LogReader) -> None:
        """Read what the cache lacks: the tiles in one statement, the nodes in another
        (with those of any tile the store does not hold)."""
        single = list(self.single)
        if self.tiled:
            stored = r.tiles(list(self.tiled))
            for tile_id, inside in self.tiled.items():
                hashes = stored.get(tile_id)
                if hashes is None:
                    single += inside
                    continue
                tile = Tile(tile_id, hashes)
                self.cache.tiles.add(tile)
                self.found.update((node, tile.node(node)) for node in inside)
        if single:
            read = r.nodes(single)
            self.cache.add(read)
            self.found.update(read)


class Transparency:
    """Checkpoints, proofs and cosignatures over one store and one log key."""

    def __init__(
        self, store: Store, key: Ed25519PrivateKey, name: str, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.key = key
        self.name = name
        self.clock = clock
        self.tree = TreeCache()
        self.vkey = verifier_key(name, public_key_bytes(key))
        self.verifier = parse_verifier_key(self.vkey)

    # -- checkpoints ----------------------------------------------------------

    def publish(self) -> CheckpointRecord:
        """Sign a checkpoint over the whole log, unless the latest covers it.

        Before signing, the stored tree must reproduce the root of the latest
        checkpoint: the log never signs a history that contradicts one it
        signed before.

        Returns:
            The checkpoint that covers the whole log, new or not.

        Raises:
            ChainIntegrityError: the stored tree disagrees with a signed root.
        """
        record, _ = self._publish()
        return record

    def publish_new(self) -> CheckpointRecord | None:
        """``publish``, answering only a checkpoint signed and stored by this call:
        None when the latest one already covered the log (another process may
        have signed it).

        Raises:
            ChainIntegrityError: the stored tree disagrees with a signed root.
        """
        record, signed = self._publish()
        return record if signed else None

    def _publish(self) -> tuple[CheckpointRecord, bool]:
        with self.store.writer() as w:
            size = w.size()
            latest = w.latest_checkpoint()
            if latest is not None and latest.size >= size:
                return latest, False
            if latest is not None:
                again = tree_root(w, latest.size).hex()
                if again != latest.root:
                    raise ChainIntegrityError(
                        f"the stored tree gives root {again[:16]}… at size {latest.size}, "
                        f"but checkpoint {latest.size} signed {latest.root[:16]}…; "
                        "refusing to sign an inconsistent checkpoint"
                    )
            root = tree_root(w, size)
            note = sign_note(checkpoint_body(self.name, size, root), self.name, self.key)
            record = CheckpointRecord(size, root.hex(), note, format_ts(self.clock()))
            w.insert_checkpoint(record)
            return record, True

    def latest(self) -> CheckpointRecord:
        """The newest checkpoint (publishing the first one if there is none)."""
        with self.store.reader() as r:
            latest = r.latest_checkpoint()
        return latest if latest is not None else self.publish()

    def checkpoint(self, size: int | None = None) -> CheckpointRecord:
        """A checkpoint by size (or the latest), with every cosignature line.

        Raises:
            NotFoundError: no checkpoint of that size was published.
        """
        if size is None:
            record = self.latest()
        else:
            with self.store.reader() as r:
                found = r.checkpoint(size)
            if found is None:
                raise NotFoundError(f"no checkpoint of size {size} was published", pointer="/size")
            record = found
        with self.store.reader() as r:
            note = _cosigned(record, r.cosignature_lines(record.size))
        return CheckpointRecord(record.size, record.root, note, record.created_at)

    def latest_note(self) -> str | None:
        """The latest checkpoint's note with every cosignature line (one lookup,
        nothing published); None before the first."""
        with self.store.lookup() as r:
            latest = r.latest_checkpoint()
            return None if latest is None else _cosigned(latest, r.cosignature_lines(latest.size))

    # -- proofs ---------------------------------------------------------------

    def inclusion(self, index: int, size: int) -> InclusionProof:
        """Inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

        Raises:
            ValidationError: not 0 <= index < size <= the log's size.
        """
        proof = self._inclusion(index, size, read=True)
        assert proof is not None  # noqa: S101 - reading, it always answers
        return proof

    def cached_inclusion(self, index: int, size: int) -> InclusionProof | None:
        """``inclusion`` from this process's cache alone, with no I/O; None when the
        proof needs a node or the log's size that the cache does not hold.

        Raises:
            ValidationError: not 0 <= index < size.
        """
        return self._inclusion(index, size, read=False)

    def consistency(self, first: int, second: int) -> ConsistencyProof:
        """Consistency proof between the trees of ``first`` and ``second`` leaves.

        Raises:
            ValidationError: not 0 < first <= second <= the log's size (a proof
                from the empty tree is meaningless, RFC 9162 §2.1.4).
        """
        proof = self._consistency(first, second, read=True)
        assert proof is not None  # noqa: S101 - reading, it always answers
        return proof

    def cached_consistency(self, first: int, second: int) -> ConsistencyProof | None:
        """``consistency`` from this process's cache alone, with no I/O, or None.

        Raises:
            ValidationError: not 0 < first <= second.
        """
        return self._consistency(first, second, read=False)

    def _inclusion(self, index: int, size: int, *, read: bool) -> InclusionProof | None:
        if not 0 <= index < size:
            raise ValidationError(
                f"index {index} is not inside a tree of size {size}", pointer="/index"
            )
        ids = [*nodes_needed_for_inclusion(index, size), (0, index)]
        get = self._nodes(size, ids, "/size", f"size {size}", read=read)
        if get is None:
            return None
        proof = inclusion_proof(index, size, get)
        return InclusionProof(index, size, get(0, index).hex(), [p.hex() for p in proof])

    def _consistency(self, first: int, second: int, *, read: bool) -> ConsistencyProof | None:
        if not 0 < first <= second:
            raise ValidationError(
                f"need 0 < from <= to (got from={first}, to={second}); a proof from "
                "the empty tree is meaningless",
                pointer="/from",
            )
        needed = [] if first == second else nodes_needed_for_consistency(first, second)
        get = self._nodes(second, needed, "/to", f"to={second}", read=read)
        if get is None:
            return None
        if first == second:
            return ConsistencyProof(first, second, [])
        proof = consistency_proof(first, second, get)
        return ConsistencyProof(first, second, [p.hex() for p in proof])

    def _nodes(
        self, size: int, ids: Sequence[NodeId], pointer: str, what: str, *, read: bool
    ) -> Callable[[int, int], bytes] | None:
        """The nodes ``ids`` of the tree of ``size`` leaves, from the cache where it can;
        None, unless ``read``, when the cache alone cannot give them.

        Nodes inside a complete tile come from the tile (one row for up to 511
        nodes); the few right of the last complete tile of their level, one by one.

        Raises:
            ValidationError: the log is shorter than ``size``.
        """
        cache = self.tree
        if cache.covers(size):
            plan = _Plan(cache, ids)
            if plan.ready():
                return _from(plan.found)
        if not read:
            return None
        with self.store.lookup() as r:
            if not cache.covers(size):
                cache.saw(r.size())
                if not cache.covers(size):
                    raise ValidationError(
                        f"{what} is beyond the log's {cache.size} entries", pointer=pointer
                    )
                plan = _Plan(cache, ids)
            plan.read(r)
        return _from(plan.found)

    # -- witnesses ------------------------------------------------------------

    def register_witness(self, org_id: str, vkey: str) -> Verifier:
        """Register a regulator's witness key (``name+hash+base64(0x04‖pub)``).

        Raises:
            ValidationError: not a tlog-cosignature/v1 verifier key.
            DuplicateError: the name is taken.
        """
        try:
            verifier = parse_verifier_key(vkey)
        except HashingError as exc:
            raise ValidationError(f"not a verifier key: {exc}", pointer="/vkey") from None
        if verifier.alg != ALG_COSIGNATURE_V1:
            raise ValidationError(
                "a witness key has the tlog-cosignature/v1 type (0x04)", pointer="/vkey"
            )
        with self.store.writer() as w:
            if w.witness(verifier.name) is not None:
                raise DuplicateError(f"a witness named {verifier.name!r} exists", pointer="/vkey")
            w.insert_witness(verifier.name, org_id, vkey, format_ts(self.clock()))
        return verifier

    def cosign(self, org_id: str, note: str) -> CheckpointRecord:
        """Accept a checkpoint cosigned by one of ``org_id``'s witness keys.

        The note must be a checkpoint this log signed, carrying at least one
        valid tlog-cosignature/v1 line from the org's witnesses; a witness
        never goes back to a smaller tree than one it cosigned before.

        Raises:
            SignatureError: bad note, bad log signature or bad cosignature.
            NotFoundError: the log never signed this checkpoint.
            ConflictError: a witness cosigning an older checkpoint.
        """
        with self.store.reader() as r:
            witnesses = {v.name: v for v in (parse_verifier_key(k) for k in r.witness_keys(org_id))}
        if not witnesses:
            raise NotFoundError("register a witness key of this org first")
        try:
            checkpoint, opened = open_checkpoint(note, self.verifier, list(witnesses.values()))
        except HashingError as exc:
            raise SignatureError(f"the cosigned checkpoint does not verify: {exc}") from None
        stamps = opened.cosignatures
        if not stamps:
            raise SignatureError("no cosignature from your witness keys is on the note")
        _, lines = split_note(note)
        with self.store.writer() as w:
            stored = w.checkpoint(checkpoint.size)
            if stored is None or stored.root != checkpoint.root.hex():
                raise NotFoundError(
                    f"this log signed no checkpoint of size {checkpoint.size} with that root"
                )
            for name, stamp in stamps.items():
                last = w.last_cosigned_size(name)
                if last is not None and last > checkpoint.size:
                    raise ConflictError(
                        f"witness {name} cosigned size {last} before; it cannot go back "
                        f"to {checkpoint.size}"
                    )
                line = next(
                    x
                    for x in lines
                    if x.split(" ", 2)[1] == name and _line_key_matches(x, witnesses[name])
                )
                w.save_cosignature(checkpoint.size, name, line, stamp)
        return self.checkpoint(checkpoint.size)


def _line_key_matches(line: str, verifier: Verifier) -> bool:
    try:
        raw = base64.b64decode(line.split(" ", 2)[2], validate=True)
    except (ValueError, IndexError):
        return False
    return raw[:4] == verifier.key_hash
