"""The check of a store's whole log, as the server's ``verify`` runs it.

Owns ``ChainVerifier``: stored rows fed in ``seq`` order, each checked by the one entry
check (``ledger.verify.entry.check_entries``) against its stored hash and indexed columns,
the entry before it and its item's previous entry; and ``verify_log``, which streams a
store's rows through it and names the first bad entry, then checks the stored tree
(``ledger.verify.tree``). The offline audit is
``ledger.verify.audit``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.chain import ZERO_HASH, StoredEntry
from ledger.errors import AuditFailure
from ledger.verify.entry import check_entries
from ledger.verify.tree import verify_tree

if TYPE_CHECKING:  # the audit's worker processes import this package: keep them light
    from ledger.store.base import Store

__all__ = ["ChainVerifier", "VerifyReport", "verify_log"]


@dataclass
class ChainVerifier:
    """Verifies stored entries streamed in ``seq`` order; feed, then read ``first_bad``.

    Checks per row: its ``seq`` is the next one, then the entry check with the stored
    hash and the indexed columns (seq, item, type, actor) as claimed. ``first_bad`` is
    the first failure (its ``seq`` and ``reason``); nothing is checked after it.
    """

    size: int = 0
    head: str = ZERO_HASH
    first_bad: AuditFailure | None = None
    _items: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def feed(self, rows: Iterable[StoredEntry]) -> bool:
        """Verify more rows; returns False once something is wrong."""
        if self.first_bad is not None:
            return False
        batch = list(rows)
        # Rows stop being checkable where the store skips or repeats a seq.
        cut = next((i for i, row in enumerate(batch) if row.seq != self.size + i), len(batch))
        run = check_entries(
            [row.body for row in batch[:cut]],
            self.size,
            self.head,
            self._items,
            claimed=[row.hash for row in batch[:cut]],
            columns=[(row.seq, row.item, row.type, row.actor) for row in batch[:cut]],
        )
        self.size += run.count
        if run.head is not None:
            self.head = run.head
        if run.failure is not None:
            self.first_bad = run.failure
        elif cut < len(batch):
            found = batch[cut].seq
            self.first_bad = AuditFailure.at_entry(
                found, f"expected seq {self.size}, found {found} (an entry is missing)"
            )
        return self.first_bad is None


_BATCH = 5000


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of verifying the whole log."""

    ok: bool
    size: int
    first_bad: dict[str, Any] | None
    head: str


def verify_log(store: Store, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Re-hash every entry and check both chains, then every stored Merkle node and
    tile against them (``ledger.verify.tree``); name the first bad seq (for a node,
    the first entry under it)."""
    verifier = ChainVerifier()
    with store.reader() as r:
        batch: list[StoredEntry] = []
        for row in r.iter_entries():
            batch.append(row)
            if len(batch) == _BATCH:
                if not verifier.feed(batch):
                    break
                batch = []
                if progress:
                    progress(verifier.size)
        else:
            verifier.feed(batch)
        if progress:
            progress(verifier.size)
        bad = verifier.first_bad
        if bad is None:
            tree = verify_tree(r, verifier.size)
            if tree is not None:
                bad = AuditFailure(tree.subject, f"{tree.subject}: {tree.reason}", seq=tree.seq)
    return VerifyReport(
        ok=bad is None,
        size=verifier.size,
        first_bad=None if bad is None else {"seq": bad.seq, "reason": bad.reason},
        head=verifier.head,
    )
