"""Item codes are looked up by the code first: one unique index (code, kind, code_scope).

A scan knows the code and a few candidate kinds; a registration knows all three
columns. With the code leading, both probe one index whatever the planner's
statistics say; the kind-led index it replaces made PostgreSQL intersect it
with the code index and read every entry of the kind (issue: scans slowed with
the log). The separate code index becomes redundant and goes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint("uq_items_kind_scope_code", type_="unique")
        batch.drop_index("ix_items_code")
        batch.create_unique_constraint("uq_items_code_kind_scope", ["code", "kind", "code_scope"])


def downgrade() -> None:
    raise NotImplementedError("the ledger schema is never rolled back: the log is append-only")
