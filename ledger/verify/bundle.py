"""Offline audit bundles: the format, writing one, and auditing one with no server.

Owns the bundle format. A bundle is a directory:

* ``entries.jsonl``: every entry's canonical (RFC 8785) bytes exactly as stored, one per
  line, in seq order, so every leaf hash recomputes;
* ``checkpoints/<size>.note``: each signed checkpoint with its witness cosignature lines;
* ``log.vkey``: the log's verifier key; ``witnesses.txt``: the witnesses' verifier keys;
* ``manifest.json``: format, origin, counts, head hash and when it was made.

Nothing in a bundle is trusted for being there: ``audit_bundle`` recomputes everything
(``ledger.verify.audit``, ``ledger.verify.trust``), and a log key learnt out of band can be
pinned. Reading a database or a server to fill a bundle is the caller's
(``ledger.verify.live.export_server`` for a server).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashing import HashingError, Verifier, leaf_hash, parse_verifier_key
from ledger.errors import AuditFailure, AuditUnavailableError
from ledger.verify.audit import AuditSummary, BlockResult, LogAuditor, check_text_block
from ledger.verify.trust import check_log_key, open_checkpoints

if TYPE_CHECKING:  # the audit's worker processes import this module: keep them light
    from ledger.store.base import Store

__all__ = [
    "BUNDLE_FORMAT",
    "Tick",
    "audit_bundle",
    "bundle_size",
    "now_stamp",
    "start_bundle",
    "write_bundle",
]

BUNDLE_FORMAT = "retrace-bundle/1"
ENTRIES, CHECKPOINTS, LOG_KEY, WITNESSES, MANIFEST = (
    "entries.jsonl",
    "checkpoints",
    "log.vkey",
    "witnesses.txt",
    "manifest.json",
)
_BLOCK = 1 << 23  # bytes of entries.jsonl sent to a worker process at a time
# Bytes read at a time when checking here: small enough that the memory of one read's
# lines is reused by the next (no fresh pages) and stays in the CPU cache while checked.
_LINES_BLOCK = 1 << 18

Tick = Callable[[int], None]
"""Progress: called with the number of entries done so far."""


def now_stamp() -> str:
    """The wall-clock time, UTC, to the second (RFC 3339)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- writing a bundle --------------------------------------------------------------------


def start_bundle(target: Path, *, create: bool = False) -> None:
    """Check that ``target`` can take a new bundle; with ``create``, make its folders.

    Raises:
        AuditUnavailableError: ``target`` exists and is not an empty directory.
    """
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AuditUnavailableError(f"{target} exists and is not an empty directory")
    if create:
        (target / CHECKPOINTS).mkdir(parents=True, exist_ok=True)


def export_store(store: Store, target: Path, *, vkey: str, tick: Tick) -> dict[str, Any]:
    """Export a store's log to a bundle at ``target``: every entry up to the log's size
    when the export starts, every checkpoint within it with its cosignatures, the
    witnesses' keys.

    Args:
        vkey: the log's verifier key.

    Returns:
        The bundle's manifest.

    Raises:
        AuditUnavailableError: ``target`` is not empty, or the entries changed under us.
    """
    start_bundle(target)
    with store.reader() as r:
        size = r.size()
        notes = [
            (c.size, c.note + "".join(f"{line}\n" for line in r.cosignature_lines(c.size)))
            for c in r.checkpoints()
            if c.size <= size
        ]
        witnesses = r.witness_keys()

    def entries() -> Iterator[bytes]:
        # Entries never change once written: reading up to ``size`` needs no snapshot.
        with store.reader() as r:
            for row in r.iter_entries():
                if row.seq >= size:
                    return
                yield row.body

    start_bundle(target, create=True)
    return write_bundle(
        target,
        vkey=vkey,
        notes=notes,
        witnesses=witnesses,
        entries=entries(),
        size=size,
        source="database",
        tick=tick,
    )


def write_bundle(
    target: Path,
    *,
    vkey: str,
    notes: list[tuple[int, str]],
    witnesses: list[str],
    entries: Iterable[bytes],
    size: int,
    source: str,
    tick: Tick,
) -> dict[str, Any]:
    """Write the files of a bundle into ``target`` (made by ``start_bundle``).

    The manifest is written last, once everything else is there.

    Args:
        vkey: the log's verifier key.
        notes: ``(size, signed note with its cosignature lines)`` of each checkpoint.
        witnesses: the witnesses' verifier keys.
        entries: the canonical bytes of entries ``0 .. size - 1``, in order.
        size: how many entries there must be.
        source: where the entries come from (``database`` or a URL), for the manifest.
        tick: progress, called with the entries written so far.

    Returns:
        The manifest.

    Raises:
        AuditUnavailableError: ``entries`` did not give ``size`` entries.
    """
    last, count = None, 0
    with (target / ENTRIES).open("wb") as out:
        for body in entries:
            out.write(body)
            out.write(b"\n")
            count += 1
            last = body
            if count % 10_000 == 0:
                tick(count)
        tick(count)
    if count != size:
        raise AuditUnavailableError(f"expected {size} entries, got {count}")
    head = None if last is None else leaf_hash(last).hex()
    for checkpoint_size, note in notes:
        (target / CHECKPOINTS / f"{checkpoint_size}.note").write_text(note, encoding="utf-8")
    (target / LOG_KEY).write_text(vkey.strip() + "\n", encoding="utf-8")
    (target / WITNESSES).write_text("".join(w.strip() + "\n" for w in witnesses), encoding="utf-8")
    manifest = {
        "format": BUNDLE_FORMAT,
        "origin": vkey.split("+", 1)[0],
        "size": count,
        "entries": count,
        "head": head,
        "checkpoints": len(notes),
        "latest_checkpoint": max((s for s, _ in notes), default=None),
        "witnesses": len(witnesses),
        "source": source,
        "created_at": now_stamp(),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


# --- auditing a bundle -------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditFailure("bundle", f"cannot read {path.name}: {exc}") from None


def _read_blocks(path: Path) -> Iterator[tuple[bytes, int]]:
    """entries.jsonl in blocks of whole lines: (lines joined by newlines, line count)."""
    carry = b""
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            yield data[:cut], data.count(b"\n", 0, cut) + 1
    if carry:
        yield carry, 1


def _read_lines(path: Path) -> Iterator[list[bytes]]:
    """entries.jsonl in lists of lines (without newlines), each list read at once."""
    with path.open("rb") as handle:
        while block := handle.read(_LINES_BLOCK):
            lines = block.split(b"\n")
            if block.endswith(b"\n"):
                lines.pop()  # the empty text after the block's last newline
            else:  # finish the block's last line; without a final newline, it ends the file
                rest = handle.readline()
                lines[-1] += rest[:-1] if rest.endswith(b"\n") else rest
            yield lines


def _audit_entries(path: Path, auditor: LogAuditor, jobs: int, tick: Tick) -> None:
    """Check entries.jsonl block by block, in ``jobs`` processes when there is enough."""
    if jobs <= 1 or path.stat().st_size <= 2 * _BLOCK:
        for lines in _read_lines(path):
            auditor.feed(lines)
            tick(auditor.size)
        return
    blocks = _read_blocks(path)
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    # Workers check blocks; this process joins them in order. "spawn": no fork of a
    # process whose progress display may run a thread.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        running: deque[Future[BlockResult]] = deque()
        start = auditor.size
        for text, count in blocks:
            running.append(pool.submit(check_text_block, start, text, auditor.stops(count, start)))
            start += count
            while len(running) > 2 * jobs:
                auditor.join(running.popleft().result())
                tick(auditor.size)
        while running:
            auditor.join(running.popleft().result())
            tick(auditor.size)


def audit_bundle(
    bundle: Path,
    *,
    pinned_key: str | None = None,
    witnesses: list[str] | None = None,
    jobs: int = 1,
    tick: Tick = lambda _: None,
) -> tuple[AuditSummary, str]:
    """Audit a bundle with no server and no database.

    Args:
        bundle: the bundle's directory.
        pinned_key: the log's verifier key learnt out of band; the bundle's must equal it.
        witnesses: witness verifier keys besides those the bundle lists.
        jobs: processes checking the entries (one block of entries each at a time).
        tick: progress, called with the entries checked so far.

    Returns:
        The summary and a one-line verdict.

    Raises:
        AuditFailure: the first thing wrong.
    """
    entries = bundle / ENTRIES
    for required in (entries, bundle / LOG_KEY, bundle / CHECKPOINTS):
        if not required.exists():
            raise AuditFailure("bundle", f"{required.name} is missing")
    served = _read_text(bundle / LOG_KEY).strip()
    if pinned_key is not None:
        check_log_key(served, pinned_key)
    verifier = check_log_key(served, None)
    known = _bundle_witnesses(bundle, witnesses or [])
    notes = [(path.name, _read_text(path)) for path in sorted((bundle / CHECKPOINTS).iterdir())]
    signed = open_checkpoints(notes, verifier, known)
    if not signed:
        raise AuditFailure("bundle", "no signed checkpoint: nothing ties the entries to the log")
    auditor = LogAuditor(signed)
    _audit_entries(entries, auditor, jobs, tick)
    summary = auditor.finish()
    _check_manifest(bundle, summary)
    cosignatures = sum(len(s.cosigners) for s in signed)
    latest = signed[-1].size
    uncovered = summary.size - latest
    verdict = (
        f"ok: {summary.size} entries ({summary.items} items), hashes and both chains intact; "
        f"root {summary.root.hex()}; {len(signed)} checkpoints (latest {latest}) signed by "
        f"{verifier.name} and consistent; {cosignatures} cosignatures from "
        f"{len(known)} known witnesses"
        + (f"; {uncovered} entries newer than the latest checkpoint" if uncovered else "")
        + ("" if pinned_key else "; log key taken from the bundle (pin it with --log-key)")
    )
    return summary, verdict


def _bundle_witnesses(bundle: Path, extra: list[str]) -> list[Verifier]:
    path = bundle / WITNESSES
    lines = _read_text(path).splitlines() if path.exists() else []
    known: dict[str, Verifier] = {}
    for number, line in enumerate([*lines, *extra], start=1):
        if line.strip() and not line.startswith("#"):
            try:
                verifier = parse_verifier_key(line.strip())
            except HashingError as exc:
                raise AuditFailure("bundle", f"witness key {number} is malformed: {exc}") from None
            known[verifier.vkey] = verifier
    return list(known.values())


def _check_manifest(bundle: Path, summary: AuditSummary) -> None:
    path = bundle / MANIFEST
    if not path.exists():
        raise AuditFailure("bundle", "manifest.json is missing")
    try:
        manifest = json.loads(_read_text(path))
    except ValueError as exc:
        raise AuditFailure("bundle", f"manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise AuditFailure("bundle", f"manifest.json is not a {BUNDLE_FORMAT} manifest")
    if manifest.get("entries") != summary.size:
        raise AuditFailure(
            "bundle",
            f"entries.jsonl holds {summary.size} entries, the "
            f"manifest says {manifest.get('entries')}: entries were dropped "
            "or added",
        )
    if summary.size and manifest.get("head") != summary.head:
        raise AuditFailure.at_entry(
            summary.size - 1, "the last entry is not the one the manifest names"
        )


def bundle_size(bundle: Path) -> int | None:
    """The entries a bundle's manifest announces (for progress), if it can be read."""
    try:
        size = json.loads((bundle / MANIFEST).read_text(encoding="utf-8")).get("entries")
    except (OSError, ValueError, AttributeError):
        return None
    return size if isinstance(size, int) else None
