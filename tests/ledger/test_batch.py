"""The whole-batch entry checks agree with the entry-by-entry one, entry for entry.

``check_typed`` and ``check_batch`` may only ever say "every entry passes" when the
per-entry check would pass every entry, with the same hashes and the same item links; and
``check_entries``, which tries batches first, must name the same first failure and reason
as the per-entry check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashing import MAX_SAFE_INTEGER, canonical_json, leaf_hash
from ledger.chain import ZERO_HASH, build_entry, parse_entry
from ledger.limits import ENTRY
from ledger.verify.batch import SHORT, check_batch
from ledger.verify.entry import Columns, FirstLinks, _check_each, check_entries
from ledger.verify.typed import TYPED_DEPTH, check_typed

T0 = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)

_BOUNDARY_CHARS = st.sampled_from(
    [
        "\x00", "\x08", "\x1f", " ", '"', "/", "\\", "\x7f", "\x80", "\u00e9", "\u2028",
        "\u2029", "\ud7ff", "\ue000", "\ufb33", "\ufeff", "\uffff", "\U00010000",
        "\U0001f602", "\U0010ffff",
    ]
)  # fmt: skip
# Every plane, control characters and the characters JSON escapes included.
_CHARS = st.one_of(st.characters(exclude_categories=["Cs"]), _BOUNDARY_CHARS)
_TEXT = st.one_of(st.text(_CHARS, max_size=12), st.text(_CHARS, min_size=200, max_size=400))
_DECIMALS = st.from_regex(r"-?(0|[1-9][0-9]{0,40})\.[0-9]{1,40}", fullmatch=True)
_INTS = st.one_of(
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.sampled_from([0, -1, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 2**31, 2**32]),
)
_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), _INTS, _TEXT, _DECIMALS),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=20,
)
_DATA = st.dictionaries(_TEXT, _VALUES, max_size=5)
_SIG = st.one_of(
    st.none(), st.fixed_dictionaries({"key": _TEXT, "alg": st.just("ed25519"), "value": _TEXT})
)


def make_lines(datas: Sequence[dict[str, Any]], sigs: Sequence[Any] = ()) -> list[bytes]:
    """A valid log: three items and some entries with none, as ``build_entry`` writes it."""
    prev, heads, lines = ZERO_HASH, dict[str, str](), []
    for seq, data in enumerate(datas):
        item = None if seq % 5 == 4 else f"itm_{seq % 3}"
        entry = build_entry(
            seq=seq,
            now=T0,
            actor="org_é" if seq % 2 else "org_A",
            item=item,
            type="registered",
            data=data,
            prev=prev,
            item_prev=heads.get(item) if item else None,
            sig=sigs[seq] if seq < len(sigs) else None,
        )
        prev = entry.hash
        if item:
            heads[item] = entry.hash
        lines.append(entry.body)
    return lines


def relink(lines: list[bytes], changed: int) -> None:
    """Link the entries after ``changed`` to it again (``prev`` and ``item_prev``), so that
    the change itself is what the checks must find."""
    heads: dict[str, str] = {}
    for seq, line in enumerate(lines):
        try:
            fields = json.loads(line)
            item = fields["item"]
        except (ValueError, TypeError, KeyError):
            continue
        if seq > changed:
            fields["prev"] = leaf_hash(lines[seq - 1]).hex()
            if isinstance(item, str):
                fields["item_prev"] = heads.get(item)
            lines[seq] = canonical_json(fields)
        if isinstance(item, str):
            heads[item] = leaf_hash(lines[seq]).hex()


def verdicts(
    lines: list[bytes],
    start: int = 0,
    prev: str | None = ZERO_HASH,
    items: dict[str, str] | None = None,
    first_links: bool = False,
    claimed: list[str] | None = None,
    columns: list[Columns] | None = None,
) -> tuple[bool, bool]:
    """Run the per-entry check and both whole-batch checks from the same state; return
    whether ``check_batch`` and ``check_typed`` passed the batch."""
    state = dict(items or {})
    ref_items = dict(state)
    ref_links: FirstLinks | None = {} if first_links else None
    leaves: list[bytes] = []
    count, head, first_prev, reason = _check_each(
        lines, start, prev, ref_items, ref_links, claimed, columns, leaves
    )
    passed = []
    for check in (check_batch, check_typed):
        fast_items = dict(state)
        fast_links: FirstLinks | None = {} if first_links else None
        fast = check(lines, start, prev, fast_items, fast_links, claimed, columns)
        if fast is None:
            # Nothing changed: the caller checks these entries one by one from the same state.
            assert fast_items == state
            assert fast_links in (None, {})
        else:
            digests, hexes, fast_first_prev = fast
            assert reason is None, reason
            assert count == len(lines)
            assert digests == leaves
            assert hexes == tuple(leaf.hex() for leaf in leaves)
            assert (hexes[-1] if hexes else prev) == head
            assert fast_first_prev == first_prev
            assert fast_items == ref_items
            assert fast_links == ref_links
        passed.append(fast is not None)
    # The check every verifier runs: batches first, entries one by one where one fails.
    run_items: dict[str, str] = dict(state)
    run_links: FirstLinks | None = {} if first_links else None
    run = check_entries(lines, start, prev, run_items, run_links, claimed, columns)
    found = None if run.failure is None else (run.failure.seq, run.failure.reason)
    expected = None if reason is None else (start + count, reason)
    assert (run.count, run.leaves, run.head, run.first_prev, found) == (
        count,
        leaves,
        head,
        first_prev,
        expected,
    )
    assert run_items == ref_items
    assert run_links == ref_links
    return passed[0], passed[1]


def agree(lines: list[bytes], *args: Any, **kwargs: Any) -> bool:
    """``verdicts``, for ``check_batch`` alone."""
    return verdicts(lines, *args, **kwargs)[0]


def _depth(value: Any) -> int:
    """Containers nested in ``value``, itself included."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


# --- valid logs --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_DATA, min_size=1, max_size=8), st.lists(_SIG, max_size=8))
def test_valid_entries_pass_both_checks_alike(datas: list[dict[str, Any]], sigs: list[Any]) -> None:
    lines = make_lines(datas, sigs)
    passed, typed = verdicts(lines)
    # Every entry is valid; the batch check passes them all unless a key holds a character
    # at or above U+E000 (orjson and RFC 8785 sort such keys differently).
    keys = [k for value in [*datas, *sigs] for k in _keys(value)]
    assert passed or any(k and max(k) >= "\ue000" for k in keys)
    # The typed check passes them all but for what it leaves to the batch check: any
    # character from U+E000, a line longer than a string may be, deeper nesting.
    assert typed or (
        max(map(len, lines)) > SHORT
        or any(max(line.decode()) >= "\ue000" for line in lines)
        or max(_depth(value) for value in [*datas, *sigs]) > TYPED_DEPTH - 1
    )
    for line in lines:
        parse_entry(line)


@settings(max_examples=60, deadline=None)
@given(st.lists(_DATA, min_size=2, max_size=8), st.integers(1, 7))
def test_runs_checked_apart_and_resumed_agree(datas: list[dict[str, Any]], cut: int) -> None:
    lines = make_lines(datas)
    cut = min(cut, len(lines) - 1)
    # The tail alone: prev unknown, first links recorded for whoever knows the head.
    agree(lines[cut:], start=cut, prev=None, first_links=True)
    # The tail after the head, with the items the head left.
    items: dict[str, str] = {}
    _check_each(lines[:cut], 0, ZERO_HASH, items, None, None, None, [])
    agree(lines[cut:], start=cut, prev=leaf_hash(lines[cut - 1]).hex(), items=items)


# --- one line changed --------------------------------------------------------------------


def _reserialize(**options: Any) -> Callable[[bytes], bytes]:
    def change(line: bytes) -> bytes:
        return json.dumps(json.loads(line), **options).encode()

    return change


def _reversed_keys(line: bytes) -> bytes:
    fields = json.loads(line)
    fields["data"] = dict(reversed(fields["data"].items()))
    return json.dumps(dict(reversed(fields.items())), separators=(",", ":")).encode()


def _data_field(value: Any) -> Callable[[bytes], bytes]:
    def change(line: bytes) -> bytes:
        fields = json.loads(line)
        fields["data"]["zz"] = value
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    return change


MUTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "none": lambda b: b,
    "escaped non-ASCII": _reserialize(sort_keys=True, separators=(",", ":"), ensure_ascii=True),
    "spaces": _reserialize(sort_keys=True, separators=(", ", ": "), ensure_ascii=False),
    "unsorted": _reversed_keys,
    "orjson key order": lambda b: orjson.dumps(json.loads(b), option=orjson.OPT_SORT_KEYS),
    "float v": lambda b: b.replace(b'"v":1}', b'"v":1.0}'),
    "exponent seq": lambda b: b.replace(b'"seq":', b'"seq":1e0,"x":'),
    "float in data": _data_field(0.5),
    "integral float in data": _data_field(2.0),
    "unsafe int in data": _data_field(MAX_SAFE_INTEGER + 1),
    "huge int in data": lambda b: b.replace(b'"data":{', b'"data":{"!":18446744073709551616,'),
    "negative zero": lambda b: b.replace(b'"data":{', b'"data":{"!":-0,'),
    "bool v": lambda b: b.replace(b'"v":1}', b'"v":true}'),
    "other version": lambda b: b.replace(b'"v":1}', b'"v":2}'),
    "bool seq": lambda b: b.replace(b'"seq":1,', b'"seq":true,'),
    "string seq": lambda b: b.replace(b'"seq":', b'"seq":"0","x":'),
    "list data": lambda b: b.replace(b'"data":{', b'"data":[{').replace(b'},"item"', b'}],"item"'),
    "list sig": lambda b: b.replace(b'"sig":null', b'"sig":[]'),
    "string sig": lambda b: b.replace(b'"sig":null', b'"sig":"x"'),
    "number item": lambda b: b.replace(b'"item":"itm_1"', b'"item":1'),
    "number actor": lambda b: b.replace(b'"actor":"org_A"', b'"actor":7'),
    "escaped letter": lambda b: b.replace(b'"org_A"', b'"org_\\u0041"'),
    "escaped slash": lambda b: b.replace(b'"org_A"', b'"org\\/A"'),
    "lone surrogate": lambda b: b.replace(b'"org_A"', b'"org_\\ud800"'),
    "raw control character": lambda b: b.replace(b'"org_A"', b'"org_\x01"'),
    "invalid UTF-8": lambda b: b.replace(b'"org_A"', b'"org_\xff"'),
    "duplicate key": lambda b: b[:-1] + b',"v":1}',
    "extra key": lambda b: b[:-1] + b',"w":1}',
    "missing key": lambda b: b.replace(b',"v":1}', b"}"),
    "renamed key": lambda b: b.replace(b'"ts":', b'"tt":'),
    "truncated": lambda b: b[:-1],
    "trailing space": lambda b: b + b" ",
    "leading space": lambda b: b" " + b,
    "two values": lambda b: b + b"," + b,
    "not an object": lambda b: b'["' + b.hex().encode() + b'"]',
    "prev changed": lambda b: b.replace(b'"prev":"', b'"prev":"f'),
    "item_prev changed": lambda b: b.replace(b'"item_prev":"', b'"item_prev":"0'),
    "item_prev on no item": lambda b: b.replace(
        b'"item":null,"item_prev":null', b'"item":null,"item_prev":"' + b"0" * 64 + b'"'
    ),
    "item_prev dropped": lambda b: b.replace(b'"item_prev":"', b'"item_prev":null,"x":"'),
    "other item": lambda b: b.replace(b'"item":"itm_', b'"item":"itm_9'),
    "no item": lambda b: b.replace(b'"item":"itm_1"', b"\"item\":null"),
    "seq changed": lambda b: b.replace(b'"seq":', b'"seq":1'),
    "number prev": lambda b: b.replace(b'"prev":"', b'"prev":5,"x":"'),
    "null prev": lambda b: b.replace(b'"prev":"', b'"prev":null,"x":"'),
    "number type": lambda b: b.replace(b'"type":"registered"', b'"type":1'),
    "null ts": lambda b: b.replace(b'"ts":"', b'"ts":null,"tt":"'),
}  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_DATA, min_size=1, max_size=7),
    st.sampled_from(sorted(MUTATIONS)),
    st.integers(0, 6),
    st.booleans(),
)
def test_a_changed_line_gets_the_same_verdict_from_both(
    datas: list[dict[str, Any]], mutation: str, index: int, apart: bool
) -> None:
    lines = make_lines(datas)
    index = min(index, len(lines) - 1)
    lines[index] = MUTATIONS[mutation](lines[index])
    relink(lines, index)
    agree(lines, prev=None if apart else ZERO_HASH, first_links=apart)


@pytest.mark.parametrize("index", [0, 1, 4, 131, 257, 299])
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_change_in_a_long_log(mutation: str, index: int) -> None:
    datas = [{"n": n, "mass_kg": "1.5", "tags": ["a", {"b": None}]} for n in range(300)]
    lines = make_lines(datas)
    if index > 0:
        assert agree(lines[:index])  # untouched: the batch check passes them
    lines[index] = MUTATIONS[mutation](lines[index])
    relink(lines, index)
    # Nothing here needs the per-entry check's slower paths: if every entry is right, both
    # whole-batch checks pass them too.
    valid = check_entries(lines, 0, ZERO_HASH, {}).failure is None
    assert verdicts(lines) == (valid, valid)
    agree(lines, prev=None, first_links=True)
    agree(lines[index:], start=index, prev=None, first_links=True)
    agree(lines[1:], start=1, prev=leaf_hash(lines[0]).hex(), items={"itm_0": "0" * 64})


@pytest.mark.parametrize("order", ["swap", "drop", "repeat"])
def test_reordered_lines(order: str) -> None:
    lines = make_lines([{"n": n} for n in range(12)])
    if order == "swap":
        lines[5], lines[6] = lines[6], lines[5]
    elif order == "drop":
        del lines[5]
    else:
        lines.insert(5, lines[5])
    assert not agree(lines)


def test_nesting_deeper_than_orjson_writes_is_checked_entry_by_entry() -> None:
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    lines = make_lines([{"n": 1}, {"deep": deep}, {"n": 2}])
    assert not agree(lines)  # orjson cannot write it back: the per-entry check decides


def test_keys_that_sort_differently_are_checked_entry_by_entry() -> None:
    data = {"\U0001f600": 1, "\uff10": 2, "a": 3}  # RFC 8785: U+1F600 before U+FF10
    lines = make_lines([{"n": 1}, data])
    assert b'"\xf0\x9f\x98\x80":1,"\xef\xbc\x90":2' in lines[1]
    assert not agree(lines)
    assert check_entries(lines, 0, ZERO_HASH, {}).failure is None
    # The same entry with its keys in orjson's (code point) order is not canonical.
    lines[1] = orjson.dumps(json.loads(lines[1]), option=orjson.OPT_SORT_KEYS)
    assert not agree(lines)
    run = check_entries(lines, 0, ZERO_HASH, {})
    assert run.failure is not None
    assert run.failure.seq == 1


# --- what a store claims -----------------------------------------------------------------


@pytest.mark.parametrize("claim", ["right", "hash", "seq", "item", "type", "actor", "list"])
def test_claimed_hashes_and_indexed_columns(claim: str) -> None:
    lines = make_lines([{"n": n} for n in range(10)])
    entries = [parse_entry(line) for line in lines]
    claimed = [e.hash for e in entries]
    columns: list[Any] = [(e.seq, e.item, e.type, e.actor) for e in entries]
    if claim == "hash":
        claimed[6] = "0" * 64
    elif claim in ("seq", "item", "type", "actor"):
        field = ("seq", "item", "type", "actor").index(claim)
        row = list(columns[6])
        row[field] = 99 if claim == "seq" else "other"
        columns[6] = tuple(row)
    elif claim == "list":
        columns[6] = list(columns[6])
    right = claim == "right"
    assert verdicts(lines, claimed=claimed, columns=columns) == (right, right)


# --- the limits of ENTRY, walked with the kinds of value ---------------------------------


def _nested(depth: int, inner: Any) -> Any:
    """``inner`` inside ``depth`` arrays and objects, alternately."""
    value = inner
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# data sits at depth 2 of its entry: 30 containers inside it reach ENTRY.depth (32).
LIMIT_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "depth": ({"deep": _nested(30, "x")}, {"deep": _nested(31, "x")}),
    "keys": (
        {f"k{n:02d}": n for n in range(ENTRY.keys)},
        {f"k{n:02d}": n for n in range(ENTRY.keys + 1)},
    ),
    "keys below": (
        {"a": [{"b": {f"k{n:02d}": None for n in range(ENTRY.keys)}}]},
        {"a": [{"b": {f"k{n:02d}": None for n in range(ENTRY.keys + 1)}}]},
    ),
    "items": ({"list": [0] * ENTRY.items}, {"list": [0] * (ENTRY.items + 1)}),
    "items below": (
        {"a": {"b": [[0] * ENTRY.items]}},
        {"a": {"b": [[0] * (ENTRY.items + 1)]}},
    ),
}


@pytest.mark.parametrize("limit", sorted(LIMIT_CASES))
def test_each_limit_at_its_bound_and_one_beyond(limit: str) -> None:
    at, beyond = LIMIT_CASES[limit]
    datas: list[dict[str, Any]] = [{"n": n} for n in range(300)]
    datas[200] = at
    lines = make_lines(datas)
    assert max(map(len, lines)) <= ENTRY.string_bytes  # no string can be too long
    # At the bound: the batch check passes the entry, and so does the typed check but for
    # nesting deeper than its types go.
    assert verdicts(lines) == (True, limit != "depth")
    assert check_entries(lines, 0, ZERO_HASH, {}).failure is None
    datas[200] = beyond
    lines = make_lines(datas)
    assert verdicts(lines) == (False, False)
    run = check_entries(lines, 0, ZERO_HASH, {})
    assert run.failure is not None
    assert run.failure.seq == 200
    assert f"breaks its {limit.split()[0]} limit" in run.failure.reason
    agree(lines[128:], start=128, prev=None, first_links=True)


@pytest.mark.parametrize("length", [ENTRY.string_bytes, ENTRY.string_bytes + 1])
def test_lines_longer_than_a_string_may_be(length: int) -> None:
    # A line beyond ENTRY.string_bytes may hold a string too long: its batch is walked
    # with the lengths too.
    datas: list[dict[str, Any]] = [{"n": n} for n in range(200)]
    datas[150] = {"a": "x" * 3000, "b": "y" * 3000}
    datas[160] = {"text": "é" * (length // 2) + "x" * (length % 2)}  # 2 UTF-8 bytes each
    lines = make_lines(datas)
    within = length <= ENTRY.string_bytes
    # A batch with a 6 KB line whose strings are short passes (the typed check leaves it).
    assert verdicts(lines[:160]) == (True, False)
    assert verdicts(lines) == (within, False)
    run = check_entries(lines, 0, ZERO_HASH, {})
    if within:
        assert run.failure is None
    else:
        assert run.failure is not None
        assert run.failure.seq == 160
        assert "breaks its string_bytes limit" in run.failure.reason


# --- where orjson's bytes and RFC 8785's agree, and where the check falls back -----------


VALID_VALUES: dict[str, Any] = {
    "non-ASCII text": "Ganzhou 赣州 ☀ é",
    "astral text": "\U0001f600\U0010ffff",
    "control characters": "\x00\x01\x08\t\n\x0c\r\x1f\x7f",
    "line separators": "\u2028\u2029",
    "quote and backslash": '"\\/',
    "largest safe integer": MAX_SAFE_INTEGER,
    "smallest safe integer": -MAX_SAFE_INTEGER,
    "empty containers": [{}, [], ""],
    "decimal as a string": "-0.000000000000000000001",
}


@pytest.mark.parametrize("kind", sorted(VALID_VALUES))
def test_canonical_values_pass_the_batch_check(kind: str) -> None:
    datas: list[dict[str, Any]] = [{"n": n} for n in range(200)]
    datas[130] = {"value": VALID_VALUES[kind], "n": 130}
    lines = make_lines(datas)
    # The typed check leaves a batch with characters from U+E000 to the batch check.
    assert verdicts(lines) == (True, kind != "astral text")
    assert check_entries(lines, 0, ZERO_HASH, {}).failure is None


def test_keys_from_u_e000_are_checked_entry_by_entry_and_pass() -> None:
    datas: list[dict[str, Any]] = [{"n": n} for n in range(200)]
    datas[130] = {"\ue000": 1, "\U0001f600": 2}  # RFC 8785 sorts by UTF-16 code units
    lines = make_lines(datas)
    assert agree(lines[:128])
    assert not agree(lines)
    assert check_entries(lines, 0, ZERO_HASH, {}).failure is None


REFUSED_FORMS: dict[str, tuple[Any, bytes, bytes]] = {
    # value written canonically, then the bytes changed to an equal value's other form
    "newline as \\u000a": ("a\nb", b'"a\\nb"', b'"a\\u000ab"'),
    "escape in upper case": ("\x1f", b'"\\u001f"', b'"\\u001F"'),
    "escaped non-ASCII": ("é", '"é"'.encode(), b'"\\u00e9"'),
    "escaped slash": ("/", b'"/"', b'"\\/"'),
    "integer beyond 2**53": (MAX_SAFE_INTEGER, b"9007199254740991", b"9007199254740993"),
    "float": (15, b"15", b"1.5"),
    "integral float": (15, b"15", b"15.0"),
    "exponent": (100, b"100", b"1e2"),
    "negative zero": (0, b"0", b"-0"),
    "space after colon": (15, b'"value":15', b'"value": 15'),
    "keys out of order": (15, b'"n":130,"value":15', b'"value":15,"n":130'),
}


@pytest.mark.parametrize("form", sorted(REFUSED_FORMS))
def test_other_forms_of_a_value_are_refused_at_their_seq(form: str) -> None:
    value, canonical, other = REFUSED_FORMS[form]
    datas: list[dict[str, Any]] = [{"n": n} for n in range(200)]
    datas[130] = {"n": 130, "value": value}
    lines = make_lines(datas)
    assert canonical in lines[130]
    lines[130] = lines[130].replace(canonical, other)
    relink(lines, 130)
    assert verdicts(lines) == (False, False)
    run = check_entries(lines, 0, ZERO_HASH, {})
    assert run.failure is not None
    assert (run.count, run.failure.seq) == (130, 130)
    assert run.failure.reason.startswith("stored bytes are")
