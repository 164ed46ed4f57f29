"""``retrace export`` and ``retrace audit``: offline bundles, and audits of a live log.

Owns the bundle format and the two commands; the checks are ``ledger.audit``'s and the
live audit's HTTP and state ``api.audit_live``'s. A bundle is a directory:

* ``entries.jsonl``: every entry's canonical (RFC 8785) bytes exactly as stored, one per
  line, in seq order, so every leaf hash recomputes;
* ``checkpoints/<size>.note``: each signed checkpoint with its witness cosignature lines;
* ``log.vkey``: the log's verifier key; ``witnesses.txt``: the witnesses' verifier keys;
* ``manifest.json``: format, origin, counts, head hash and when it was made. Nothing in a
  bundle is trusted for being there: the audit recomputes everything, and ``--log-key``
  pins the log key learnt out of band.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hashing import (
    HashingError,
    Verifier,
    leaf_hash,
    parse_checkpoint,
    parse_verifier_key,
    split_note,
)
from ledger.audit import (
    AuditFailure,
    AuditSummary,
    BlockResult,
    LogAuditor,
    check_block,
    check_text_block,
)
from ledger.audit_trust import check_log_key, open_checkpoints

if TYPE_CHECKING:
    from api.audit_live import LogClient

BUNDLE_FORMAT = "retrace-bundle/1"
ENTRIES, CHECKPOINTS, LOG_KEY, WITNESSES, MANIFEST = (
    "entries.jsonl",
    "checkpoints",
    "log.vkey",
    "witnesses.txt",
    "manifest.json",
)
_BLOCK = 1 << 23  # bytes of entries.jsonl read at a time

Tick = Callable[[int], None]


class OperationalError(Exception):
    """Not a finding: the audit could not run (no server, bad arguments, unreadable files)."""


def now_stamp() -> str:
    """The wall-clock time, UTC, to the second (RFC 3339)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def progress() -> Any:
    """The CLI's progress bar (``api.cli`` registers these commands: imported late)."""
    from api.cli import progress_bar

    return progress_bar()


# --- writing a bundle --------------------------------------------------------------------


def _check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OperationalError(f"{target} exists and is not an empty directory")


def _new_bundle(target: Path) -> None:
    _check_target(target)
    (target / CHECKPOINTS).mkdir(parents=True, exist_ok=True)


def _write_bundle(
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
    """Write the files of a bundle; the manifest last, once everything else is there."""
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
        raise OperationalError(f"expected {size} entries, got {count}")
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


def export_database(target: Path, *, publish: bool, tick: Tick) -> dict[str, Any]:
    """Export the local database (``RETRACE_*`` settings) to a bundle at ``target``."""
    from api.bootstrap import utc_now
    from api.settings import get_settings
    from hashing import load_private_key
    from ledger.errors import LedgerError
    from ledger.store.sql import SqlStore
    from ledger.transparency import Transparency

    _check_target(target)
    settings = get_settings()
    try:
        key = load_private_key(settings.log_key_file)
    except (OSError, HashingError) as exc:
        raise OperationalError(f"cannot read the log key {settings.log_key_file}: {exc}") from None
    store = SqlStore(settings.database(), pool_size=1)
    try:
        tlog = Transparency(store, key, settings.log_name, utc_now)
        if publish:
            tlog.publish()
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

        _new_bundle(target)
        return _write_bundle(
            target,
            vkey=tlog.vkey,
            notes=notes,
            witnesses=witnesses,
            entries=entries(),
            size=size,
            source="database",
            tick=tick,
        )
    except LedgerError as exc:
        raise OperationalError(exc.detail) from None
    finally:
        store.dispose()


def export_server(
    client: LogClient, target: Path, *, url: str, witnesses: list[str], tick: Tick
) -> dict[str, Any]:
    """Export a server's log up to its latest checkpoint (needs a regulator's key)."""
    _check_target(target)
    vkey = client.log_key()
    note = client.checkpoint()
    try:
        size = parse_checkpoint(split_note(note)[0]).size
    except HashingError as exc:
        raise OperationalError(f"the server's checkpoint is malformed: {exc}") from None
    _new_bundle(target)
    return _write_bundle(
        target,
        vkey=vkey,
        notes=[(size, note)],
        witnesses=witnesses,
        entries=client.entries(0, size),
        size=size,
        source=url,
        tick=tick,
    )


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


def _audit_entries(path: Path, auditor: LogAuditor, jobs: int, tick: Tick) -> None:
    """Check entries.jsonl block by block, in ``jobs`` processes when there is enough."""
    blocks = _read_blocks(path)
    if jobs <= 1 or path.stat().st_size <= 2 * _BLOCK:
        for text, count in blocks:
            auditor.join(check_block(auditor.size, text.split(b"\n"), auditor.stops(count)))
            tick(auditor.size)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    # Workers check blocks; this process joins them in order. "spawn": no fork of a
    # process whose progress bar runs a thread.
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
        raise AuditFailure(
            f"seq {summary.size - 1}",
            "the last entry is not the one the manifest names",
            seq=summary.size - 1,
        )


# --- the commands ------------------------------------------------------------------------


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(message)
    return typer.Exit(code)


def _ticker(bar: Any, description: str, total: int | None) -> Tick:
    task = bar.add_task(description, total=total)
    return lambda done: bar.update(task, completed=done)


def export(
    bundle: Annotated[Path, typer.Argument(help="directory to write (new or empty)")],
    url: Annotated[
        str | None,
        typer.Option(
            help="export from this server (up to its latest checkpoint) instead of the local "
            "database"
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(envvar="RETRACE_API_KEY", help="a regulator's API key (with --url)"),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="a witness verifier key to list in the bundle (with --url; repeatable)"),
    ] = None,
    publish: Annotated[
        bool, typer.Option(help="sign a checkpoint over the whole local log first")
    ] = True,
) -> None:
    """Write an offline audit bundle: entries, checkpoints, keys, manifest."""
    try:
        with progress() as bar:
            tick = _ticker(bar, "exporting entries", None)
            if url is None:
                manifest = export_database(bundle, publish=publish, tick=tick)
            else:
                from api.audit_live import LogClient, http_client

                with http_client(url, key) as http:
                    manifest = export_server(
                        LogClient(http), bundle, url=url, witnesses=witness or [], tick=tick
                    )
    except (OperationalError, AuditFailure) as exc:
        raise _fail(f"error: {exc}", 2) from None
    typer.echo(
        f"exported {manifest['entries']} entries and {manifest['checkpoints']} "
        f"checkpoints of {manifest['origin']} to {bundle}"
    )


def audit(
    bundle: Annotated[
        Path | None, typer.Argument(help="a bundle written by `retrace export`", show_default=False)
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="audit this live server instead of a bundle")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            help="what earlier audits trusted (default ~/.config/retrace/audit-state.json)",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="RETRACE_API_KEY",
            help="an API key: with --url, a regulator's to verify the new entries too; "
            "with --item, any",
        ),
    ] = None,
    item: Annotated[str | None, typer.Option(help="audit one item's history (with --url)")] = None,
    log_key: Annotated[
        str | None,
        typer.Option(help="the log's verifier key, learnt out of band; the log must sign with it"),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="a witness verifier key whose cosignatures must verify (repeatable)"),
    ] = None,
    jobs: Annotated[
        int, typer.Option(min=0, help="processes checking a bundle's entries (0: one per CPU)")
    ] = 0,
) -> None:
    """Verify a bundle offline, or a live log against the last audit; exit 1 on a finding."""
    if (bundle is None) == (url is None):
        raise typer.BadParameter("give a bundle directory or --url, not both")
    if item is not None and (url is None or not key):
        raise typer.BadParameter("--item needs --url and an API key (--key)")
    try:
        if bundle is not None:
            total = _manifest_size(bundle)
            with progress() as bar:
                _, verdict = audit_bundle(
                    bundle,
                    pinned_key=log_key,
                    witnesses=witness,
                    jobs=jobs or os.cpu_count() or 1,
                    tick=_ticker(bar, "auditing entries", total),
                )
        else:
            assert url is not None  # noqa: S101 - checked above
            from api.audit_live import audit_item, audit_server, default_state_path, http_client

            with http_client(url, key) as http:
                state_path = state or default_state_path()
                if item is not None:
                    verdict = audit_item(
                        http, url, state_path, item, pinned_key=log_key, witnesses=witness
                    )
                else:
                    verdict = audit_server(
                        http,
                        url,
                        state_path,
                        check_entries=bool(key),
                        pinned_key=log_key,
                        witnesses=witness,
                        show_progress=True,
                    )
    except AuditFailure as exc:
        raise _fail(f"FAILED at {exc.subject}: {exc.reason}", 1) from None
    except OperationalError as exc:
        raise _fail(f"error: {exc}", 2) from None
    typer.echo(verdict)


def _manifest_size(bundle: Path) -> int | None:
    try:
        size = json.loads((bundle / MANIFEST).read_text(encoding="utf-8")).get("entries")
    except (OSError, ValueError, AttributeError):
        return None
    return size if isinstance(size, int) else None
