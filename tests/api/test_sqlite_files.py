"""SQLite database files are the service's alone: created 0600 in a folder only it opens.

The database, its write-ahead log and its shared-memory index hold every API
key's hash, sealed answers and the passport sessions; no other local user may
read them, and none may swap them (the folder is not world-writable). Checked
with the most permissive umask, so nothing rests on the operator's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.bootstrap import prepare
from api.settings import Settings
from ledger.store.sql import SqlStore
from tests.factories import ADMIN_KEY


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_a_new_database_and_its_wal_files_are_0600(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "ledger"
    path = folder / "retrace.db"
    store = SqlStore(f"sqlite:///{path}")
    try:
        store.migrate()
        with store.engine.connect() as conn:  # the WAL files exist while a connection is open
            conn.exec_driver_sql("SELECT count(*) FROM entries")
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: oct(_mode(f)) for f in files} == {f.name: "0o600" for f in files}
    finally:
        store.dispose()
    assert oct(_mode(folder)) == "0o700"
    assert not _mode(folder.parent) & stat.S_IWOTH


@pytest.mark.usefixtures("open_umask")
def test_the_first_start_makes_a_private_database(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'data' / 'retrace.db'}",
        log_key_file=tmp_path / "keys" / "log.key",
        bootstrap_admin_key=ADMIN_KEY,
        _env_file=None,
    )
    prepare(settings)
    assert oct(_mode(tmp_path / "data" / "retrace.db")) == "0o600"
    assert oct(_mode(tmp_path / "data")) == "0o700"
    assert oct(_mode(tmp_path / "keys" / "log.key")) == "0o600"


def test_an_existing_database_is_opened_as_it_is(tmp_path: Path) -> None:
    """The mode an operator gave an existing file is theirs to keep."""
    path = tmp_path / "retrace.db"
    store = SqlStore(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    path.chmod(0o640)
    again = SqlStore(f"sqlite:///{path}")
    try:
        again.migrate()
        assert again.schema_revision() is not None
    finally:
        again.dispose()
    assert oct(_mode(path)) == "0o640"
