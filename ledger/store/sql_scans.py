"""Site scans on SQL: the statements of ``ledger.site_scans`` for ``SqlStore``.

Owns the read of the cloned-label findings (``clone_findings``) and the keeping
of one scan with the finding it makes (``keep_site_scan``): the item's latest
scan at another site since a time, one range of the ``ix_site_scans_item_at``
index, then one or two inserts. The window and what a finding means are
``ledger.site_scans``'s; ``SqlStore.record_site_scan`` runs this in a short
transaction of its own, never the chain writer's.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from ledger.site_scans import CloneFinding, SiteScan
from ledger.store.tables import CloneFindingRow, SiteScanRow

__all__ = ["SCAN_LOCK_CLASS", "ScanRows", "keep_site_scan"]

_scans = SiteScanRow.__table__  # type: ignore[attr-defined]
_findings = CloneFindingRow.__table__  # type: ignore[attr-defined]

# First key of the PostgreSQL advisory lock (two-key form, a key space apart
# from the chain lock's one key) held while one item's scan is kept: "SC".
SCAN_LOCK_CLASS = 0x5343

_LOCK_ITEM = sa.select(
    sa.func.pg_advisory_xact_lock(SCAN_LOCK_CLASS, sa.func.hashtext(sa.bindparam("item")))
)
_LATEST_ELSEWHERE = (
    sa.select(_scans.c.site, _scans.c.org_id, _scans.c.at)
    .where(
        (_scans.c.item == sa.bindparam("item"))
        & (_scans.c.at >= sa.bindparam("since"))
        & (_scans.c.site != sa.bindparam("site"))
    )
    .order_by(_scans.c.at.desc(), _scans.c.id.desc())
    .limit(1)
)
_FINDINGS = sa.select(
    _findings.c.item,
    _findings.c.site_a,
    _findings.c.org_a,
    _findings.c.at_a,
    _findings.c.site_b,
    _findings.c.org_b,
    _findings.c.at_b,
).order_by(_findings.c.id)


class ScanRows:
    """The read of cloned-label findings, on one connection."""

    conn: Connection

    def clone_findings(self) -> list[CloneFinding]:
        return [
            CloneFinding(
                row.item,
                SiteScan(row.item, row.site_a, row.org_a, row.at_a),
                SiteScan(row.item, row.site_b, row.org_b, row.at_b),
            )
            for row in self.conn.execute(_FINDINGS)
        ]


def keep_site_scan(conn: Connection, scan: SiteScan, since: str) -> CloneFinding | None:
    """Keep ``scan`` and its finding, in the transaction ``conn`` is in.

    On PostgreSQL an advisory lock on the item makes two scans of it wait for
    each other, so the second always reads the first (SQLite's write lock,
    taken at ``BEGIN IMMEDIATE``, does the same for the whole file).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_ITEM, {"item": scan.item})
    before = conn.execute(
        _LATEST_ELSEWHERE, {"item": scan.item, "since": since, "site": scan.site}
    ).first()
    conn.execute(
        _scans.insert().values(item=scan.item, site=scan.site, org_id=scan.org, at=scan.at)
    )
    if before is None:
        return None
    finding = CloneFinding(
        scan.item, SiteScan(scan.item, before.site, before.org_id, before.at), scan
    )
    conn.execute(
        _findings.insert().values(
            item=scan.item,
            site_a=finding.first.site,
            org_a=finding.first.org,
            at_a=finding.first.at,
            site_b=scan.site,
            org_b=scan.org,
            at_b=scan.at,
        )
    )
    return finding
