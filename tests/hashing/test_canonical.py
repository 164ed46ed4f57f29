"""canonical_json: RFC 8785 vectors, refusals, and fast path == reference, byte for byte."""

from __future__ import annotations

import enum
import hashlib
import json
import math
import struct
import sys
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from hashing import MAX_SAFE_INTEGER, HashingError, canonical_json
from hashing.canonical import _ORJSON_OPTIONS, _scan
from tests.hashing import vectors

JCS_CASES = vectors.cases(
    "jcs_rfc8785_vectors.json", lambda d: ((c["name"], c) for c in d["cases"])
)
ES6_SAMPLES = vectors.cases(
    "jcs_rfc8785_vectors.json",
    lambda d: ((s["ieee754_hex"], s) for s in d["es6_number_samples"]),
)


def _integral_floats_as_ints(text: str) -> float | int:
    """JSON number parser: integral values become ints (canonical_json refuses floats)."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) <= MAX_SAFE_INTEGER else value


def _contains_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_contains_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_float(v) for v in value)
    return False


# --- RFC 8785 vectors (cyberphone/json-canonicalization testdata) ---------------------


@pytest.mark.parametrize("case", JCS_CASES)
def test_reference_encoder_matches_jcs_vector(case: dict[str, Any]) -> None:
    expected = case["expected_canonical"].encode("utf-8")
    assert expected.hex() == case["expected_canonical_hex"]
    # Reproduce: sha256sum testdata/output/<name>.json (cyberphone/json-canonicalization)
    assert hashlib.sha256(expected).hexdigest() == case["expected_sha256"]
    assert rfc8785.dumps(json.loads(case["input"])) == expected


@pytest.mark.parametrize("case", JCS_CASES)
def test_canonical_json_matches_jcs_vector(case: dict[str, Any]) -> None:
    value = json.loads(case["input"], parse_float=_integral_floats_as_ints)
    if _contains_float(value):
        # "values" has 333333333.33333329 and friends: binary floats are refused.
        with pytest.raises(HashingError, match="floats are not allowed"):
            canonical_json(value)
    else:
        assert canonical_json(value) == bytes.fromhex(case["expected_canonical_hex"])


@pytest.mark.parametrize("sample", ES6_SAMPLES)
def test_es6_number_samples_are_reference_only(sample: dict[str, str]) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(sample["ieee754_hex"].rjust(16, "0")))
    assert rfc8785.dumps(number) == sample["expected"].encode()
    with pytest.raises(HashingError):
        canonical_json(number)


# --- Known answer for a ledger entry -------------------------------------------------


def test_entry_known_answer() -> None:
    entry = {
        "v": 1,
        "seq": 7,
        "ts": "2025-03-01T09:30:00.000000Z",
        "actor": "org_oem1",
        "item": "itm_01J0000000000000000000000",
        "type": "collected",
        "data": {"site": "Recycling plant 7", "mass_kg": "412.5"},
        "prev": "0" * 64,
        "item_prev": None,
        "sig": None,
    }
    expected = (
        '{"actor":"org_oem1","data":{"mass_kg":"412.5","site":"Recycling plant 7"},'
        '"item":"itm_01J0000000000000000000000","item_prev":null,"prev":"' + "0" * 64 + '",'
        '"seq":7,"sig":null,"ts":"2025-03-01T09:30:00.000000Z","type":"collected","v":1}'
    ).encode()
    assert canonical_json(entry) == expected
    # Reproduce: printf '%s' "$EXPECTED" | sha256sum
    assert hashlib.sha256(expected).hexdigest() == (
        "7d0d40fc3c846dfc80772541e18619c2fd4b72d55e6df7aa290b6c6cba0d476e"
    )


# --- The fast path is byte-identical to RFC 8785 --------------------------------------


_ESCAPED = {chr(c): f"\\u{c:04x}" for c in range(0x20)} | {
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


@pytest.mark.parametrize("char", sorted(_ESCAPED), ids=lambda c: f"U+{ord(c):04X}")
def test_escaped_characters_match_rfc8785(char: str) -> None:
    # RFC 8785 §3.2.2.2: these 34 characters, and only these, are escaped.
    expected = f'"{_ESCAPED[char]}"'.encode()
    assert orjson.dumps(char) == rfc8785.dumps(char) == expected


def test_every_other_unicode_scalar_value_is_written_raw_by_both() -> None:
    # Every scalar value outside the 34 above, in runs of 4096: both encoders must write
    # exactly the run's UTF-8 bytes between quotes (so, character by character, raw).
    raw = [
        chr(c)
        for c in range(sys.maxunicode + 1)
        if not 0xD800 <= c <= 0xDFFF and chr(c) not in _ESCAPED
    ]
    for start in range(0, len(raw), 4096):
        run = "".join(raw[start : start + 4096])
        expected = b'"' + run.encode("utf-8") + b'"'
        assert orjson.dumps(run) == expected, f"orjson, run starting U+{ord(run[0]):04X}"
        assert rfc8785.dumps(run) == expected, f"rfc8785, run starting U+{ord(run[0]):04X}"


@pytest.mark.parametrize(
    "keys",
    [
        ["\ue000", "\U00010000"],  # UTF-16: D800 DC00 < E000, code points: E000 < 10000
        ["\uffff", "\U0001f600"],
        ["a\ufb33", "a\U0001f602"],
    ],
)
def test_key_order_hazard_takes_the_reference_path(keys: list[str]) -> None:
    value = {key: index for index, key in enumerate(keys)}
    assert orjson.dumps(value, option=_ORJSON_OPTIONS) != rfc8785.dumps(value)
    assert not _scan(value)
    assert canonical_json(value) == rfc8785.dumps(value)


def test_keys_below_u_e000_sort_the_same_in_both_orders() -> None:
    value = {"\ud7ff": 1, "\u00e9": 2, "z": 3, "\u0100": 4, "": 5, "\x00": 6}
    assert _scan(value)
    assert canonical_json(value) == rfc8785.dumps(value)


_BOUNDARY_CHARS = st.sampled_from(
    [
        "\x00", "\x08", "\x1f", " ", '"', "/", "\\", "\x7f", "\x80", "\u00e9", "\u2028",
        "\u2029", "\ud7ff", "\ue000", "\ufb33", "\ufeff", "\uffff", "\U00010000",
        "\U0001f602", "\U0010ffff",
    ]
)  # fmt: skip
_CHARS = st.one_of(st.characters(exclude_categories=["Cs"]), _BOUNDARY_CHARS)
_TEXT = st.text(_CHARS, max_size=12)
_SAFE_KEY_TEXT = st.text(st.characters(max_codepoint=0xDFFF, exclude_categories=["Cs"]))
_INTS = st.one_of(
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.sampled_from([0, -1, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 2**31, 2**32, 2**53 - 2]),
)
_SCALARS = st.one_of(st.none(), st.booleans(), _INTS, _TEXT)


def _json_values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)
        ),
        max_leaves=30,
    )


@settings(max_examples=400)
@given(_json_values(_TEXT))
def test_canonical_json_equals_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=400)
@given(_json_values(st.one_of(_TEXT, _SAFE_KEY_TEXT)))
def test_fast_path_output_equals_rfc8785_whenever_chosen(value: Any) -> None:
    if _scan(value):
        assert orjson.dumps(value, option=_ORJSON_OPTIONS) == rfc8785.dumps(value)


@settings(max_examples=200)
@given(_json_values(_SAFE_KEY_TEXT))
def test_keys_below_u_e000_always_take_the_fast_path(value: Any) -> None:
    assert _scan(value)
    assert canonical_json(value) == rfc8785.dumps(value)


# --- Accepted and refused values ------------------------------------------------------


class _Color(enum.StrEnum):
    RED = "red"


class _Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (MAX_SAFE_INTEGER, b"9007199254740991"),
        (-MAX_SAFE_INTEGER, b"-9007199254740991"),
        ([True, False, None, 0, -0, 1], b"[true,false,null,0,0,1]"),
        (("a", ("b",)), b'["a",["b"]]'),
        ({}, b"{}"),
        ([], b"[]"),
        ({"k": _Color.RED}, b'{"k":"red"}'),
        ({_Color.RED: _Level.HIGH}, b'{"red":3}'),
        (OrderedDict([("b", 1), ("a", 2)]), b'{"a":2,"b":1}'),
        ({"b": OrderedDict([("d", 1), ("c", [1])])}, b'{"b":{"c":[1],"d":1}}'),
    ],
)
def test_accepted_values(value: Any, expected: bytes) -> None:
    assert canonical_json(value) == expected == rfc8785.dumps(value)


def test_nesting_deeper_than_orjson_allows_uses_the_reference() -> None:
    value: Any = "x"
    for _ in range(300):
        value = {"k": [value]}
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "floats are not allowed"),
        (0.0, "floats are not allowed"),
        (math.nan, "floats are not allowed"),
        (math.inf, "floats are not allowed"),
        ({"a": [1, {"b": 2.0}]}, "floats are not allowed"),
        (2**53, "outside the JSON safe range"),
        (-(2**53), "outside the JSON safe range"),
        ({"n": [2**64]}, "outside the JSON safe range"),
        (_Level.HIGH * 2**60, "outside the JSON safe range"),
        ({1: "a"}, "object keys must be strings"),
        ({("a",): "a"}, "object keys must be strings"),
        ({None: "a"}, "object keys must be strings"),
        ({"a": {1, 2}}, "type set"),
        (b"bytes", "type bytes"),
        (Decimal("1.5"), "type Decimal"),
        ({"a": object()}, "type object"),
        ("\ud800", "cannot canonicalize"),
        ({"\udfff": 1}, "cannot canonicalize"),
    ],
)
def test_refused_values(value: Any, message: str) -> None:
    with pytest.raises(HashingError, match=message):
        canonical_json(value)


def test_cycle_is_refused() -> None:
    value: list[Any] = []
    value.append(value)
    with pytest.raises(HashingError, match="nested too deeply"):
        canonical_json(value)
