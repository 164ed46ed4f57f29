"""Scan sites: scans that name a site, and the cloned labels they reveal.

Creates ``site_scans``: each scan that named a site and resolved to an item
(the item, the site, the scanning org, when), indexed by item and time so a
new scan finds the item's latest scan in one index range; and
``clone_findings``: each pair of scans of one item at two sites within the
cloned-label window (``ledger.site_scans``), which the anomalies report reads.
Neither is derived from the log: a scan appends no entry, and a rebuild
leaves both tables alone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# BIGINT on PostgreSQL; SQLite only autoincrements an INTEGER PRIMARY KEY.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "site_scans",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("item", sa.String(length=40), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
    )
    op.create_index("ix_site_scans_item_at", "site_scans", ["item", "at"])
    op.create_table(
        "clone_findings",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("item", sa.String(length=40), nullable=False),
        sa.Column("site_a", sa.String(length=200), nullable=False),
        sa.Column("org_a", sa.String(length=40), nullable=False),
        sa.Column("at_a", sa.String(length=32), nullable=False),
        sa.Column("site_b", sa.String(length=200), nullable=False),
        sa.Column("org_b", sa.String(length=40), nullable=False),
        sa.Column("at_b", sa.String(length=32), nullable=False),
    )
    op.create_index("ix_clone_findings_item", "clone_findings", ["item"])


def downgrade() -> None:
    op.drop_table("clone_findings")
    op.drop_table("site_scans")
