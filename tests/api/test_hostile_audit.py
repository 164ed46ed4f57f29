"""What the server writes, every audit accepts: a property over generated values.

Hypothesis draws free-form attributes with the edge cases of the limits and of the
canonical encoders: nesting at the limit and one past it, strings of 4 KiB in multi-byte
characters, keys from every Unicode plane (astral characters, U+2028, U+E000 and above,
where the fast encoder's key order differs), long exact decimals, integers at and just
past ±(2**53 - 1). Each value goes to the server in a registration and, as an entry, to
the auditor's entry check. The server either refuses it with a 422 problem+json and
writes nothing, or writes it; an entry the auditor refuses is never written. At the end,
the log is exported and ``retrace audit`` of the bundle passes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ledger.chain import ZERO_HASH, build_entry
from ledger.limits import FREE_FORM
from ledger.verify import check_entries
from tests.conftest import World
from tests.factories import registration
from tests.test_audit import local_env, retrace  # noqa: F401 - local_env is a fixture

MAX_SAFE = 2**53 - 1
EDGE_KEYS = ["\ue000", "\uffff", "\U0001f600", "\U000e0001", "\u2028", "a\u2029b", "é" * 128]
EDGE_TEXT = [
    "\u2028\u2029",
    "\U0010ffff\ue000\U00020000",
    "€" * 1365 + "a",  # 4,096 bytes: at the limit
    "€" * 1365 + "ab",  # 4,097 bytes: one past
    "123456789012.123456",
    "0." + "3" * 60,
    "-" + "9" * 300 + ".5",
    'tab\tquote"backslash\\nul\x00del\x7f',
]


def _nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = {"n": leaf}
    return leaf


keys = st.text(st.characters(codec="utf-8"), min_size=1, max_size=4) | st.sampled_from(EDGE_KEYS)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE - 2, MAX_SAFE + 2)
    | st.sampled_from([MAX_SAFE, -MAX_SAFE, MAX_SAFE + 1, -MAX_SAFE - 1])
    | st.text(st.characters(codec="utf-8"), max_size=12)
    | st.sampled_from(EDGE_TEXT)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
# Attributes are level 1: a chain of 15 objects under one reaches the limit, 16 pass it.
deep = st.builds(_nested, st.integers(FREE_FORM.depth - 2, FREE_FORM.depth), scalars)
long_lists = st.sampled_from([FREE_FORM.items, FREE_FORM.items + 1]).map(lambda n: ["x"] * n)
attributes = st.dictionaries(
    keys.filter(lambda k: k not in {"mass_kg", "rated_capacity_kwh", "production_date"}),
    values | deep | long_lists,
    max_size=5,
)


def _auditor_accepts(data: dict[str, Any]) -> bool:
    """The auditor's entry check of an entry holding ``data``."""
    try:
        entry = build_entry(
            seq=0,
            now=datetime(2026, 1, 1, tzinfo=UTC),
            actor="org_1",
            item="itm_1",
            type="registered",
            data=data,
            prev=ZERO_HASH,
            item_prev=None,
        )
    except ValueError:  # not even canonical JSON (an integer past 2**53 - 1)
        return False
    return check_entries([entry.body], 0, ZERO_HASH, {}).failure is None


def _log_size(world: World) -> int:
    answer = world.client.get(
        "/v1/log/entries", params={"limit": 1}, headers=world.regulator.headers
    )
    return int(answer.json()["size"])


def test_what_the_server_writes_the_audit_accepts(
    world: World,
    local_env: None,  # noqa: ARG001, F811 - the settings export reads
    tmp_path: Path,
) -> None:
    written: list[dict[str, Any]] = []

    @given(attributes)
    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @example({"deep": _nested(FREE_FORM.depth - 1, "x")})
    @example({"deep": _nested(FREE_FORM.depth, "x")})
    @example({"deep": _nested(254, "x")})
    @example({"\ue000": 1, "\U0001f600": 2, "\u2028": [MAX_SAFE, -MAX_SAFE]})
    @example({"big": MAX_SAFE + 1})
    @example(dict(zip("abcdefgh", EDGE_TEXT, strict=True)))
    def attempt(attrs: dict[str, Any]) -> None:
        body = registration("pv_module", attributes=attrs)
        before = _log_size(world)
        answer = world.client.post("/v1/items", json=body, headers=world.oem.headers)
        if answer.status_code == 201:
            data = answer.json()["entry"]["data"]
            assert _auditor_accepts(data), data
            assert _log_size(world) == before + 1
            written.append(attrs)
            return
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["pointer"].startswith("/attributes"), answer.text
        assert _log_size(world) == before

    attempt()
    assert written, "no generated value was written"

    target = tmp_path / "bundle"
    exported = retrace("export", str(target))
    assert exported.exit_code == 0, exported.output
    audited = retrace("audit", str(target))
    assert audited.exit_code == 0, audited.output
    assert audited.stdout.startswith("ok: "), audited.stdout
