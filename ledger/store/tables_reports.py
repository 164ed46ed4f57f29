"""Table models of the report aggregates (``ledger.reports.aggregate``).

Kept beside the log, derived from it, and rebuilt from nothing when emptied:
``report_marks`` holds how many entries of the log the aggregates cover;
``report_members`` each item's part in each report row (the row's key, the
seqs it rests on, its measures and the orgs that may see it), so that an item
that changes can be taken out of the rows it was in, and a row's entries can be
listed; ``report_cells`` the running sums of each row, per org that may see
them and for everyone (``*``), so a report reads a few rows whatever the size
of the log.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

__all__ = ["ReportCellRow", "ReportMarkRow", "ReportMemberRow"]


class ReportMarkRow(SQLModel, table=True):
    """The aggregates cover the entries below ``upto``."""

    __tablename__ = "report_marks"

    name: str = Field(primary_key=True, max_length=32)
    upto: int = Field(sa_column=Column(BigInteger, nullable=False))


class ReportMemberRow(SQLModel, table=True):
    """One item's part in one report row."""

    __tablename__ = "report_members"
    # A row's entries (paged by item), and the listed reports (deadlines,
    # anomalies): one range.
    __table_args__ = (Index("ix_report_members_row", "report", "key", "item"),)

    item: str = Field(primary_key=True, max_length=40)
    report: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=400)
    seqs: str
    measures: str
    viewers: str


class ReportCellRow(SQLModel, table=True):
    """A row's sums as ``scope`` sees them (an org id, or ``*`` for everyone)."""

    __tablename__ = "report_cells"

    scope: str = Field(primary_key=True, max_length=40)
    report: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=400)
    measures: str
