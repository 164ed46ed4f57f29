"""Audits of a live log, and the auditor's memory of each log.

Owns the audit state file and the order of an incremental audit of a server
(``audit_server``) or of one item's history (``audit_item``). The HTTP is
``ledger.verify.client``'s; the checks are ``ledger.verify``'s other modules'; showing
progress is the caller's, through a callback.

The audit state (JSON) remembers, per log origin, the log key trusted on first use, the
newest checkpoint seen and verified consistent with the ones before, and how far the
entries were verified (size, head, Merkle frontier), so each audit of a live server is
incremental and a history rewritten in between is caught.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hashing import Checkpoint, HashingError, TreeFrontier, Verifier, parse_verifier_key
from ledger.chain import ZERO_HASH, StoredEntry
from ledger.errors import AuditFailure, AuditUnavailableError
from ledger.verify.audit import LogAuditor
from ledger.verify.bundle import now_stamp
from ledger.verify.client import PAGE, Fetch, LogClient
from ledger.verify.entry import entry_bytes
from ledger.verify.history import verify_item_history
from ledger.verify.trust import (
    SignedCheckpoint,
    check_consistent,
    check_log_key,
    open_checkpoint_note,
)

__all__ = ["STATE_FORMAT", "Progress", "audit_item", "audit_server", "load_state", "save_state"]

STATE_FORMAT = "retrace-audit-state/1"

Progress = Callable[[int, int], None]
"""Progress of a live audit: called with (entries verified, entries to verify)."""


# --- the audit state ---------------------------------------------------------------------


def load_state(path: Path, form: str = STATE_FORMAT, what: str = "audit") -> dict[str, Any]:
    """The state file of ``form`` (the audit's, or another checker's such as the
    witness's, named ``what`` in messages), or a new one.

    Raises:
        AuditUnavailableError: the file cannot be read or is not such a state.
    """
    if not path.exists():
        return {"format": form, "logs": {}}
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuditUnavailableError(f"cannot read the {what} state {path}: {exc}") from None
    if state.get("format") != form or not isinstance(state.get("logs"), dict):
        raise AuditUnavailableError(f"{path} is not a Retrace {what} state file")
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state atomically (a crash leaves the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def saved_checkpoint(log: dict[str, Any], origin: str) -> Checkpoint | None:
    """The checkpoint a state keeps for one log (the last one trusted), if any."""
    saved = log.get("checkpoint")
    if saved is None:
        return None
    return Checkpoint(origin, int(saved["size"]), bytes.fromhex(saved["root"]))


def _advance(log: dict[str, Any], signed: SignedCheckpoint, url: str) -> None:
    """Remember ``signed`` as the newest trusted checkpoint (it was checked consistent)."""
    saved = log.get("checkpoint")
    if saved is None or signed.size >= int(saved["size"]):
        log["checkpoint"] = {
            "size": signed.size,
            "root": signed.root.hex(),
            "note": signed.note,
            "since": now_stamp(),
        }
    urls = set(log.get("urls", [])) | {url}
    log["urls"] = sorted(urls)
    log["audited_at"] = now_stamp()


def _witness_keys(keys: list[str]) -> list[Verifier]:
    verifiers = []
    for vkey in keys:
        try:
            verifiers.append(parse_verifier_key(vkey.strip()))
        except HashingError as exc:
            raise AuditUnavailableError(f"not a witness verifier key {vkey!r}: {exc}") from None
    return verifiers


def _trust_key(
    client: LogClient, state: dict[str, Any], pinned: str | None
) -> tuple[Verifier, dict[str, Any], bool]:
    """The log's key: pinned, or as trusted before, or trusted now on first use."""
    served = client.log_key()
    origin = served.split("+", 1)[0]
    log: dict[str, Any] = state["logs"].setdefault(origin, {})
    if pinned is not None:
        check_log_key(served, pinned)
    verifier = check_log_key(served, log.get("log_key"))
    first_use = "log_key" not in log
    log["log_key"] = served
    return verifier, log, first_use


# --- live audits -------------------------------------------------------------------------


def audit_server(
    fetch: Fetch,
    url: str,
    state_path: Path,
    *,
    check_entries: bool = False,
    pinned_key: str | None = None,
    witnesses: list[str] | None = None,
    progress: Progress | None = None,
) -> str:
    """Audit a live log against what ``state_path`` remembers of it; returns the verdict.

    Checks the log key (trusted on first use), the latest checkpoint's signature and
    known cosignatures, and that it extends the last trusted checkpoint (RFC 9162
    consistency proof). With ``check_entries`` (``fetch`` sends a regulator's key) it
    fetches the entries since the last audit and checks their hashes, both chains and the
    recomputed root. The state advances only when everything holds.

    Args:
        fetch: GETs from the server.
        url: the server's URL, as remembered in the state.
        state_path: the audit state file.
        check_entries: verify the entries too.
        pinned_key: the log's verifier key learnt out of band.
        witnesses: witness verifier keys whose cosignatures must verify.
        progress: called as entries are verified.

    Raises:
        AuditFailure: the first thing wrong.
        AuditUnavailableError: the audit could not run.
    """
    client = LogClient(fetch)
    state = load_state(state_path)
    verifier, log, first_use = _trust_key(client, state, pinned_key)
    known = _witness_keys(sorted(set(log.get("witnesses", [])) | set(witnesses or [])))
    signed = open_checkpoint_note(client.checkpoint(), verifier, known)
    trusted = saved_checkpoint(log, verifier.name)
    said = [
        f"log {verifier.name}: checkpoint {signed.size} signed"
        + (f", cosigned by {', '.join(signed.cosigners)}" if signed.cosigners else "")
    ]
    if first_use:
        said.append(f"log key {log['log_key']} trusted on first use")
    if trusted is not None:
        if signed.size < trusted.size:
            raise AuditFailure.at_checkpoint(
                signed.size,
                f"the log shows {signed.size} entries, but {trusted.size} were seen before: "
                "a log never shrinks",
            )
        proof = (
            client.consistency(trusted.size, signed.size) if 0 < trusted.size < signed.size else []
        )
        check_consistent(trusted, signed.checkpoint, proof)
        said.append(f"consistent with the trusted checkpoint {trusted.size}")
    if check_entries:
        said.append(_audit_entries(client, log, signed, progress))
    log["witnesses"] = [w.vkey for w in known]
    _advance(log, signed, url)
    save_state(state_path, state)
    return "ok: " + "; ".join(said)


def _audit_entries(
    client: LogClient, log: dict[str, Any], signed: SignedCheckpoint, progress: Progress | None
) -> str:
    """Verify the entries since the last verified size up to the new checkpoint."""
    saved = log.get("entries") or {"size": 0, "head": ZERO_HASH, "frontier": []}
    start = int(saved["size"])
    if start > signed.size:
        start, saved = 0, {"size": 0, "head": ZERO_HASH, "frontier": []}
    frontier = TreeFrontier(start, [bytes.fromhex(h) for h in saved["frontier"]])
    auditor = LogAuditor([signed], size=start, head=saved["head"], frontier=frontier)
    if progress is not None:
        progress(0, signed.size - start)
    for batch in _batched(client.entries(start, signed.size), PAGE):
        auditor.feed(batch)
        if progress is not None:
            progress(auditor.size - start, signed.size - start)
    summary = auditor.finish()
    log["entries"] = {
        "size": summary.size,
        "head": summary.head,
        "frontier": [h.hex() for h in auditor.frontier.hashes],
    }
    unchecked = (
        f" ({summary.unchecked_item_links} item links reach before this audit)"
        if summary.unchecked_item_links
        else ""
    )
    return (
        f"entries {start}..{summary.size - 1} verified: hashes, chains and root{unchecked}"
        if summary.size > start
        else "no new entries"
    )


def _batched(lines: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def audit_item(
    fetch: Fetch,
    url: str,
    state_path: Path,
    item_id: str,
    *,
    pinned_key: str | None = None,
    witnesses: list[str] | None = None,
) -> str:
    """Audit one item's history: entries, item chain, inclusion proofs, the checkpoint.

    The checkpoint must carry the log's signature and, when the state trusts an earlier
    checkpoint, be consistent with it; the state then advances to it.

    Raises:
        AuditFailure: the first thing wrong.
        AuditUnavailableError: the audit could not run.
    """
    client = LogClient(fetch)
    state = load_state(state_path)
    verifier, log, first_use = _trust_key(client, state, pinned_key)
    known = _witness_keys(sorted(set(log.get("witnesses", [])) | set(witnesses or [])))
    history = client.history(item_id)
    try:
        served = history["checkpoint"]
        signed = open_checkpoint_note(served["note"], verifier, known)
        rows, proofs = _history_rows(item_id, history["entries"], history["proofs"])
    except (KeyError, TypeError) as exc:
        raise AuditUnavailableError(f"the history answer lacks {exc}") from None
    if (served.get("size"), served.get("root")) != (signed.size, signed.root.hex()):
        raise AuditFailure.at_checkpoint(
            signed.size, "the history states another size or root than its signed checkpoint"
        )
    trusted = saved_checkpoint(log, verifier.name)
    said = []
    if trusted is not None:
        older, newer = sorted((trusted, signed.checkpoint), key=lambda c: c.size)
        proof = client.consistency(older.size, newer.size) if 0 < older.size < newer.size else []
        check_consistent(older, newer, proof)
        said.append(f"checkpoint {signed.size} is consistent with the trusted {trusted.size}")
    elif first_use:
        said.append(f"log key {log['log_key']} trusted on first use")
    report = verify_item_history(item_id, rows, signed.checkpoint, proofs)
    _advance(log, signed, url)
    save_state(state_path, state)
    pending = (
        f", {report.newer_than_checkpoint} newer than it" if report.newer_than_checkpoint else ""
    )
    return (
        f"ok: item {item_id}: {report.entries} entries, item chain intact, "
        f"{report.proven} proven included in checkpoint {signed.size} signed by "
        f"{verifier.name}{pending}" + "".join(f"; {s}" for s in said)
    )


def _history_rows(
    item_id: str, entries: Sequence[Mapping[str, Any]], proofs: Sequence[Mapping[str, Any]]
) -> tuple[list[StoredEntry], dict[int, Sequence[str]]]:
    """The server's history answer as rows (bytes, the hash it states) and proofs by seq.

    Raises:
        AuditFailure: the proofs do not pair with the entries, or an entry has no bytes.
    """
    if len(proofs) != len(entries):
        raise AuditFailure(f"item {item_id}", f"{len(entries)} entries but {len(proofs)} proofs")
    rows: list[StoredEntry] = []
    paths: dict[int, Sequence[str]] = {}
    for wire, proof in zip(entries, proofs, strict=True):
        seq = wire.get("seq")
        if type(seq) is not int:
            raise AuditFailure(f"item {item_id}", f"entry seq {seq!r} is out of order")
        try:
            body = entry_bytes(wire)
        except ValueError as exc:
            raise AuditFailure.at_entry(seq, f"not a valid entry: {exc}") from None
        if proof.get("seq") != seq:
            raise AuditFailure.at_entry(seq, "the proofs are not in the order of the entries")
        if isinstance(proof.get("proof"), list):
            paths[seq] = proof["proof"]
        # The columns are the bytes' own fields: a server's history states no others.
        item, kind, actor = wire.get("item"), wire.get("type", ""), wire.get("actor", "")
        rows.append(StoredEntry(seq, str(wire.get("hash")), body, item, kind, actor))
    return rows, paths
