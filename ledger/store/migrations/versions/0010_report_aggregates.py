"""Report aggregates: the reports' rows kept up to date as the log grows.

Creates ``report_marks`` (how many entries the aggregates cover; starts at 0,
so the first refresh folds in a log that existed before this revision),
``report_members`` (each item's part in each report row, indexed by row) and
``report_cells`` (each row's sums, per org that may see them). All three are
derived from the log (``ledger.reports.aggregate``): emptied, they are rebuilt.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    marks = op.create_table(
        "report_marks",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("upto", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(marks, [{"name": "reports", "upto": 0}])
    op.create_table(
        "report_members",
        sa.Column("item", sa.String(40), primary_key=True),
        sa.Column("report", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("seqs", sa.String(), nullable=False),
        sa.Column("measures", sa.String(), nullable=False),
        sa.Column("viewers", sa.String(), nullable=False),
    )
    op.create_index("ix_report_members_row", "report_members", ["report", "key", "item"])
    op.create_table(
        "report_cells",
        sa.Column("scope", sa.String(40), primary_key=True),
        sa.Column("report", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("measures", sa.String(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_cells")
    op.drop_index("ix_report_members_row", table_name="report_members")
    op.drop_table("report_members")
    op.drop_table("report_marks")
