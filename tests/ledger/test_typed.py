"""The typed whole-batch check: what its exactness rests on, and what it leaves to others.

``check_typed`` re-encodes the structs it decoded and compares the bytes: that is RFC
8785's form only if msgspec writes every string, integer and key order as RFC 8785 does,
for everything the path accepts. The agreement of its verdicts with the per-entry check,
change by change, is in ``test_batch.py``; the audit of a bundle through it in
``tests/test_audit.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashing import MAX_SAFE_INTEGER, canonical_json
from ledger.chain import ZERO_HASH, build_entry
from ledger.verify.entry import check_entries
from ledger.verify.typed import TYPED_DEPTH, _codecs, check_typed
from tests.ledger.test_batch import make_lines, verdicts

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
_BELOW_E000 = st.characters(max_codepoint=0xDFFF, exclude_categories=["Cs"])
_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(_BELOW_E000, max_size=6), inner)
    ),
    max_leaves=24,
)


def test_every_character_is_written_as_rfc_8785_writes_it() -> None:
    _, encoder = _codecs()
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for at in range(0, len(characters), 4096):
        text = "".join(characters[at : at + 4096])
        assert encoder.encode(text) == canonical_json(text)
        assert encoder.encode({text: text}) == canonical_json({text: text})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(_BELOW_E000, max_size=6), _VALUES, max_size=8))
def test_keys_below_u_e000_are_sorted_as_rfc_8785_sorts_them(value: dict[str, Any]) -> None:
    _, encoder = _codecs()
    assert encoder.encode(value) == canonical_json(value)


def _nested(levels: int) -> Any:
    value: Any = "x"
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("levels", [TYPED_DEPTH - 2, TYPED_DEPTH - 1])
def test_nesting_beyond_its_types_is_left_to_the_batch_check(levels: int) -> None:
    # data is at depth 2: levels containers inside it reach depth levels + 2.
    datas: list[dict[str, Any]] = [{"n": n} for n in range(200)]
    datas[70] = {"deep": _nested(levels)}
    lines = make_lines(datas)
    within = levels + 2 <= TYPED_DEPTH
    assert verdicts(lines[:128]) == (True, within)
    assert verdicts(lines[128:], start=128, prev=None, first_links=True) == (True, True)
    assert check_entries(lines, 0, ZERO_HASH, {}).failure is None


@pytest.mark.parametrize(
    ("where", "typed"),
    [("in a value", False), ("in a key", False), ("nowhere", True)],
)
def test_characters_from_u_e000_are_left_to_the_batch_check(where: str, typed: bool) -> None:
    datas: list[dict[str, Any]] = [{"n": n, "site": "Dock 3"} for n in range(128)]
    if where == "in a value":
        datas[40]["site"] = "Dock\uff0c3"  # a fullwidth comma, U+FF0C
    elif where == "in a key":
        datas[40] = {"n": 40, "\uff0c": "Dock 3"}
    lines = make_lines(datas)
    batch = where != "in a key"  # orjson sorts such a key as RFC 8785 does not
    assert verdicts(lines) == (batch, typed)


def test_a_run_with_no_entries() -> None:
    assert check_typed([], 5, ZERO_HASH, {}) == ([], (), None)


@pytest.mark.parametrize("joint", [b"\n", b" ", b"\r\n"])
def test_two_entries_on_one_line_beside_a_blank_one_are_refused(joint: bytes) -> None:
    # As many JSON texts as lines, but not one per line.
    lines = make_lines([{"n": n} for n in range(6)])
    lines[2:4] = [lines[2] + joint + lines[3], b""]
    assert check_typed(lines, 0, ZERO_HASH, {}) is None
    assert verdicts(lines) == (False, False)  # the per-entry check names entry 2
    run = check_entries(lines, 0, ZERO_HASH, {})
    assert run.failure is not None
    assert run.failure.seq == 2


def test_entries_as_the_server_writes_them_are_decided_here() -> None:
    # Registrations with attributes, later events on them, entries with no item, a signed
    # one and Chinese text: each batch of 128 passes the typed check itself.
    prev, heads, lines = ZERO_HASH, dict[str, str](), []
    for seq in range(600):
        item = None if seq % 50 == 49 else f"itm_01JD8Z3K5V7W9X{seq // 3 * 3:010d}"
        data: dict[str, Any] = {
            "kind": "pv_module",
            "code": f"JA-2019-{seq:08d}",
            "attributes": {"mass_kg": "22.5", "model": "JAM72S30", "site": "赣州 Dock 3"},
            "children": [{"id": f"itm_{seq}", "attributes": {"cells": 72}}],
        }
        entry = build_entry(
            seq=seq,
            now=T0,
            actor="org_01JD8Z3K5V7W9XQRSTABCDEFGH",
            item=item,
            type="registered" if item not in heads else "collected",
            data=data,
            prev=prev,
            item_prev=heads.get(item) if item else None,
            sig={"alg": "ed25519", "key": "k1", "value": "c2ln"} if seq % 7 == 0 else None,
        )
        prev = entry.hash
        if item:
            heads[item] = entry.hash
        lines.append(entry.body)
    items: dict[str, str] = {}
    head: str = ZERO_HASH
    for start in range(0, len(lines), 128):
        batch = check_typed(lines[start : start + 128], start, head, items)
        assert batch is not None
        head = batch[1][-1]
    assert items == heads
