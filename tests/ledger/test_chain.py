"""Entries and chain verification as pure functions: no database."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from hashing import canonical_json, leaf_hash
from ledger.chain import (
    ZERO_HASH,
    Entry,
    StoredEntry,
    build_entry,
    format_ts,
    parse_entry,
)
from ledger.verify import ChainVerifier

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ORG_DATA = {"id": "org_A", "name": "Acme", "role": "oem", "region": "CN"}
PV_DATA = {"kind": "pv_module", "code": "PV-1", "attributes": {"mass_kg": "22.5"}}

# The canonical (RFC 8785) bytes of two entries, written out by hand.
ENTRY0 = (
    b'{"actor":"org_A","data":{"id":"org_A","name":"Acme","region":"CN","role":"oem"},'
    b'"item":null,"item_prev":null,"prev":"' + b"0" * 64 + b'","seq":0,"sig":null,'
    b'"ts":"2026-01-02T03:04:05.678901Z","type":"org_created","v":1}'
)
# Reproduce: write ENTRY0 to e0.json (no trailing newline), then
#   (printf '\0'; cat e0.json) | sha256sum
HASH0 = "d5068d80034781716b2a6b1d5789600f86192f02e6ba637b001af3dea3b1b153"
ENTRY1 = (
    b'{"actor":"org_A","data":{"attributes":{"mass_kg":"22.5"},"code":"PV-1",'
    b'"kind":"pv_module"},"item":"itm_1","item_prev":null,"prev":"'
    + HASH0.encode()
    + b'","seq":1,"sig":null,"ts":"2026-01-02T03:04:06.000000Z","type":"registered","v":1}'
)
# Reproduce: write ENTRY1 to e1.json (no trailing newline), then
#   (printf '\0'; cat e1.json) | sha256sum
HASH1 = "1b17e503efc27f2f12e65927f4d6b0e86688e3ee5195e9a40cb05e86d35ab010"


def _entry(
    seq: int,
    prev: str,
    *,
    item: str | None = None,
    item_prev: str | None = None,
    type: str = "org_created",
    data: dict[str, Any] | None = None,
    actor: str = "org_A",
) -> Entry:
    return build_entry(
        seq=seq,
        now=T0 + timedelta(seconds=seq),
        actor=actor,
        item=item,
        type=type,
        data=data if data is not None else {"n": seq},
        prev=prev,
        item_prev=item_prev,
    )


def _chain() -> list[Entry]:
    """org entry, then items A and B interleaved: 0 org, 1 A, 2 B, 3 A, 4 B, 5 A."""
    out = [_entry(0, ZERO_HASH)]
    heads: dict[str, str | None] = {"itm_A": None, "itm_B": None}
    for seq, (item, kind) in enumerate(
        [
            ("itm_A", "registered"),
            ("itm_B", "registered"),
            ("itm_A", "retired"),
            ("itm_B", "retired"),
            ("itm_A", "transferred"),
        ],
        start=1,
    ):
        entry = _entry(seq, out[-1].hash, item=item, item_prev=heads[item], type=kind)
        heads[item] = entry.hash
        out.append(entry)
    return out


def _row(entry: Entry, **changes: Any) -> StoredEntry:
    row = StoredEntry(entry.seq, entry.hash, entry.body, entry.item, entry.type, entry.actor)
    return dataclasses.replace(row, **changes)


def _rows(entries: list[Entry]) -> list[StoredEntry]:
    return [_row(e) for e in entries]


def _relinked(entry: Entry, **fields: Any) -> StoredEntry:
    """The entry with fields changed, re-serialized canonically and re-hashed."""
    raw = json.loads(entry.body)
    raw.update(fields)
    body = canonical_json(raw)
    return _row(entry, body=body, hash=leaf_hash(body).hex())


def _first_bad(rows: list[StoredEntry]) -> tuple[int, str]:
    verifier = ChainVerifier()
    assert verifier.feed(rows) is False
    failure = verifier.first_bad
    assert failure is not None
    assert failure.seq is not None
    return failure.seq, failure.reason


# -- timestamps ---------------------------------------------------------------


def test_format_ts_gives_utc_microseconds_and_z() -> None:
    assert format_ts(T0) == "2026-01-02T03:04:05.678901Z"
    assert format_ts(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000000Z"
    plus8 = datetime(2026, 1, 2, 8, 0, 0, 5, tzinfo=timezone(timedelta(hours=8)))
    assert format_ts(plus8) == "2026-01-02T00:00:00.000005Z"


def test_format_ts_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_ts(datetime(2026, 1, 2, 3, 4, 5))  # noqa: DTZ001 - the naive value under test


# -- building and parsing -----------------------------------------------------


def test_build_entry_known_answers() -> None:
    e0 = build_entry(
        seq=0,
        now=T0,
        actor="org_A",
        item=None,
        type="org_created",
        data=ORG_DATA,
        prev=ZERO_HASH,
        item_prev=None,
    )
    assert e0.body == ENTRY0
    assert e0.hash == HASH0
    e1 = build_entry(
        seq=1,
        now=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
        actor="org_A",
        item="itm_1",
        type="registered",
        data=PV_DATA,
        prev=e0.hash,
        item_prev=None,
    )
    assert e1.body == ENTRY1
    assert e1.hash == HASH1
    assert e1.to_wire() == {**json.loads(ENTRY1), "hash": HASH1}


def test_parse_entry_round_trip() -> None:
    for entry in _chain():
        assert parse_entry(entry.body) == entry
    parsed = parse_entry(ENTRY1)
    assert (parsed.seq, parsed.item, parsed.prev, parsed.hash) == (1, "itm_1", HASH0, HASH1)
    assert parsed.data == PV_DATA


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seq": -1}, "seq"),
        ({"seq": 0, "prev": "ab" * 32}, "zero hash"),
        ({"prev": "AB" * 32}, "prev"),
        ({"prev": "ab" * 31}, "prev"),
        ({"item": "itm_1", "item_prev": "xyz"}, "item_prev"),
        ({"data": {"mass_kg": 412.5}}, "float"),
    ],
    ids=[
        "negative-seq",
        "seq0-nonzero-prev",
        "uppercase-prev",
        "short-prev",
        "bad-item-prev",
        "float-in-data",
    ],
)
def test_build_entry_refuses(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "seq": 3,
        "now": T0,
        "actor": "org_A",
        "item": None,
        "type": "org_created",
        "data": {},
        "prev": "ab" * 32,
        "item_prev": None,
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        build_entry(**args)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "fields differ"),
        (ENTRY0.replace(b'"v":1}', b'"v":1,"x":0}'), "fields differ"),
        (ENTRY0.replace(b'"v":1', b'"v":2'), "version"),
        (ENTRY0.replace(b"{", b"{ ", 1), "canonical"),
        (ENTRY0.replace(b'"seq":0', b'"seq":0.0'), "type"),
        (ENTRY0.replace(b'"seq":0', b'"seq":true'), "type"),
        (ENTRY0.replace(b'"prev":"' + b"0" * 64 + b'"', b'"prev":null'), "type"),
        (ENTRY0.replace(b'"region":"CN"', b'"region":1.5'), "canonicalize"),
    ],
    ids=[
        "not-json",
        "not-utf8",
        "not-an-object",
        "extra-field",
        "version",
        "whitespace",
        "float-seq",
        "bool-seq",
        "null-prev",
        "float-in-data",
    ],
)
def test_parse_entry_refuses(body: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_entry(body)


# -- chain verification ---------------------------------------------------------


def test_intact_chain_verifies() -> None:
    entries = _chain()
    verifier = ChainVerifier()
    assert verifier.feed(_rows(entries[:2])) is True
    assert verifier.feed(_rows(entries[2:])) is True
    assert verifier.first_bad is None
    assert verifier.size == len(entries)
    assert verifier.head == entries[-1].hash
    assert ChainVerifier().feed([]) is True


@pytest.mark.parametrize("seq", range(6))
def test_hash_column_mismatch_names_the_entry(seq: int) -> None:
    rows = _rows(_chain())
    rows[seq] = dataclasses.replace(rows[seq], hash="0" * 64)
    bad, reason = _first_bad(rows)
    assert bad == seq
    assert "stored hash" in reason


@pytest.mark.parametrize("seq", range(6))
def test_flipped_body_byte_names_the_entry(seq: int) -> None:
    rows = _rows(_chain())
    body = bytearray(rows[seq].body)
    body[len(body) // 2] ^= 0x01
    rows[seq] = dataclasses.replace(rows[seq], body=bytes(body))
    bad, reason = _first_bad(rows)
    assert bad == seq
    assert "stored hash" in reason


def test_broken_prev_names_the_entry() -> None:
    entries = _chain()
    rows = _rows(entries)
    rows[3] = _relinked(entries[3], prev=entries[1].hash)
    bad, reason = _first_bad(rows)
    assert bad == 3
    assert "is not the hash of entry 2" in reason


def test_broken_item_prev_names_the_entry() -> None:
    entries = _chain()
    rows = _rows(entries)
    # entry 3 (item A) must link to entry 1; make it link to entry 2 (item B)
    rows[3] = _relinked(entries[3], item_prev=entries[2].hash)
    bad, reason = _first_bad(rows)
    assert bad == 3
    assert "item_prev of item itm_A" in reason


def test_first_entry_of_an_item_has_no_item_prev() -> None:
    entries = _chain()
    rows = _rows(entries)
    rows[1] = _relinked(entries[1], item_prev=entries[0].hash)
    assert _first_bad(rows)[0] == 1


def test_entry_without_item_has_no_item_prev() -> None:
    rows = [_relinked(_chain()[0], item_prev="ab" * 32)]
    bad, reason = _first_bad(rows)
    assert bad == 0
    assert "no item" in reason


@pytest.mark.parametrize("missing", range(5))
def test_missing_entry_is_named_by_the_gap(missing: int) -> None:
    rows = _rows(_chain())
    del rows[missing]
    bad, reason = _first_bad(rows)
    assert bad == missing + 1  # the row found where `missing` should be
    assert f"expected seq {missing}" in reason


def test_repeated_entry_is_named() -> None:
    rows = _rows(_chain())
    rows.insert(3, rows[2])
    bad, reason = _first_bad(rows)
    assert bad == 2
    assert "expected seq 3" in reason


def test_non_canonical_bytes_are_named() -> None:
    entries = _chain()
    rows = _rows(entries)
    body = json.dumps(json.loads(entries[2].body), indent=1).encode()  # same JSON, spaced
    rows[2] = _row(entries[2], body=body, hash=leaf_hash(body).hex())
    bad, reason = _first_bad(rows)
    assert bad == 2
    assert "canonical" in reason


@pytest.mark.parametrize(
    "column", [{"actor": "org_evil"}, {"type": "recycled"}, {"item": "itm_B"}, {"item": None}]
)
def test_column_mismatch_is_named(column: dict[str, Any]) -> None:
    rows = _rows(_chain())
    rows[3] = dataclasses.replace(rows[3], **column)
    bad, reason = _first_bad(rows)
    assert bad == 3
    assert "indexed columns" in reason


def test_bytes_that_name_another_seq_are_named() -> None:
    entries = _chain()
    rows = _rows(entries)
    rows[2] = _relinked(entries[2], seq=7)
    bad, reason = _first_bad(rows)
    assert bad == 2
    assert "bytes say seq 7" in reason


@pytest.mark.parametrize(
    "fields",
    [{"prev": None}, {"prev": 5}, {"item_prev": ["x"]}, {"seq": True}, {"data": "x"}],
    ids=["null-prev", "int-prev", "list-item-prev", "bool-seq", "string-data"],
)
def test_rewritten_entry_of_the_wrong_shape_is_named(fields: dict[str, Any]) -> None:
    # An attacker who re-hashes a rewritten entry still gets it named, not a crash.
    entries = _chain()
    rows = _rows(entries)
    rows[1] = _relinked(entries[1], **fields)
    bad, reason = _first_bad(rows)
    assert bad == 1
    assert "invalid" in reason


@pytest.mark.parametrize(
    ("old", "new"),
    [(b'"seq":4', b'"seq":4.0'), (b'"n":4', b'"n":4.0')],
    ids=["float-seq", "float-in-data"],
)
def test_rewritten_entry_with_a_float_is_named(old: bytes, new: bytes) -> None:
    entries = _chain()
    rows = _rows(entries)
    body = entries[4].body.replace(old, new)
    assert json.loads(body) == json.loads(entries[4].body)  # equal values, one a float
    rows[4] = _row(entries[4], body=body, hash=leaf_hash(body).hex())
    bad, reason = _first_bad(rows)
    assert bad == 4
    assert "invalid" in reason


def test_verifier_stops_at_the_first_bad_entry() -> None:
    entries = _chain()
    rows = _rows(entries)
    rows[2] = dataclasses.replace(rows[2], hash="0" * 64)
    verifier = ChainVerifier()
    assert verifier.feed(rows[:3]) is False
    assert verifier.size == 2
    assert verifier.head == entries[1].hash
    assert verifier.feed(rows[3:]) is False
    assert verifier.first_bad is not None
    assert verifier.first_bad.seq == 2
    assert verifier.size == 2
