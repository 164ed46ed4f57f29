"""The passport session: a random id in an HttpOnly cookie, bound to a key on the server.

Signing in (``POST /scan/session``) keeps a session in the database beside the
keys and gives the browser only its id: never the key. The cookie is
``HttpOnly``, ``SameSite=Lax`` and ``Secure`` when the public URL is https.
Signing out ends the session on the server, and so does revoking its key. A
session outlives a restart (it is in the database, as every worker sees it).
"""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import prepare
from api.sessions import SESSION_COOKIE
from api.settings import Settings
from tests.conftest import World
from tests.factories import ADMIN_KEY, Org, create_org, register, to_state

JSON = {"Accept": "application/json"}


def _sign_in(client: TestClient, org: Org) -> tuple[str, Any]:
    """The session cookie's value and its attributes, from a sign-in with ``org``'s key."""
    answer = client.post("/scan/session", headers=org.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == org.id
    jar: SimpleCookie = SimpleCookie()
    jar.load(answer.headers["set-cookie"])
    morsel = jar[SESSION_COOKIE]
    client.cookies.clear()  # each request below names its cookie itself
    return morsel.value, morsel


def _access(client: TestClient, item_id: str, session: str) -> str:
    answer = client.get(f"/p/{item_id}", headers={**JSON, "Cookie": f"{SESSION_COOKIE}={session}"})
    assert answer.status_code == 200, answer.text
    access: str = answer.json()["access"]
    return access


def test_the_cookie_holds_a_session_id_not_the_key(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    # Collected by the recycler: in its chain, so its key opens the interested tier.
    to_state(c, world.oem, world.recycler, item["id"], "collected")
    session, morsel = _sign_in(c, world.recycler)
    assert world.recycler.key not in morsel.OutputString()
    assert len(session) >= 40
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() in {"lax", "strict"}
    assert not morsel["secure"]  # the public URL of these tests is http
    assert int(morsel["max-age"]) <= 12 * 3600
    assert _access(c, item["id"], session) == "interested"
    # Another sign-in is another session.
    other, _ = _sign_in(c, world.recycler)
    assert other != session
    assert _access(c, item["id"], other) == "interested"
    regulator, _ = _sign_in(c, world.regulator)
    assert _access(c, item["id"], regulator) == "regulator"


def test_a_key_in_the_cookie_opens_nothing(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    for cookie in (
        f"{SESSION_COOKIE}={world.regulator.key}",
        f"key={world.regulator.key}",  # the old cookie, which held the key itself
        f"{SESSION_COOKIE}=rts_made_up_0123456789abcdefghijklmnopqrstuv",
    ):
        answer = c.get(f"/p/{item['id']}", headers={**JSON, "Cookie": cookie})
        assert answer.status_code == 200
        assert answer.json()["access"] == "public", cookie
        # The browser is told to drop a cookie that opens nothing.
        assert "max-age=0" in answer.headers["set-cookie"].lower(), cookie


def test_sign_out_ends_the_session_on_the_server(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    # Collected by the recycler: in its chain, so its key opens the interested tier.
    to_state(c, world.oem, world.recycler, item["id"], "collected")
    session, _ = _sign_in(c, world.recycler)
    kept, _ = _sign_in(c, world.recycler)
    out = c.delete("/scan/session", headers={"Cookie": f"{SESSION_COOKIE}={session}"})
    assert out.status_code == 204
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    # A copy of the cookie kept elsewhere opens nothing any more; other sessions live on.
    assert _access(c, item["id"], session) == "public"
    assert _access(c, item["id"], kept) == "interested"


def test_revoking_the_key_ends_its_sessions(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    to_state(c, world.oem, world.recycler, item["id"], "collected")
    issued = c.post(f"/v1/orgs/{world.recycler.id}/keys", headers=world.admin.headers).json()
    second = Org(world.recycler.id, issued["api_key"], "recycler", world.recycler.name)
    on_second, _ = _sign_in(c, second)
    on_first, _ = _sign_in(c, world.recycler)
    assert _access(c, item["id"], on_second) == "interested"
    revoked = c.post(f"/v1/keys/{issued['key_id']}/revoke", headers=world.admin.headers)
    assert revoked.status_code == 200, revoked.text
    assert _access(c, item["id"], on_second) == "public"
    assert _access(c, item["id"], on_first) == "interested"


def test_a_revoked_key_cannot_sign_in(world: World) -> None:
    c = world.client
    org = create_org(c, "short-lived recycler", "recycler")
    issued = c.post(f"/v1/orgs/{org.id}/keys", headers=world.admin.headers).json()
    c.post(f"/v1/keys/{issued['key_id']}/revoke", headers=world.admin.headers)
    refused = c.post("/scan/session", headers={"Authorization": f"Bearer {issued['api_key']}"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert "set-cookie" not in refused.headers


def test_the_session_is_kept_as_a_hash_and_outlives_a_restart(
    world: World, settings: Settings
) -> None:
    c = world.client
    item = register(c, world.oem)
    session, _ = _sign_in(c, world.regulator)
    with world.app.state.ledger.store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM passport_sessions"))]
    assert rows
    assert not any(session in str(value) for row in rows for value in row)
    # Another process over the same database (a restart, or a second worker).
    with TestClient(create_app(settings)) as restarted:
        assert _access(restarted, item["id"], session) == "regulator"


@pytest.fixture
def https_client(settings: Settings) -> Iterator[TestClient]:
    public = settings.model_copy(update={"public_base_url": "https://passports.example"})
    prepare(public)
    with TestClient(create_app(public), base_url="https://passports.example") as client:
        yield client


def test_the_cookie_is_secure_when_the_public_url_is_https(https_client: TestClient) -> None:
    admin = Org("", ADMIN_KEY, "admin", "admin")
    recycler = create_org(https_client, "dock recycler", "recycler")
    for org in (admin, recycler):
        answer = https_client.post("/scan/session", headers=org.headers)
        assert answer.status_code == 200, answer.text
        jar: SimpleCookie = SimpleCookie()
        jar.load(answer.headers["set-cookie"])
        assert jar[SESSION_COOKIE]["secure"] is True
        assert jar[SESSION_COOKIE]["httponly"] is True
