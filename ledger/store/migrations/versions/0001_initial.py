"""The initial ledger schema, with the append-only guard on entries.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_PG_GUARD = """
CREATE FUNCTION retrace_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("item", sa.String(40), nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("hash", name="uq_entries_hash"),
    )
    op.create_index("ix_entries_actor", "entries", ["actor"])
    op.create_index("ix_entries_item", "entries", ["item"])

    op.create_table(
        "items",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(40), nullable=False),
        sa.Column("manufacturer", sa.String(40), nullable=False),
        sa.Column("parent", sa.String(40), nullable=True),
        sa.Column("origin", sa.String(40), nullable=True),
        sa.Column("attributes", sa.String(), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("kind", "code", name="uq_items_kind_code"),
    )
    for column in ("state", "holder", "manufacturer", "parent", "origin"):
        op.create_index(f"ix_items_{column}", "items", [column])

    op.create_table(
        "orgs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("name", name="uq_orgs_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org_id", sa.String(40), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("revoked_seq", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_org_id", "api_keys", ["org_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("org_id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_idempotency_created", "idempotency_keys", ["created_at"])

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_GUARD)
        op.execute(
            "CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries "
            "FOR EACH ROW EXECUTE FUNCTION retrace_entries_append_only()"
        )
        op.execute(
            "CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION retrace_entries_append_only()"
        )
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER entries_no_{verb.lower()} BEFORE {verb} ON entries "
                f"BEGIN SELECT RAISE(ABORT, 'the log is append-only: {verb} on entries "
                "is refused'); END"
            )


def downgrade() -> None:
    raise NotImplementedError("the ledger schema is never rolled back: the log is append-only")
