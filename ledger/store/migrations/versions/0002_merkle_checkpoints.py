"""Merkle tree nodes, signed checkpoints, witnesses and their cosignatures.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tree_nodes",
        sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "witnesses",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("org_id", sa.String(40), nullable=False),
        sa.Column("vkey", sa.String(400), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_witnesses_org_id", "witnesses", ["org_id"])
    op.create_table(
        "cosignatures",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(200), primary_key=True),
        sa.Column("line", sa.String(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    # Tree nodes and checkpoints are as append-only as the entries they cover.
    dialect = op.get_bind().dialect.name
    for table in ("tree_nodes", "checkpoints"):
        if dialect == "postgresql":
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION retrace_entries_append_only()"
            )
        elif dialect == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'append-only: {verb} on {table} is refused'); "
                    "END"
                )


def downgrade() -> None:
    raise NotImplementedError("the ledger schema is never rolled back: the log is append-only")
