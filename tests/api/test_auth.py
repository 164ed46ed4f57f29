"""Who may call what: every route against every kind of caller, and key secrecy.

The matrix below has one row per route of the app. Each row says which roles
may call it (or that it is public), the status a permitted call answers, and
how to build a request that succeeds for a permitted caller. Every route is
then called by every kind of caller (no key, a wrong key, a revoked key, and
one org of each role) and must answer exactly as the row says: 401 with
``WWW-Authenticate`` for a missing or bad key, 403 for a role the row does not
name. A route added to the app without a row fails ``test_matrix_covers_every_route``.

API keys are stored hashed and never logged: the database and the captured
log events are searched for the plain keys.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from hashing import generate_private_key, public_key_bytes
from hashing.note import add_cosignature
from hashing.note_keys import witness_verifier_key
from tests.conftest import World
from tests.factories import Org, create_org, event_data, register, registration, to_state

ROLES = ("admin", "oem", "operator", "recycler", "regulator")
CALLERS = ("no key", "wrong key", "revoked key", *ROLES)
WRONG_KEY = "rtr_" + "W" * 43
_names = itertools.count(1)
_maker_codes = (f"M{n:02d}" for n in itertools.count())


@dataclass
class Ctx:
    """What the request builders need: the world, an item, a revoked key."""

    world: World
    item: dict[str, Any]
    revoked: Org
    checkpoint: str = ""
    extra_keys: list[str] = field(default_factory=list)

    @property
    def c(self) -> TestClient:
        return self.world.client


# (url, keyword arguments for TestClient.request)
Request = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    allowed: frozenset[str] | None  # None: public, no key needed
    ok: int
    build: Callable[[Ctx], Request]


def _fresh_item(ctx: Ctx) -> str:
    return str(register(ctx.c, ctx.world.oem)["id"])


def _issued_key(ctx: Ctx) -> str:
    answer = ctx.c.post(f"/v1/orgs/{ctx.world.recycler2.id}/keys", headers=ctx.world.admin.headers)
    assert answer.status_code == 201, answer.text
    ctx.extra_keys.append(answer.json()["api_key"])
    return str(answer.json()["key_id"])


def _witness(_ctx: Ctx) -> Request:
    key = generate_private_key()
    vkey = witness_verifier_key(f"witness-{next(_names)}.example", public_key_bytes(key))
    return "/v1/log/witnesses", {"json": {"vkey": vkey}}


def _cosigned(ctx: Ctx) -> Request:
    """A fresh witness of the regulator's, and the latest checkpoint cosigned by it."""
    name = f"witness-{next(_names)}.example"
    key = generate_private_key()
    vkey = witness_verifier_key(name, public_key_bytes(key))
    answer = ctx.c.post(
        "/v1/log/witnesses", json={"vkey": vkey}, headers=ctx.world.regulator.headers
    )
    assert answer.status_code == 201, answer.text
    note = ctx.c.get("/v1/log/checkpoint").text
    return "/v1/log/cosign", {
        "content": add_cosignature(note, name, key, int(time.time())),
        "headers": {"content-type": "text/plain"},
    }


ANY_KEY = frozenset(ROLES)
MATRIX: list[Row] = [
    Row("GET", "/healthz", None, 200, lambda ctx: ("/healthz", {})),
    Row("GET", "/readyz", None, 200, lambda ctx: ("/readyz", {})),
    Row(
        "POST",
        "/v1/orgs",
        frozenset({"admin"}),
        201,
        lambda ctx: (
            "/v1/orgs",
            {"json": {"name": f"org {next(_names)}", "role": "oem", "region": "CN"}},
        ),
    ),
    Row("GET", "/v1/orgs", ANY_KEY, 200, lambda ctx: ("/v1/orgs", {})),
    Row(
        "POST",
        "/v1/makers",
        frozenset({"admin"}),
        201,
        lambda ctx: ("/v1/makers", {"json": {"code": next(_maker_codes), "org": ctx.world.oem.id}}),
    ),
    Row("GET", "/v1/makers", ANY_KEY, 200, lambda ctx: ("/v1/makers", {})),
    Row("GET", "/v1/orgs/me", ANY_KEY, 200, lambda ctx: ("/v1/orgs/me", {})),
    Row(
        "POST",
        "/v1/orgs/{org_id}/keys",
        frozenset({"admin"}),
        201,
        lambda ctx: (f"/v1/orgs/{ctx.world.recycler2.id}/keys", {}),
    ),
    Row(
        "POST",
        "/v1/keys/{key_id}/revoke",
        frozenset({"admin"}),
        200,
        lambda ctx: (f"/v1/keys/{_issued_key(ctx)}/revoke", {}),
    ),
    Row(
        "POST",
        "/v1/items",
        frozenset({"oem"}),
        201,
        lambda ctx: ("/v1/items", {"json": registration()}),
    ),
    Row(
        "POST",
        "/v1/items/bulk",
        frozenset({"oem"}),
        200,
        lambda ctx: ("/v1/items/bulk", {"json": [registration(), registration("pv_module")]}),
    ),
    Row(
        "GET", "/v1/items/{item_id}", ANY_KEY, 200, lambda ctx: (f"/v1/items/{ctx.item['id']}", {})
    ),
    Row("GET", "/v1/items", ANY_KEY, 200, lambda ctx: ("/v1/items", {"params": {"limit": 5}})),
    Row("GET", "/v1/reports/{name}", ANY_KEY, 200, lambda ctx: ("/v1/reports/inventory", {})),
    Row(
        "GET",
        "/v1/reports/{name}/entries",
        ANY_KEY,
        200,
        lambda ctx: ("/v1/reports/inventory/entries", {"params": {"row": '["pv_module"]'}}),
    ),
    Row(
        "GET",
        "/v1/items/{item_id}/history",
        ANY_KEY,
        200,
        lambda ctx: (f"/v1/items/{ctx.item['id']}/history", {}),
    ),
    # Only the holder records events, and a regulator or admin never does; the full
    # event-by-role table is test_events_follow_the_lifecycle_roles.
    Row(
        "POST",
        "/v1/items/{item_id}/events",
        frozenset({"oem"}),
        201,
        lambda ctx: (
            f"/v1/items/{_fresh_item(ctx)}/events",
            {"json": {"type": "retired", "data": {"reason": "end of warranty"}}},
        ),
    ),
    # Any org that records events may send them in bulk; each line then meets the
    # single event's rules (an operator's or recycler's line here is refused on its own).
    Row(
        "POST",
        "/v1/events/bulk",
        frozenset({"oem", "operator", "recycler"}),
        200,
        lambda ctx: (
            "/v1/events/bulk",
            {"json": [{"item": _fresh_item(ctx), "type": "retired", "data": {"reason": "worn"}}]},
        ),
    ),
    Row(
        "POST",
        "/v1/scan",
        ANY_KEY,
        200,
        lambda ctx: ("/v1/scan", {"json": {"payload": f"http://retrace.test/p/{ctx.item['id']}"}}),
    ),
    Row(
        "POST",
        "/v1/intake",
        frozenset({"recycler"}),
        200,
        lambda ctx: (
            "/v1/intake",
            {
                "json": {
                    "site": "Dock 3",
                    "deliveries": [
                        {
                            "payload": _held(ctx.world, ctx.world.recycler, "retired"),
                            "mass_kg": "410.2",
                        }
                    ],
                }
            },
        ),
    ),
    Row(
        "GET",
        "/v1/items/{item_id}/label.png",
        ANY_KEY,
        200,
        lambda ctx: (f"/v1/items/{ctx.item['id']}/label.png", {}),
    ),
    Row(
        "GET",
        "/v1/items/{item_id}/label.svg",
        ANY_KEY,
        200,
        lambda ctx: (f"/v1/items/{ctx.item['id']}/label.svg", {}),
    ),
    Row(
        "POST",
        "/v1/labels/sheet",
        ANY_KEY,
        200,
        lambda ctx: ("/v1/labels/sheet", {"json": {"item_ids": [ctx.item["id"]]}}),
    ),
    Row(
        "GET",
        "/v1/log/entries",
        frozenset({"regulator"}),
        200,
        lambda ctx: ("/v1/log/entries", {"params": {"start": 0, "limit": 5}}),
    ),
    Row("GET", "/v1/log/verify", frozenset({"regulator"}), 200, lambda ctx: ("/v1/log/verify", {})),
    Row("GET", "/v1/log/checkpoint", None, 200, lambda ctx: ("/v1/log/checkpoint", {})),
    Row(
        "POST",
        "/v1/log/checkpoint",
        frozenset({"admin", "regulator"}),
        200,
        lambda ctx: ("/v1/log/checkpoint", {}),
    ),
    Row("GET", "/v1/log/key", None, 200, lambda ctx: ("/v1/log/key", {})),
    Row(
        "GET",
        "/v1/log/proof/inclusion",
        None,
        200,
        lambda ctx: ("/v1/log/proof/inclusion", {"params": {"index": 0, "size": 2}}),
    ),
    Row(
        "GET",
        "/v1/log/proof/consistency",
        None,
        200,
        lambda ctx: ("/v1/log/proof/consistency", {"params": {"from": 1, "to": 2}}),
    ),
    Row("POST", "/v1/log/witnesses", frozenset({"regulator"}), 201, _witness),
    Row("POST", "/v1/log/cosign", frozenset({"regulator"}), 200, _cosigned),
]


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every /v1 route and probe the app serves."""
    out = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not (path.startswith("/v1/") or path in {"/healthz", "/readyz"}):
            continue
        out |= {(m, path) for m in route.methods or () if m != "HEAD"}
    return out


def _headers(ctx: Ctx, caller: str) -> dict[str, str]:
    if caller == "no key":
        return {}
    if caller == "wrong key":
        return {"Authorization": f"Bearer {WRONG_KEY}"}
    if caller == "revoked key":
        return ctx.revoked.headers
    org = ctx.world.admin if caller == "admin" else getattr(ctx.world, caller)
    return org.headers


def _expected(row: Row, caller: str) -> int:
    if row.allowed is None:
        return row.ok
    if caller in {"no key", "wrong key", "revoked key"}:
        return 401
    return row.ok if caller in row.allowed else 403


@pytest.fixture
def ctx(world: World) -> Ctx:
    c = world.client
    created = c.post(
        "/v1/orgs",
        json={"name": "revoked org", "role": "oem", "region": "CN"},
        headers=world.admin.headers,
    ).json()
    revoked = Org(created["org"]["id"], created["api_key"], "oem", "revoked org")
    assert c.get("/v1/orgs/me", headers=revoked.headers).status_code == 200
    answer = c.post(f"/v1/keys/{created['key_id']}/revoke", headers=world.admin.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"key_id": created["key_id"], "revoked": True}
    item = register(c, world.oem)
    assert c.post("/v1/log/checkpoint", headers=world.admin.headers).status_code == 200
    return Ctx(world, item, revoked)


def _all_entries(c: TestClient, world: World) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    start: int | None = 0
    while start is not None:
        page = c.get(
            "/v1/log/entries",
            params={"start": start, "limit": 1000},
            headers=world.regulator.headers,
        ).json()
        out += page["entries"]
        start = page["next"]
    return out


def _is_problem(response: Any) -> bool:
    return bool(response.headers.get("content-type", "").startswith("application/problem+json"))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_matrix_covers_every_route(app: FastAPI) -> None:
    served = _routes(app)
    rows = {(row.method, row.path) for row in MATRIX}
    missing = served - rows
    assert not missing, f"routes without a row in the authorisation matrix: {sorted(missing)}"
    assert ("POST", "/v1/orgs") in served  # the enumeration itself sees the app's routes


def test_every_route_answers_every_caller_as_the_matrix_says(ctx: Ctx) -> None:
    served = _routes(ctx.world.app)
    wrong: list[str] = []
    checked = 0
    for row in MATRIX:
        if (row.method, row.path) not in served:
            continue  # a row for a route this build does not serve yet
        for caller in CALLERS:
            url, kwargs = row.build(ctx)
            headers = {**kwargs.pop("headers", {}), **_headers(ctx, caller)}
            answer = ctx.c.request(row.method, url, headers=headers, **kwargs)
            want = _expected(row, caller)
            checked += 1
            if answer.status_code != want:
                wrong.append(
                    f"{row.method} {row.path} as {caller}: {answer.status_code}, "
                    f"expected {want}: {answer.text[:200]}"
                )
                continue
            if want == 401:
                if answer.headers.get("www-authenticate") != "Bearer" or not _is_problem(answer):
                    wrong.append(
                        f"{row.method} {row.path} as {caller}: 401 without "
                        "WWW-Authenticate: Bearer or not problem+json"
                    )
                elif answer.json()["code"] != "unauthenticated":
                    wrong.append(f"{row.method} {row.path} as {caller}: {answer.json()}")
            if want == 403 and (not _is_problem(answer) or answer.json()["code"] != "forbidden"):
                wrong.append(
                    f"{row.method} {row.path} as {caller}: 403 is not a forbidden "
                    f"problem: {answer.text[:200]}"
                )
    assert checked >= 20 * len(CALLERS)
    assert not wrong, "\n".join(wrong)


def test_a_401_never_says_whether_the_key_exists(ctx: Ctx) -> None:
    c = ctx.c
    answers = {
        "no header": c.get("/v1/orgs/me"),
        "empty bearer": c.get("/v1/orgs/me", headers={"Authorization": "Bearer "}),
        "basic": c.get("/v1/orgs/me", headers={"Authorization": "Basic b2VtOm9lbQ=="}),
        "wrong": c.get("/v1/orgs/me", headers={"Authorization": f"Bearer {WRONG_KEY}"}),
        "revoked": c.get("/v1/orgs/me", headers=ctx.revoked.headers),
    }
    for label, answer in answers.items():
        assert answer.status_code == 401, label
        assert answer.headers["www-authenticate"] == "Bearer", label
        body = answer.json()
        assert body["status"] == 401
        assert WRONG_KEY not in answer.text
        assert ctx.revoked.key not in answer.text
    assert "revoked" in answers["revoked"].json()["detail"]


def test_revoking_a_key_is_logged_and_only_that_key_stops(world: World) -> None:
    c = world.client
    org = create_org(c, "two keys org", "recycler")
    second = c.post(f"/v1/orgs/{org.id}/keys", headers=world.admin.headers).json()
    before = len(_all_entries(c, world))
    answer = c.post(f"/v1/keys/{second['key_id']}/revoke", headers=world.admin.headers)
    assert answer.status_code == 200, answer.text
    entries = _all_entries(c, world)
    assert len(entries) == before + 1
    assert entries[-1]["type"] == "key_revoked"
    assert entries[-1]["data"] == {"key": second["key_id"], "org": org.id}
    assert entries[-1]["actor"] == world.admin.id
    revoked = {"Authorization": f"Bearer {second['api_key']}"}
    assert c.get("/v1/orgs/me", headers=revoked).status_code == 401
    assert c.get("/v1/orgs/me", headers=org.headers).json()["id"] == org.id
    again = c.post(f"/v1/keys/{second['key_id']}/revoke", headers=world.admin.headers)
    assert again.status_code == 409
    assert len(_all_entries(c, world)) == before + 1


# -- lifecycle events by role (DESIGN.md's table) ------------------------------

# event -> (roles that may record it, the state the item must be in)
EVENT_RULES: dict[str, tuple[frozenset[str], str]] = {
    "installed": (frozenset({"oem", "operator"}), "registered"),
    "retired": (frozenset({"oem", "operator"}), "in_service"),
    "transferred": (frozenset({"oem", "operator", "recycler"}), "registered"),
    "collected": (frozenset({"recycler"}), "retired"),
    "assessed": (frozenset({"recycler"}), "collected"),
    "repurposed": (frozenset({"recycler"}), "assessed"),
    "dismantled": (frozenset({"recycler"}), "collected"),
    "recycled": (frozenset({"recycler"}), "assessed"),
    "disposed": (frozenset({"recycler"}), "collected"),
}


def _held(world: World, holder: Org, state: str) -> str:
    """A fresh pack in ``state``, held by ``holder`` (registered by the OEM)."""
    c = world.client
    item = str(register(c, world.oem)["id"])
    to_state(c, world.oem, world.recycler, item, state)
    current = c.get(f"/v1/items/{item}", headers=world.oem.headers).json()["holder"]
    if current != holder.id:
        by = world.oem if current == world.oem.id else world.recycler
        answer = c.post(
            f"/v1/items/{item}/events",
            headers=by.headers,
            json={"type": "transferred", "data": {"to_org": holder.id}},
        )
        assert answer.status_code == 201, answer.text
    return item


def _org(world: World, role: str) -> Org:
    return world.admin if role == "admin" else getattr(world, role)


def test_events_follow_the_lifecycle_roles(world: World) -> None:
    c = world.client
    wrong: list[str] = []
    for event_type, (roles, state) in EVENT_RULES.items():
        for role in ROLES:
            org = _org(world, role)
            # Custodians act on items they hold; admin and regulator on any item.
            holder = org if role in {"oem", "operator", "recycler"} else world.oem
            item = _held(world, holder, state)
            data = event_data(event_type, to_org=world.recycler2.id)
            answer = c.post(
                f"/v1/items/{item}/events",
                headers=org.headers,
                json={"type": event_type, "data": data},
            )
            want = 201 if role in roles else 403
            if answer.status_code != want:
                wrong.append(
                    f"{event_type} by {role}: {answer.status_code}, expected {want}: "
                    f"{answer.text[:200]}"
                )
            elif want == 403 and answer.json()["code"] != "forbidden":
                wrong.append(f"{event_type} by {role}: {answer.json()}")
    assert not wrong, "\n".join(wrong)


def test_only_the_holder_records_and_the_refusal_names_it(world: World) -> None:
    c = world.client
    item = _held(world, world.oem, "retired")
    # The recycler may collect, but only once the item is transferred to it.
    answer = c.post(
        f"/v1/items/{item}/events",
        headers=world.recycler.headers,
        json={"type": "collected", "data": event_data("collected")},
    )
    assert answer.status_code == 403
    assert answer.json()["holder"] == world.oem.id
    assert world.oem.id in answer.json()["detail"]
    # Another OEM may not act on this OEM's item, not even to retire it.
    fresh = _held(world, world.oem, "registered")
    answer = c.post(
        f"/v1/items/{fresh}/events",
        headers=world.oem2.headers,
        json={"type": "retired", "data": {"reason": "not mine"}},
    )
    assert answer.status_code == 403
    # The OEM may always report `retired` on what it registered, held or not.
    moved = _held(world, world.operator, "in_service")
    answer = c.post(
        f"/v1/items/{moved}/events",
        headers=world.oem.headers,
        json={"type": "retired", "data": {"reason": "recall"}},
    )
    assert answer.status_code == 201, answer.text


def test_corrections_belong_to_the_author_of_the_entry(world: World) -> None:
    c = world.client
    item = _held(world, world.oem, "retired")
    history = c.get(f"/v1/items/{item}/history", headers=world.oem.headers).json()["entries"]
    retired = next(e for e in history if e["type"] == "retired")
    fix = {
        "type": "corrected",
        "data": {"seq": retired["seq"], "fields": {"reason": "battery swelling"}},
    }
    for role in ("operator", "recycler", "regulator", "admin"):
        answer = c.post(f"/v1/items/{item}/events", headers=_org(world, role).headers, json=fix)
        assert answer.status_code == 403, (role, answer.text)
    answer = c.post(f"/v1/items/{item}/events", headers=world.oem.headers, json=fix)
    assert answer.status_code == 201, answer.text
    assert answer.json()["entry"]["data"] == fix["data"]


def test_only_oems_register_items(world: World) -> None:
    c = world.client
    for role in ("operator", "recycler", "regulator", "admin"):
        answer = c.post("/v1/items", json=registration(), headers=_org(world, role).headers)
        assert answer.status_code == 403, (role, answer.text)
        assert answer.json()["code"] == "forbidden"
    assert c.post("/v1/items", json=registration(), headers=world.oem.headers).status_code == 201


# -- keys are stored hashed and never logged ----------------------------------


def _text_values(engine: sa.Engine) -> Iterator[tuple[str, str, str]]:
    """(table, column, value) for every text or bytes value in every table."""
    inspector = sa.inspect(engine)
    metadata = sa.MetaData()
    with engine.connect() as conn:
        for name in inspector.get_table_names():
            table = sa.Table(name, metadata, autoload_with=conn)
            for row in conn.execute(sa.select(table)):
                for column, value in row._mapping.items():
                    if isinstance(value, bytes | bytearray | memoryview):
                        yield name, column, bytes(value).decode("utf-8", "replace")
                    elif isinstance(value, str):
                        yield name, column, value
                    elif value is not None and not isinstance(value, int | float | bool):
                        yield name, column, str(value)


def _secrets(world: World) -> list[str]:
    return [world.admin.key, *(org.key for org in world.orgs.values())]


def test_api_keys_are_stored_only_as_hashes(ctx: Ctx) -> None:
    world = ctx.world
    _issued_key(ctx)  # one more key, issued rather than created with its org
    keys = [*_secrets(world), ctx.revoked.key, *ctx.extra_keys]
    engine = ctx.world.app.state.ledger.store.engine
    values = list(_text_values(engine))
    tables = {table for table, _, _ in values}
    assert {"entries", "orgs", "api_keys"} <= tables
    leaks = [(table, column) for table, column, value in values for key in keys if key in value]
    assert not leaks, f"plain API keys found in {sorted(set(leaks))}"
    stored = {
        value for table, column, value in values if table == "api_keys" and column == "key_hash"
    }
    for key in keys:
        assert hashlib.sha256(key.encode()).hexdigest() in stored


def test_an_idempotent_org_creation_stores_no_plain_key(world: World) -> None:
    c = world.client
    answer = c.post(
        "/v1/orgs",
        json={"name": "retried org", "role": "recycler", "region": "DE"},
        headers={**world.admin.headers, "Idempotency-Key": "org-create-1"},
    )
    assert answer.status_code == 201, answer.text
    key = answer.json()["api_key"]
    engine = world.app.state.ledger.store.engine
    leaks = {(table, column) for table, column, value in _text_values(engine) if key in value}
    assert not leaks, f"the new org's plain API key is stored in {sorted(leaks)}"


def test_api_keys_never_appear_in_log_events(world: World) -> None:
    c = world.client
    with capture_logs() as events:
        org = create_org(c, "logged org", "recycler")
        issued = c.post(f"/v1/orgs/{org.id}/keys", headers=world.admin.headers).json()
        c.post(f"/v1/keys/{issued['key_id']}/revoke", headers=world.admin.headers)
        for key in (*_secrets(world), org.key, issued["api_key"], WRONG_KEY):
            headers = {"Authorization": f"Bearer {key}"}
            c.get("/v1/orgs/me", headers=headers)
            c.post("/v1/items", json=registration(), headers=headers)
            c.post(
                "/v1/items",
                content=b"{broken",
                headers={**headers, "content-type": "application/json"},
            )
        item = register(c, world.oem)
        to_state(c, world.oem, world.recycler, item["id"], "collected")
    keys = [*_secrets(world), org.key, issued["api_key"], WRONG_KEY]
    assert any(e.get("event") == "entries.appended" for e in events)  # logging was captured
    leaked = [e for e in events for key in keys if key in repr(e)]
    assert not leaked, leaked
