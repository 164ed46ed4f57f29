"""The JSON limits (``ledger.limits``) and the auditor's use of them.

``fits`` and ``find_excess`` give one verdict on any value; the place ``find_excess``
names is where the value breaks its limits. Every verifier, the server's ``verify`` and
the offline auditor, refuses an entry beyond ``ENTRY`` at the same seq, whichever
canonical encoder would have taken it; and the writer refuses to write one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hashing import canonical_json, leaf_hash
from ledger.chain import build_entry
from ledger.limits import (
    ENTRY,
    ENTRY_BYTES,
    FREE_FORM,
    JsonLimits,
    LimitExceededError,
    find_excess,
    fits,
    refuse_unauditable,
    surely_fits,
)
from tests.test_audit import auditor_verdict, chain_verifier_verdict, make_entries

SMALL = JsonLimits(
    "test value", depth=3, keys=3, key_bytes=4, string_bytes=6, items=3, total_bytes=60
)

_text = st.text(st.characters(codec="utf-8"), max_size=3) | st.sampled_from(["é€😀", "abcdefg"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=30,
)


def _at(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@given(json_values)
@settings(max_examples=400, deadline=None)
@example({"a": {"b": {"c": {}}}})
@example({"ab": ["é€😀"]})
def test_fits_and_find_excess_agree_and_name_the_place(value: Any) -> None:
    excess = find_excess(value, SMALL, size=0)
    assert fits([value], SMALL) == (excess is None)
    if excess is None:
        return
    if excess.limit == "key_bytes":
        assert len(excess.path[-1].encode()) > SMALL.key_bytes  # type: ignore[union-attr]
        return
    found = _at(value, excess.path)
    if excess.limit == "depth":
        assert isinstance(found, (dict, list))
        assert len(excess.path) == SMALL.depth
    elif excess.limit == "string_bytes":
        assert len(found.encode()) > SMALL.string_bytes
    else:
        assert len(found) > getattr(SMALL, excess.limit)


def test_pointers_escape_slash_and_tilde() -> None:
    excess = find_excess({"a/b": {"~": {"c": {"d": 1}}}}, SMALL)
    assert excess is not None
    assert excess.pointer("/attributes") == "/attributes/a~1b/~0/c"


def test_the_whole_free_form_value_is_bounded_in_canonical_bytes() -> None:
    parts = {f"p{i:02}": "b" * 1000 for i in range(16)}  # 16,161 bytes
    assert find_excess(parts, FREE_FORM) is None
    parts = {f"p{i:02}": "b" * 1024 for i in range(16)}  # 16,545 bytes
    excess = find_excess(parts, FREE_FORM)
    assert excess is not None
    assert (excess.limit, excess.path) == ("total_bytes", ())


def _entry_lines(data: dict[str, Any]) -> list[bytes]:
    """Four ordinary entries, then one with ``data``, linked to them."""
    lines = make_entries(4)
    entry = build_entry(
        seq=4,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        actor="org_1",
        item=None,
        type="org_created",
        data=data,
        prev=leaf_hash(lines[-1]).hex(),
        item_prev=None,
    )
    return [*lines, entry.body]


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


# 254: the depth an attacker once had the server write and every audit refuse; 253 is
# past orjson's nesting limit for the entry as a whole, 30 the last within ``ENTRY``.
@pytest.mark.parametrize("depth", [30, 31, 253, 254])
def test_verify_and_audit_agree_on_deep_entries(depth: int) -> None:
    lines = _entry_lines({"deep": _nested(depth)})
    verdict = chain_verifier_verdict(lines)
    assert auditor_verdict(lines) == verdict
    # data is level 2, so ``depth`` more objects inside it reach level depth + 2.
    assert verdict == (None if depth + 2 <= ENTRY.depth else 4)


def test_the_auditor_names_the_limit_and_where() -> None:
    from ledger.errors import AuditFailure
    from ledger.verify import LogAuditor

    lines = _entry_lines({"list": list(range(ENTRY.items + 1))})
    with pytest.raises(AuditFailure, match=r"items limit \(1000\) at /data/list") as found:
        LogAuditor().feed(lines)
    assert found.value.seq == 4


def test_long_strings_are_checked_in_whole_batches_as_one_by_one() -> None:
    # A batch of long lines takes the slow way through the batch check; one string
    # over 4 KiB in the middle of the batch is found there.
    lines = _entry_lines({"note": "€" * 1365 + "ab"})  # 4,097 bytes
    assert chain_verifier_verdict(lines) == auditor_verdict(lines) == 4
    lines = _entry_lines({"note": "€" * 1365, "more": "b" * 5000})
    assert chain_verifier_verdict(lines) == auditor_verdict(lines) == 4
    lines = _entry_lines({"note": "€" * 1365, "other": "c" * 4096})
    assert chain_verifier_verdict(lines) is None
    assert auditor_verdict(lines) is None


def _body(data: dict[str, Any]) -> bytes:
    return canonical_json({"seq": 0, "type": "registered", "data": data})


def test_the_writer_refuses_an_entry_no_audit_would_pass() -> None:
    refuse_unauditable({"deep": _nested(30)}, _body({"deep": _nested(30)}))
    with pytest.raises(LimitExceededError) as refused:
        refuse_unauditable({"deep": _nested(31)}, _body({"deep": _nested(31)}))
    assert refused.value.pointer == "/data/deep" + "/a" * 30
    assert refused.value.extra == {"limit": "depth", "bound": ENTRY.depth}
    with pytest.raises(LimitExceededError, match="total_bytes"):
        refuse_unauditable({}, b"x" * (ENTRY_BYTES + 1))


# Small counts, long enough texts: the quick count decides often, both ways.
COUNTED = JsonLimits(
    "test value", depth=3, keys=3, key_bytes=64, string_bytes=64, items=3, total_bytes=None
)


@given(json_values)
def test_the_quick_count_never_passes_what_the_walk_refuses(value: Any) -> None:
    if surely_fits(orjson.dumps(value), COUNTED):
        assert find_excess(value, COUNTED) is None


def test_the_quick_count_decides_the_common_case() -> None:
    assert surely_fits(orjson.dumps({"a": [1, 2], "b": "x"}), COUNTED)
    assert not surely_fits(orjson.dumps({"a": [[[1]]]}), COUNTED)  # four containers
    assert not surely_fits(orjson.dumps({"a": 1, "b": 2, "c": 3, "d": 4}), COUNTED)
    assert not surely_fits(orjson.dumps(["x" * 70]), COUNTED)
    # A colon inside a string only makes it look closer, never wave through.
    assert find_excess({"a:b:c:d": 1}, COUNTED) is None
    assert not surely_fits(orjson.dumps({"a:b:c:d": 1}), COUNTED)
