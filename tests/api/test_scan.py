"""POST /v1/scan: every way a dock worker names an item, on both databases.

A label URL, a bare id, a GB/T 34014 code typed by hand, a PV or blade
serial and a GS1 Digital Link all resolve to the item, its holder and the
events the caller may record; anything else is a 404 that quotes the scan.
A scan costs a handful of indexed lookups, and the test counts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import event as sa_event

from api.settings import Settings
from ledger.store.sql import SqlStore
from tests.conftest import World
from tests.factories import event, event_data, register, registration

BASE = "http://retrace.test"
PROBLEM = "application/problem+json"
GTIN = "09506000134352"  # GS1's example GTIN-14 (check digit 2)
OTHER_GTIN = "04012345000016"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No periodic checkpoint in the middle of a counted scan.
    return settings.model_copy(update={"checkpoint_interval": 3600.0})


def scan(world: World, payload: str, org: Any = None) -> Any:
    return world.client.post(
        "/v1/scan", json={"payload": payload}, headers=(org or world.oem).headers
    )


def found(world: World, payload: str, org: Any = None) -> dict[str, Any]:
    response = scan(world, payload, org)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(world: World, payload: str, status: int, code: str) -> dict[str, Any]:
    response = scan(world, payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


@pytest.fixture
def pack(world: World) -> dict[str, Any]:
    return register(world.client, world.oem)


@pytest.fixture
def panel(world: World) -> dict[str, Any]:
    body = registration("pv_module")
    body["attributes"]["gtin"] = GTIN
    return register(world.client, world.oem, body)


def test_label_url_resolves_with_holder_and_next_events(world: World, pack: dict[str, Any]) -> None:
    got = found(world, f"{BASE}/p/{pack['id']}\n")
    assert got["item"]["id"] == pack["id"]
    assert got["item"]["code"] == pack["code"]
    assert got["via"] == "label"
    assert got["holder"] == {"id": world.oem.id, "name": "oem org", "role": "oem", "region": "CN"}
    assert got["allowed_events"] == ["installed", "retired", "transferred"]
    for variant in (
        f"{BASE}/p/{pack['id']}/",
        f"{BASE}/p/{pack['id']}?src=qr",
        f"https://elsewhere.example/retrace/p/{pack['id']}",
    ):
        assert found(world, variant)["item"]["id"] == pack["id"], variant


def test_allowed_events_follow_the_caller(world: World, pack: dict[str, Any]) -> None:
    assert found(world, pack["id"], world.regulator)["allowed_events"] == []
    assert found(world, pack["id"], world.recycler)["allowed_events"] == []
    event(world.client, world.oem, pack["id"], "retired", event_data("retired"))
    event(
        world.client,
        world.oem,
        pack["id"],
        "transferred",
        event_data("transferred", to_org=world.recycler.id),
    )
    got = found(world, pack["id"], world.recycler)
    assert got["holder"]["id"] == world.recycler.id
    assert got["allowed_events"] == ["transferred", "collected"]
    # the OEM no longer holds it: nothing left for it to record
    assert found(world, pack["id"], world.oem)["allowed_events"] == []


def test_bare_id_in_any_case(world: World, pack: dict[str, Any]) -> None:
    assert found(world, pack["id"])["via"] == "id"
    assert found(world, f"  {pack['id'].lower()} ")["item"]["id"] == pack["id"]


def test_battery_code_typed_by_hand(world: World, pack: dict[str, Any]) -> None:
    code = pack["code"]
    assert found(world, code)["via"] == "code"
    spaced = f" {code[:4].lower()} {code[4:14]} {code[14:17].lower()}\t{code[17:]}\n"
    got = found(world, spaced)
    assert got["item"]["id"] == pack["id"]
    assert got["item"]["decoded"]["product_type"] == "P"


def test_pv_and_blade_serials(world: World, panel: dict[str, Any]) -> None:
    blade = register(world.client, world.oem, registration("wind_blade"))
    assert found(world, panel["code"])["item"]["id"] == panel["id"]
    assert found(world, panel["code"].lower())["item"]["id"] == panel["id"]
    got = found(world, f" {blade['code']} ")
    assert got["item"]["id"] == blade["id"]
    assert got["via"] == "serial"
    assert got["item"]["kind"] == "wind_blade"


def test_gs1_digital_link(world: World, panel: dict[str, Any]) -> None:
    serial = panel["code"]
    for link in (
        f"https://id.gs1.org/01/{GTIN}/21/{serial}",
        f"https://brand.example/dl/01/{GTIN}/10/LOT7/21/{serial}?linkType=gs1:pip",
        f"https://id.gs1.org/01/{GTIN[1:]}/21/{serial}",  # a GTIN-13 stands for its GTIN-14
        f"(01){GTIN}(21){serial}",
    ):
        got = found(world, link)
        assert got["item"]["id"] == panel["id"], link
        assert got["via"] == "gs1"
    # an item without a recorded GTIN is matched on its serial alone
    pack = register(world.client, world.oem)
    got = found(world, f"https://id.gs1.org/01/{OTHER_GTIN}/21/{pack['code']}")
    assert got["item"]["id"] == pack["id"]


def test_gs1_link_with_another_gtin_is_not_this_item(world: World, panel: dict[str, Any]) -> None:
    body = refused(
        world, f"https://id.gs1.org/01/{OTHER_GTIN}/21/{panel['code']}", 404, "not-found"
    )
    assert panel["id"] in body["detail"]
    assert OTHER_GTIN in body["detail"]


@pytest.mark.parametrize(
    "link",
    [
        "https://id.gs1.org/01/09506000134353/21/PV-1",  # bad check digit
        "https://id.gs1.org/01/12345/21/PV-1",  # not a GTIN length
        f"https://id.gs1.org/01/{GTIN}",  # a product, not one item
        f"https://id.gs1.org/01/{GTIN}/10/LOT7",
    ],
)
def test_malformed_gs1_links_are_invalid(world: World, link: str) -> None:
    body = refused(world, link, 422, "invalid-value")
    assert body["pointer"] == "/payload"


@pytest.mark.parametrize(
    "payload",
    [
        "CATPB01A1B2C3DB349999999",
        "no-such-serial",
        f"{BASE}/p/itm_01JD8Z3K5V7W9XQRSTABCDEFGH",
        "itm_01JD8Z3K5V7W9XQRSTABCDEFGH",
        "https://example.com/something/else",
        "a scan of something else entirely",
    ],
)
def test_unknown_scans_are_404_naming_the_scan(world: World, payload: str) -> None:
    body = refused(world, payload, 404, "not-found")
    assert body["scanned"] == payload
    shown = payload.removeprefix(f"{BASE}/p/")
    assert shown in body["detail"]


def test_empty_and_oversized_payloads(world: World) -> None:
    refused(world, "  \n", 422, "invalid-value")
    assert scan(world, "x" * 2049).status_code == 422
    assert world.client.post("/v1/scan", json={"payload": "x"}).status_code == 401


def test_a_serial_shared_by_two_kinds_is_ambiguous(world: World) -> None:
    body = registration("pv_module", code="SHARED-0001")
    body["attributes"]["gtin"] = GTIN
    panel = register(world.client, world.oem, body)
    blade = register(world.client, world.oem, registration("wind_blade", code="SHARED-0001"))
    got = refused(world, "SHARED-0001", 409, "ambiguous-scan")
    assert sorted(got["candidates"]) == sorted([panel["id"], blade["id"]])
    # the GS1 link's GTIN tells them apart, and the labels always do
    assert found(world, f"https://id.gs1.org/01/{GTIN}/21/SHARED-0001")["item"]["id"] == panel["id"]
    assert found(world, f"{BASE}/p/{blade['id']}")["item"]["id"] == blade["id"]


@contextmanager
def statements(world: World) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the app runs inside the block, with its parameters."""
    engine = world.app.state.ledger.store.engine
    seen: list[tuple[str, Any]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
    ) -> None:
        seen.append((statement, parameters))

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


def selects(seen: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]


def test_a_scan_is_a_few_indexed_lookups(
    world: World, backend: str, pack: dict[str, Any], panel: dict[str, Any]
) -> None:
    blade = register(world.client, world.oem, registration("wind_blade"))
    # The item; the holder org is remembered (orgs never change), and a pack,
    # which may hold modules, needs one more read for its children. The API key
    # is read at most once a second (api.cache.KeyCache).
    cases = [
        (f"{BASE}/p/{panel['id']}", 1),
        (panel["code"].lower(), 1),
        (f"https://id.gs1.org/01/{GTIN}/21/{panel['code']}", 1),
        (blade["code"], 1),
        (pack["code"].lower(), 2),
        (pack["id"], 2),
    ]
    engine = world.app.state.ledger.store.engine
    for payload, expected in cases:
        found(world, payload)  # warm
        with statements(world) as seen:
            found(world, payload)
        queries = selects(seen)
        of_items = [s for s, _ in queries if "api_keys" not in s]
        assert len(of_items) == expected, (payload, of_items)
        assert len(queries) - len(of_items) <= 1, (payload, [s for s, _ in queries])
        if backend != "sqlite":
            continue
        # SQLite says how it reads each: by an index, never a scan of the table.
        with engine.connect() as conn:
            for statement, parameters in queries:
                plan = conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, tuple(parameters)
                ).all()
                details = [row[-1] for row in plan]
                assert not any(d.startswith("SCAN") for d in details), (statement, details)


def test_scan_lookups_leave_pooled_connections_transactional(database_url: str) -> None:
    # A scan reads without a transaction on PostgreSQL; the pooled connection must
    # come back to the chain's writer inside one, or its advisory lock would not hold.
    store = SqlStore(database_url, pool_size=1)
    try:
        for _ in range(3):
            with store.lookup() as r:
                assert r.item("itm_01JD8Z3K5V7W9XQRSTABCDEFGH") is None
        with store.writer() as w:
            dbapi = w.conn.connection.dbapi_connection
            assert dbapi is not None
            if store.dialect == "postgresql":
                assert dbapi.autocommit is False
                assert dbapi.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            else:
                assert dbapi.in_transaction
    finally:
        store.dispose()


def test_a_serial_two_makers_use_is_ambiguous_until_the_gtin_decides(world: World) -> None:
    first = registration("pv_module", code="JA-SAME-0001")
    first["attributes"]["gtin"] = GTIN
    mine = register(world.client, world.oem, first)
    theirs = register(world.client, world.oem2, registration("pv_module", code="JA-SAME-0001"))
    got = refused(world, "ja-same-0001", 409, "ambiguous-scan")
    assert sorted(got["candidates"]) == sorted([mine["id"], theirs["id"]])
    link = f"https://id.gs1.org/01/{GTIN}/21/JA-SAME-0001"
    assert found(world, link)["item"]["id"] == mine["id"]
    assert found(world, f"{BASE}/p/{theirs['id']}")["item"]["id"] == theirs["id"]
