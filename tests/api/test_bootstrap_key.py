"""The bootstrap admin key is stored as every other key is: its hash, never the key.

``RETRACE_BOOTSTRAP_ADMIN_KEY`` goes through the same issue as a key made by
``POST /v1/orgs/{id}/keys`` (``ledger.orgs``): one row in ``api_keys`` holding
``hash_api_key`` of it, logged by a ``key_issued`` entry, and nowhere in clear,
not in any table nor in the database files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger.orgs import hash_api_key
from tests.conftest import World
from tests.factories import ADMIN_KEY


def _key_rows(world: World) -> dict[str, str]:
    with world.app.state.ledger.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT org_id, key_hash FROM api_keys")).all()
    return {str(r.key_hash): str(r.org_id) for r in rows}


def _all_text(world: World) -> str:
    """Every value of every table, as text."""
    engine = world.app.state.ledger.store.engine
    chunks: list[str] = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):  # noqa: S608
                chunks.extend(
                    value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    for value in row
                )
    return "\n".join(chunks)


def test_the_bootstrap_key_is_kept_as_its_hash_like_an_issued_key(world: World) -> None:
    issued = world.client.post(f"/v1/orgs/{world.admin.id}/keys", headers=world.admin.headers)
    assert issued.status_code == 201, issued.text
    second = issued.json()["api_key"]

    rows = _key_rows(world)
    assert rows[hash_api_key(ADMIN_KEY)] == world.admin.id
    assert rows[hash_api_key(second)] == world.admin.id
    assert rows[hash_api_key(world.oem.key)] == world.oem.id
    assert all(len(h) == 64 for h in rows)

    # Both were logged as keys issued to the admin org.
    entries = world.client.get(
        "/v1/log/entries", params={"limit": 1000}, headers=world.regulator.headers
    ).json()["entries"]
    issued_to_admin = [
        e for e in entries if e["type"] == "key_issued" and e["data"]["org"] == world.admin.id
    ]
    assert len(issued_to_admin) == 2

    everything = _all_text(world)
    for key in (ADMIN_KEY, second, world.oem.key):
        assert key not in everything
    # Both keys work the same way.
    for key in (ADMIN_KEY, second):
        me = world.client.get("/v1/orgs/me", headers={"Authorization": f"Bearer {key}"})
        assert me.json()["id"] == world.admin.id


@pytest.mark.parametrize("backend", ["sqlite"])  # a PostgreSQL server's files are not ours
def test_no_key_is_in_the_database_files(world: World, database_url: str) -> None:
    path = Path(database_url.removeprefix("sqlite:///"))
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert path in files
    for file in files:
        data = file.read_bytes()
        for key in (ADMIN_KEY, world.oem.key, world.recycler.key):
            assert key.encode() not in data, file.name
