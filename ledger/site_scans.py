"""Scans that name a site, and the cloned labels they reveal.

Owns the cloned-label check of DESIGN.md's oversight: a scan (``POST /v1/scan``)
may say where it happened; one that does and resolves to an item is kept beside
the log (``SiteScan``: the item, the site, the scanning org, when), never as a
log entry. The check runs when a scan is kept, not when the report is read:
the item's latest scan at another site within ``CLONE_WINDOW`` before it makes
a ``CloneFinding``, kept with it. No item travels between two sites that fast,
so two labels carry one item's code: one of them is a copy. The anomalies
report reads the findings (``ledger.reports.clones``), never the scans.

The store keeps a scan and its finding together in a short transaction of its
own, not the chain's, so a scan never waits for appends; scans of one item are
checked one at a time (``Store.record_site_scan``), so two sites scanning at
once still make their finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ledger.chain import format_ts
from ledger.errors import ValidationError

__all__ = [
    "CLONE_WINDOW",
    "MAX_SITE_LENGTH",
    "CloneFinding",
    "ScanKeeper",
    "SiteScan",
    "check_site",
    "record_site_scan",
]

# How close two scans of one item at two sites must be to flag a cloned label.
# A traction battery, a PV module or a blade is not unloaded, moved to another
# facility and scanned there within ten minutes; a longer window would flag
# honest transfers between neighbouring sites (two docks of one yard should
# name one site).
CLONE_WINDOW = timedelta(minutes=10)
# As the site of an event (``ledger.events``: bounded text).
MAX_SITE_LENGTH = 200
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True)
class SiteScan:
    """A scan of ``item`` at ``site`` by ``org`` at ``at`` (RFC 3339 UTC, ``format_ts``)."""

    item: str
    site: str
    org: str
    at: str


@dataclass(frozen=True)
class CloneFinding:
    """One item scanned at two sites within the window: ``first``, then ``second``."""

    item: str
    first: SiteScan
    second: SiteScan


def check_site(site: str) -> str:
    """A site as kept: 1 to ``MAX_SITE_LENGTH`` printable characters, spaces at
    either end dropped.

    Raises:
        ValidationError: empty, too long, or holding a control character or a
            lone surrogate (pointer ``/site``).
    """
    kept = site.strip()
    if not kept or len(kept) > MAX_SITE_LENGTH:
        raise ValidationError(
            f"a site is 1 to {MAX_SITE_LENGTH} characters", pointer="/site", rule="site"
        )
    if _UNPRINTABLE.search(kept):
        raise ValidationError(
            "a site may not hold control characters or lone surrogates",
            pointer="/site",
            rule="site",
        )
    return kept


class ScanKeeper(Protocol):
    """What keeps scans: ``ledger.store.base.Store`` (named here apart, since the
    store's contract speaks of these values)."""

    def record_site_scan(self, scan: SiteScan, since: str) -> CloneFinding | None: ...


def record_site_scan(
    store: ScanKeeper,
    item_id: str,
    site: str,
    org_id: str,
    now: datetime,
    window: timedelta = CLONE_WINDOW,
) -> CloneFinding | None:
    """Keep a scan of ``item_id`` at ``site`` by ``org_id`` at ``now``, durably, and
    the cloned-label finding it makes, if any.

    Args:
        window: how long before ``now`` a scan at another site still makes a finding.

    Returns:
        The finding (the item's latest scan at another site no earlier than
        ``now - window``, then this one), or None.

    Raises:
        ValidationError: ``site`` is not a site (``check_site``).
        StoreUnavailableError: the scan could not be kept.
    """
    scan = SiteScan(item_id, check_site(site), org_id, format_ts(now))
    return store.record_site_scan(scan, since=format_ts(now - window))
