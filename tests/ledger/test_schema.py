"""The Alembic migrations build exactly the schema the table models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from ledger.store import tables  # noqa: F401  (registers the table models)
from ledger.store.sql import SqlStore


def test_migrated_schema_matches_the_table_models(store: SqlStore) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_schema_is_at_the_newest_revision(store: SqlStore) -> None:
    assert store.schema_revision() == "0012"
