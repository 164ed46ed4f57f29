"""Merkle tree maintenance, proof latency and offline audit speed, beside pymerkle.

Run by hand (not part of the test suite): ``python bench/proofs.py [--size 1000000]``.
Prints one table; every ratio is against a figure measured in the same run.

1. Appends: the same batches of entries (built with ``ledger.chain.build_entry``, not
   timed) go, interleaved batch by batch, to three SQLite files: ``Writer.append``
   (entries plus the perfect Merkle subtrees they complete, one transaction), a plain
   insert of the same rows into ``entries`` only (the same transaction, no tree), and
   pymerkle's ``SqliteTree.append_entries`` of the same canonical bytes.
2. Proofs at the full size: inclusion and consistency proofs at random sizes from the
   store (``Transparency.inclusion`` / ``.consistency``: a read transaction and O(log n)
   rows), and the same from pymerkle (which stores leaves only and caches subtree roots).
3. Audit: ``retrace export`` of the log to a bundle, then ``retrace audit`` of that
   bundle with one and two processes, beside its limit measured in the same run: reading
   the same file and SHA-256 of every line with the 0x00 leaf prefix, nothing else.
   Goal: 400,000 entries/s with one process.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hashing import (
    generate_private_key,
    save_private_key,
    verify_consistency,
    verify_inclusion,
)
from ledger.chain import ZERO_HASH, Entry, build_entry
from ledger.store.sql import SqlStore
from ledger.store.sql_log import insert_rows
from ledger.store.tables import EntryRow
from ledger.transparency import Transparency, tree_root

ACTORS = ("org_01JD8Z3K5V7W9XQRSTABCDEFGH", "org_01JD8Z3K5V7W9XQRSTABCDEFGJ")
AUDIT_GOAL = 400_000  # entries/s of ``retrace audit BUNDLE`` on one core
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@dataclass
class Row:
    what: str
    value: str
    limit: str = ""
    ratio: str = ""
    goal: str = ""
    notes: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, *args: str, **kwargs: str) -> None:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        print(f"  {row.what}: {row.value} {row.notes}", flush=True)

    def print(self) -> None:
        headers = ("what", "value", "limit", "ratio", "goal", "notes")
        table = [
            headers,
            *[(r.what, r.value, r.limit, r.ratio, r.goal, r.notes) for r in self.rows],
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
        print()
        for n, line in enumerate(table):
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
            if n == 0:
                print("  ".join("-" * w for w in widths))


def entries(size: int, batch: int) -> Iterator[list[Entry]]:
    """A realistic log: registrations, and events on items registered earlier."""
    rng = random.Random(7)
    prev, heads = ZERO_HASH, dict[str, str]()
    items: list[str] = []
    out: list[Entry] = []
    for seq in range(size):
        if items and seq % 4 == 3:
            item = rng.choice(items)
            entry = build_entry(
                seq=seq,
                now=NOW,
                actor=ACTORS[1],
                item=item,
                type="collected",
                data={"site": "Dock 3", "mass_kg": "410.2"},
                prev=prev,
                item_prev=heads[item],
            )
        else:
            item = f"itm_01JD8Z3K5V7W9X{seq:010d}"
            items.append(item)
            entry = build_entry(
                seq=seq,
                now=NOW,
                actor=ACTORS[0],
                item=item,
                type="registered",
                data={
                    "kind": "pv_module",
                    "code": f"JA-2019-{seq:08d}",
                    "attributes": {"mass_kg": "22.5", "model": "JAM72S30"},
                },
                prev=prev,
                item_prev=None,
            )
        prev, heads[item] = entry.hash, entry.hash
        out.append(entry)
        if len(out) == batch:
            yield out
            out = []
    if out:
        yield out


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def bench_appends(args: argparse.Namespace, work: Path, report: Report) -> tuple[SqlStore, Any]:
    import pymerkle

    stores = {}
    for name in ("tree", "plain"):
        store = SqlStore(f"sqlite:///{work / f'{name}.db'}")
        store.migrate()
        stores[name] = store
    peer = pymerkle.SqliteTree(str(work / "pymerkle.db"))
    # Give the peer the same durability as the ledger's SQLite (WAL, synchronous=FULL).
    peer.con.execute("PRAGMA journal_mode=WAL")
    peer.con.execute("PRAGMA synchronous=FULL")
    spent = {"tree": 0.0, "plain": 0.0, "pymerkle": 0.0}
    done = 0
    for batch in entries(args.size, args.batch):
        rows = [
            {
                "seq": e.seq,
                "hash": e.hash,
                "ts": e.ts,
                "actor": e.actor,
                "item": e.item,
                "type": e.type,
                "body": e.body,
            }
            for e in batch
        ]
        bodies = [e.body for e in batch]

        def with_tree(batch: list[Entry] = batch) -> None:
            with stores["tree"].writer() as w:
                w.append(batch, expected_size=batch[0].seq)

        def plain(rows: list[dict[str, Any]] = rows) -> None:
            # The entries as Writer.append inserts them (ledger.store.sql_log.insert_rows).
            with stores["plain"].writer() as w:
                insert_rows(w.conn, EntryRow.__table__, rows)  # type: ignore[attr-defined]

        def peer_append(bodies: list[bytes] = bodies) -> None:
            peer.append_entries(bodies)

        # Interleaved, in turns, so the three share whatever else the machine is doing.
        runs: list[tuple[str, Callable[[], None]]] = [
            ("tree", with_tree),
            ("plain", plain),
            ("pymerkle", peer_append),
        ]
        turn = (done // args.batch) % len(runs)
        for name, fn in runs[turn:] + runs[:turn]:
            spent[name] += timed(fn)
        done += len(batch)
        if done % (args.batch * 20) == 0:
            print(f"  appended {done:,} ({rate(done, spent['tree'])} with the tree)", flush=True)
    tree, plain_rate = done / spent["tree"], done / spent["plain"]
    report.add(
        "append with tree (Writer.append)",
        rate(done, spent["tree"]),
        limit=f"{plain_rate:,.0f}/s",
        ratio=f"{tree / plain_rate:.2f}",
        goal=">= 0.80",
        notes=f"{done:,} entries, batches of {args.batch:,}; limit = entries-only insert",
    )
    report.add(
        "append, pymerkle SqliteTree",
        rate(done, spent["pymerkle"]),
        limit=f"{plain_rate:,.0f}/s",
        ratio=f"{done / spent['pymerkle'] / plain_rate:.2f}",
        notes="append_entries per batch; it stores leaves only, no tree nodes",
    )
    stores["plain"].dispose()
    return stores["tree"], peer


def bench_proofs(args: argparse.Namespace, store: SqlStore, peer: Any, report: Report) -> None:
    size = args.size
    tlog = Transparency(store, generate_private_key(), "bench.example/log", lambda: NOW)
    rng = random.Random(11)
    with store.reader() as r:
        root = tree_root(r, size)
    assert bytes(peer.get_root(size)) == root, "pymerkle and Retrace disagree on the root"
    inclusion: list[float] = []
    consistency: list[float] = []
    for _ in range(args.queries):
        n = rng.randint(1, size)
        index = rng.randrange(n)
        m = rng.randint(1, n)
        inclusion.append(timed(tlog.inclusion, index, n))
        consistency.append(timed(tlog.consistency, m, n))
    # Spot-check the proofs served.
    with store.reader() as r:
        for _ in range(20):
            n = rng.randint(2, size)
            index, m = rng.randrange(n), rng.randint(1, n - 1)
            root_n, root_m = tree_root(r, n), tree_root(r, m)
            proof = tlog.inclusion(index, n)
            verify_inclusion(
                index,
                n,
                bytes.fromhex(proof.leaf_hash),
                [bytes.fromhex(p) for p in proof.proof],
                root_n,
            )
            verify_consistency(
                m, n, [bytes.fromhex(p) for p in tlog.consistency(m, n).proof], root_m, root_n
            )
    for name, values in (("inclusion proof", inclusion), ("consistency proof", consistency)):
        report.add(
            f"{name} at {size:,}",
            f"p50 {ms(statistics.median(values))}",
            goal="< 1 ms",
            notes=f"p99 {ms(pct(values, 0.99))}, {len(values)} random "
            "sizes, SQLite, through Transparency (read txn + O(log n) rows)",
        )

    import pymerkle

    fresh = pymerkle.SqliteTree(peer.dbfile)
    n = rng.randint(size // 2, size)
    cold = timed(fresh.prove_inclusion, rng.randrange(n) + 1, n)
    peer_inclusion: list[float] = []
    peer_consistency: list[float] = []
    deadline = time.monotonic() + args.peer_seconds
    while time.monotonic() < deadline and len(peer_inclusion) < args.queries:
        n = rng.randint(1, size)
        m = rng.randint(1, n)
        peer_inclusion.append(timed(fresh.prove_inclusion, rng.randrange(n) + 1, n))
        peer_consistency.append(timed(fresh.prove_consistency, m, n))
    fresh.close()
    for name, values in (("inclusion", peer_inclusion), ("consistency", peer_consistency)):
        report.add(
            f"pymerkle {name} proof at {size:,}",
            f"p50 {ms(statistics.median(values))}",
            notes=f"p99 {ms(pct(values, 0.99))}, {len(values)} random sizes in "
            f"{args.peer_seconds:.0f} s, subroot cache warm; first (cold) {ms(cold)}",
        )


def bench_audit(args: argparse.Namespace, store: SqlStore, work: Path, report: Report) -> None:
    from api.cli.audit import export_database
    from api.settings import get_settings
    from ledger.verify import audit_bundle

    key_file = work / "log.key"
    if not key_file.exists():
        save_private_key(generate_private_key(), key_file)
    os.environ.update(
        {
            "RETRACE_DATABASE_URL": store.url,
            "RETRACE_LOG_KEY_FILE": str(key_file),
            "RETRACE_ENVIRONMENT": "test",
        }
    )
    get_settings.cache_clear()
    bundle = work / "bundle"
    if bundle.exists():
        shutil.rmtree(bundle)
    spent = timed(export_database, bundle, publish=True, tick=lambda _: None)
    report.add(
        "retrace export (SQLite -> bundle)",
        rate(args.size, spent),
        notes=f"{(bundle / 'entries.jsonl').stat().st_size / 1e6:,.0f} MB entries.jsonl",
    )

    def read_and_hash() -> None:
        """The limit: read the bundle's entries and SHA-256 each with the 0x00 prefix."""
        sha = hashlib.sha256
        carry = b""
        with (bundle / "entries.jsonl").open("rb") as handle:
            while block := handle.read(1 << 23):
                lines = (carry + block).split(b"\n")
                carry = lines.pop()
                for line in lines:
                    sha(b"\x00" + line).digest()

    audits: dict[int, list[float]] = {1: [], 2: []}
    limits: list[float] = []
    # This process's CPU time too: on a shared machine, less disturbed than wall time
    # (with two jobs, the workers' time is not this process's).
    cpu: dict[str, list[float]] = {"limit": [], "audit": []}
    for _ in range(args.repeats):
        # In turns, so that the audits and their limit share whatever else the machine does.
        gc.collect()
        cpu_start = time.process_time()
        limits.append(timed(read_and_hash))
        cpu["limit"].append(time.process_time() - cpu_start)
        for jobs, spent_list in audits.items():
            gc.collect()
            cpu_start = time.process_time()
            spent_list.append(timed(audit_bundle, bundle, jobs=jobs))
            if jobs == 1:
                cpu["audit"].append(time.process_time() - cpu_start)
    limit = args.size / min(limits)
    cpu_audit, cpu_limit = (args.size / min(cpu[key]) for key in ("audit", "limit"))
    for jobs, spent_list in audits.items():
        audit = args.size / min(spent_list)
        report.add(
            f"retrace audit BUNDLE --jobs {jobs}",
            f"{audit:,.0f}/s",
            limit=f"{limit:,.0f}/s",
            ratio=f"{audit / limit:.2f}",
            goal=f">= {AUDIT_GOAL:,}/s ({'ok' if audit >= AUDIT_GOAL else 'MISS'})"
            if jobs == 1
            else "",
            notes=f"best of {args.repeats}; limit = read entries.jsonl + SHA-256(0x00 || line) "
            "per line, one core, same run; audit = + RFC 8785 form, field types, seq, both "
            "chains, Merkle root at each checkpoint, signatures"
            + (
                f"; by CPU time {cpu_audit:,.0f}/s beside {cpu_limit:,.0f}/s "
                f"({cpu_audit / cpu_limit:.2f})"
                if jobs == 1
                else "; one process joins, the others check blocks"
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="entries in the log")
    parser.add_argument("--batch", type=int, default=10_000, help="entries per append")
    parser.add_argument("--queries", type=int, default=500, help="proofs of each kind")
    parser.add_argument(
        "--peer-seconds", type=float, default=60.0, help="time allowed for pymerkle's proofs"
    )
    parser.add_argument("--repeats", type=int, default=3, help="audit runs (best kept)")
    parser.add_argument("--workdir", type=Path, help="keep the databases here")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the logs a previous run left in --workdir (skip appends)",
    )
    parser.add_argument(
        "--audit-only", action="store_true", help="skip the proofs: export and audit only"
    )
    args = parser.parse_args()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="retrace-bench-") as scratch:
        work = args.workdir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        print(f"building a log of {args.size:,} entries in {work}", flush=True)
        if args.reuse and (work / "tree.db").exists():
            import pymerkle

            store = SqlStore(f"sqlite:///{work / 'tree.db'}")
            peer = pymerkle.SqliteTree(str(work / "pymerkle.db"))
        else:
            store, peer = bench_appends(args, work, report)
        if not args.audit_only:
            bench_proofs(args, store, peer, report)
        peer.close()
        bench_audit(args, store, work, report)
        store.dispose()
    report.print()
    import msgspec
    import orjson

    print(
        f"\nload average {os.getloadavg()[0]:.2f} (2 cores); Python {sys.version.split()[0]}, "
        f"msgspec {msgspec.__version__}, orjson {orjson.__version__} (the audit's decoders)"
    )


if __name__ == "__main__":
    main()
