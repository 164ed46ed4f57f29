"""Audits of a live log over HTTP, and the auditor's memory of each log.

Owns ``LogClient`` (the public verification endpoints and the regulator's reads), the
audit state file, and the order of an incremental audit; the checks themselves are
``ledger.audit``'s and the commands ``api.audit_cli``'s.

The audit state (``--state``, JSON) remembers, per log origin, the log key trusted on first
use, the newest checkpoint seen and verified consistent with the ones before, and how far
the entries were verified (size, head, Merkle frontier), so each audit of a live server is
incremental and a history rewritten in between is caught.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from api.audit_cli import OperationalError, now_stamp, progress
from hashing import Checkpoint, HashingError, Verifier, leaf_hash, parse_verifier_key
from ledger.audit import AuditFailure, LogAuditor, SignedCheckpoint, TreeFrontier
from ledger.audit_trust import (
    check_consistent,
    check_log_key,
    entry_bytes,
    open_checkpoint_note,
    verify_item_history,
)
from ledger.chain import ZERO_HASH

STATE_FORMAT = "retrace-audit-state/1"
_PAGE = 1000  # GET /v1/log/entries returns at most this many per request
_TIMEOUT = 60.0


def default_state_path() -> Path:
    """``$XDG_CONFIG_HOME/retrace/audit-state.json`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "retrace" / "audit-state.json"


# --- talking to a server -----------------------------------------------------------------


class LogClient:
    """The public verification endpoints and the regulator's reads, over one HTTP client."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _get(self, path: str, **params: Any) -> httpx.Response:
        try:
            response = self.http.get(path, params=params or None)
        except httpx.HTTPError as exc:
            raise OperationalError(f"cannot reach the server: {exc}") from None
        if response.status_code != 200:
            detail = response.text[:300]
            with contextlib.suppress(ValueError, AttributeError):
                detail = str(response.json().get("detail", detail))
            raise OperationalError(f"GET {path} answered {response.status_code}: {detail}")
        return response

    def log_key(self) -> str:
        return self._get("/v1/log/key").text.strip()

    def checkpoint(self) -> str:
        return self._get("/v1/log/checkpoint").text

    def consistency(self, first: int, second: int) -> list[bytes]:
        try:
            body = self._get("/v1/log/proof/consistency", **{"from": first, "to": second})
            return [bytes.fromhex(p) for p in body.json()["proof"]]
        except (OperationalError, ValueError, KeyError, TypeError) as exc:
            # A log that cannot prove it extends what it showed before fails the audit.
            raise AuditFailure(
                f"checkpoint {second}",
                f"the server gives no consistency proof from size {first}: {exc}",
                size=second,
            ) from None

    def entries(self, start: int, stop: int) -> Iterator[bytes]:
        """Canonical bytes of entries ``[start, stop)``, each checked against its hash."""
        while start < stop:
            page = self._get("/v1/log/entries", start=start, limit=min(_PAGE, stop - start))
            rows = page.json()["entries"]
            if not rows:
                raise AuditFailure(f"seq {start}", "the server has no such entry", seq=start)
            for wire in rows:
                seq = wire.get("seq")
                try:
                    body = entry_bytes(wire)
                except ValueError as exc:
                    raise AuditFailure(f"seq {seq}", str(exc), seq=seq) from None
                if leaf_hash(body).hex() != wire.get("hash"):
                    raise AuditFailure(
                        f"seq {seq}",
                        "the hash the server gives is not the hash of the entry's bytes",
                        seq=seq,
                    )
                yield body
            start += len(rows)

    def history(self, item_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self._get(f"/v1/items/{item_id}/history").json()
        return body


def http_client(url: str, api_key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=_TIMEOUT)


# --- the audit state ---------------------------------------------------------------------


def load_state(path: Path) -> dict[str, Any]:
    """The audit state file, or a new one."""
    if not path.exists():
        return {"format": STATE_FORMAT, "logs": {}}
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OperationalError(f"cannot read the audit state {path}: {exc}") from None
    if state.get("format") != STATE_FORMAT or not isinstance(state.get("logs"), dict):
        raise OperationalError(f"{path} is not a Retrace audit state file")
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state atomically (a crash leaves the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _trusted_checkpoint(log: dict[str, Any], origin: str) -> Checkpoint | None:
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
            raise OperationalError(f"not a witness verifier key {vkey!r}: {exc}") from None
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
    http: httpx.Client,
    url: str,
    state_path: Path,
    *,
    check_entries: bool = False,
    pinned_key: str | None = None,
    witnesses: list[str] | None = None,
    show_progress: bool = False,
) -> str:
    """Audit a live log against what ``state_path`` remembers of it; returns the verdict.

    Checks the log key (trusted on first use), the latest checkpoint's signature and
    known cosignatures, and that it extends the last trusted checkpoint (RFC 9162
    consistency proof). With ``check_entries`` (``http`` sends a regulator's key) it
    fetches the entries since the last audit and checks their hashes, both chains and the
    recomputed root. The state advances only when everything holds.

    Raises:
        AuditFailure: the first thing wrong.
        OperationalError: the audit could not run.
    """
    client = LogClient(http)
    state = load_state(state_path)
    verifier, log, first_use = _trust_key(client, state, pinned_key)
    known = _witness_keys(sorted(set(log.get("witnesses", [])) | set(witnesses or [])))
    signed = open_checkpoint_note(client.checkpoint(), verifier, known)
    trusted = _trusted_checkpoint(log, verifier.name)
    said = [
        f"log {verifier.name}: checkpoint {signed.size} signed"
        + (f", cosigned by {', '.join(signed.cosigners)}" if signed.cosigners else "")
    ]
    if first_use:
        said.append(f"log key {log['log_key']} trusted on first use")
    if trusted is not None:
        if signed.size < trusted.size:
            raise AuditFailure(
                f"checkpoint {signed.size}",
                f"the log shows {signed.size} "
                f"entries, but {trusted.size} were seen before: a log never "
                "shrinks",
                size=signed.size,
            )
        proof = (
            client.consistency(trusted.size, signed.size) if 0 < trusted.size < signed.size else []
        )
        check_consistent(trusted, signed.checkpoint, proof)
        said.append(f"consistent with the trusted checkpoint {trusted.size}")
    if check_entries:
        said.append(_audit_entries(client, log, signed, show_progress))
    log["witnesses"] = [w.vkey for w in known]
    _advance(log, signed, url)
    save_state(state_path, state)
    return "ok: " + "; ".join(said)


def _audit_entries(
    client: LogClient, log: dict[str, Any], signed: SignedCheckpoint, show_progress: bool
) -> str:
    """Verify the entries since the last verified size up to the new checkpoint."""
    saved = log.get("entries") or {"size": 0, "head": ZERO_HASH, "frontier": []}
    start = int(saved["size"])
    if start > signed.size:
        start, saved = 0, {"size": 0, "head": ZERO_HASH, "frontier": []}
    frontier = TreeFrontier(start, [bytes.fromhex(h) for h in saved["frontier"]])
    auditor = LogAuditor([signed], size=start, head=saved["head"], frontier=frontier)
    lines = client.entries(start, signed.size)
    if show_progress:
        with progress() as bar:
            task = bar.add_task("verifying entries", total=signed.size - start)
            for batch in _batched(lines, _PAGE):
                auditor.feed(batch)
                bar.advance(task, len(batch))
    else:
        for batch in _batched(lines, _PAGE):
            auditor.feed(batch)
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
    http: httpx.Client,
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
        OperationalError: the audit could not run.
    """
    client = LogClient(http)
    state = load_state(state_path)
    verifier, log, first_use = _trust_key(client, state, pinned_key)
    known = _witness_keys(sorted(set(log.get("witnesses", [])) | set(witnesses or [])))
    history = client.history(item_id)
    try:
        served = history["checkpoint"]
        signed = open_checkpoint_note(served["note"], verifier, known)
        entries, proofs = history["entries"], history["proofs"]
    except (KeyError, TypeError) as exc:
        raise OperationalError(f"the history answer lacks {exc}") from None
    if (served.get("size"), served.get("root")) != (signed.size, signed.root.hex()):
        raise AuditFailure(
            f"checkpoint {signed.size}",
            "the history states another size or root than its signed checkpoint",
            size=signed.size,
        )
    trusted = _trusted_checkpoint(log, verifier.name)
    said = []
    if trusted is not None:
        older, newer = sorted((trusted, signed.checkpoint), key=lambda c: c.size)
        proof = client.consistency(older.size, newer.size) if 0 < older.size < newer.size else []
        check_consistent(older, newer, proof)
        said.append(f"checkpoint {signed.size} is consistent with the trusted {trusted.size}")
    elif first_use:
        said.append(f"log key {log['log_key']} trusted on first use")
    report = verify_item_history(item_id, entries, proofs, signed.checkpoint)
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
