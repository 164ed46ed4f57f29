"""Verifying the log: one entry check, and every verifier built on it.

This package owns how Retrace checks what it (or another copy of its log) shows. Every
verifier runs the one entry check (``entry``, with ``batch``, the same check of a whole
batch at once): canonical RFC 8785 bytes in the entry format, leaf hash, seq, ``prev`` and
``item_prev`` links. On top of it:

* ``log``: ``verify_log`` and its ``ChainVerifier``, the server's ``verify`` of a store;
* ``audit``: ``check_block`` and ``LogAuditor``, the offline audit of a stream of entries,
  its Merkle tree (``hashing.TreeFrontier``) and the checkpoints' roots;
* ``trust``: checkpoint signatures and cosignatures, the log key, consistency proofs;
* ``history``: ``verify_item_history``, one item's history, for the auditor and the
  passport page alike;
* ``bundle``, ``client`` and ``live``: the offline bundle (write, audit), a live server
  over HTTP, and the auditor's state. These do I/O (files, a ``Fetch`` the caller can
  give); the modules above are pure.

Every finding is an ``ledger.errors.AuditFailure`` naming the entry's seq, a checkpoint's
size or the thing audited, and why; ``AuditUnavailableError`` means an audit could not
run. Nothing here imports a web framework: a regulator can use it as a library.
"""

from ledger.verify.audit import AuditSummary, BlockResult, LogAuditor, check_block, check_text_block
from ledger.verify.bundle import (
    BUNDLE_FORMAT,
    Tick,
    audit_bundle,
    bundle_size,
    export_store,
    now_stamp,
    start_bundle,
    write_bundle,
)
from ledger.verify.client import PAGE, Fetch, LogClient, export_server, url_fetch
from ledger.verify.entry import (
    Columns,
    EntryRun,
    FirstLinks,
    check_entries,
    check_entry,
    entry_bytes,
)
from ledger.verify.history import ItemReport, verify_item_history
from ledger.verify.live import (
    STATE_FORMAT,
    Progress,
    audit_item,
    audit_server,
    load_state,
    save_state,
    saved_checkpoint,
)
from ledger.verify.log import ChainVerifier, VerifyReport, verify_log
from ledger.verify.trust import (
    SignedCheckpoint,
    check_consistent,
    check_log_key,
    open_checkpoint_note,
    open_checkpoints,
)

__all__ = [
    "BUNDLE_FORMAT",
    "PAGE",
    "STATE_FORMAT",
    "AuditSummary",
    "BlockResult",
    "ChainVerifier",
    "Columns",
    "EntryRun",
    "Fetch",
    "FirstLinks",
    "ItemReport",
    "LogAuditor",
    "LogClient",
    "Progress",
    "SignedCheckpoint",
    "Tick",
    "VerifyReport",
    "audit_bundle",
    "audit_item",
    "audit_server",
    "bundle_size",
    "check_block",
    "check_consistent",
    "check_entries",
    "check_entry",
    "check_log_key",
    "check_text_block",
    "entry_bytes",
    "export_server",
    "export_store",
    "load_state",
    "now_stamp",
    "open_checkpoint_note",
    "open_checkpoints",
    "save_state",
    "saved_checkpoint",
    "start_bundle",
    "url_fetch",
    "verify_item_history",
    "verify_log",
    "write_bundle",
]
