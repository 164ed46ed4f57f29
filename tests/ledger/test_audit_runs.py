"""The auditor's in-process ``feed`` and its bundle reader, against ``check_block`` + ``join``.

``feed`` checks entries here in runs, each against the entries before it; the same entries
checked in blocks apart (``check_block``, as worker processes do) and joined in order must
give the same verdict: the same first bad entry or checkpoint, or the same summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from hashing import (
    checkpoint_body,
    generate_private_key,
    leaf_hash,
    parse_verifier_key,
    public_key_bytes,
    root_from_leaves,
    sign_note,
    verifier_key,
)
from ledger.chain import ZERO_HASH, build_entry
from ledger.errors import AuditFailure
from ledger.verify import LogAuditor, check_block, open_checkpoints
from ledger.verify import bundle as bundle_module
from ledger.verify.trust import SignedCheckpoint

T0 = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
NAME = "runs.example/log"


def make_lines(count: int) -> list[bytes]:
    prev, heads, lines = ZERO_HASH, dict[str, str](), []
    for seq in range(count):
        item = None if seq % 7 == 6 else f"itm_{seq % 40 if seq % 3 else seq}"
        entry = build_entry(
            seq=seq,
            now=T0,
            actor="org_A",
            item=item,
            type="registered",
            data={"n": seq, "mass_kg": "2.25"},
            prev=prev,
            item_prev=heads.get(item) if item else None,
        )
        prev = entry.hash
        if item:
            heads[item] = entry.hash
        lines.append(entry.body)
    return lines


def signed(
    lines: list[bytes], sizes: list[int], wrong: int | None = None
) -> list[SignedCheckpoint]:
    key = generate_private_key()
    leaves = [leaf_hash(line) for line in lines]
    notes = []
    for size in sizes:
        root = root_from_leaves(leaves[: size - 1 if size == wrong else size])
        notes.append((str(size), sign_note(checkpoint_body(NAME, size, root), NAME, key)))
    return open_checkpoints(notes, parse_verifier_key(verifier_key(NAME, public_key_bytes(key))))


def verdict(run: Callable[[], LogAuditor]) -> tuple[str, ...]:
    try:
        summary = run().finish()
    except AuditFailure as exc:
        return ("failed", str(exc))
    return ("ok", summary.head, summary.root.hex(), str(summary.items))


def fed(checkpoints: list[SignedCheckpoint], lines: list[bytes], step: int) -> LogAuditor:
    auditor = LogAuditor(checkpoints)
    for start in range(0, len(lines), step):
        auditor.feed(lines[start : start + step])
    return auditor


def joined(checkpoints: list[SignedCheckpoint], lines: list[bytes], step: int) -> LogAuditor:
    auditor = LogAuditor(checkpoints)
    for start in range(0, len(lines), step):
        block = lines[start : start + step]
        auditor.join(check_block(start, block, auditor.stops(len(block), start)))
    return auditor


CHANGES: dict[str, Callable[[list[bytes]], None]] = {
    "none": lambda lines: None,
    "byte": lambda lines: lines.__setitem__(1500, lines[1500].replace(b'"n":', b'"n": ')),
    "item link": lambda lines: lines.__setitem__(
        2101, lines[2101].replace(b'"item_prev":"', b'"item_prev":"0')
    ),
    "dropped": lambda lines: lines.__delitem__(1030),
    "swapped": lambda lines: lines.insert(700, lines.pop(701)),
    "repeated item": lambda lines: lines.__setitem__(
        2300, lines[2300].replace(b'"item_prev":"', b'"item_prev":null,"x":"')
    ),
}


@pytest.mark.parametrize("step", [1000, 1024, 2500, 5000])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_feed_and_joined_blocks_agree(change: str, step: int) -> None:
    lines = make_lines(2600)
    sizes = [1, 1024, 1500, 2048, 2600]
    CHANGES[change](lines)
    for wrong in (None, 1024, 2048):
        checkpoints = signed(lines, sizes, wrong)
        expected = verdict(partial(joined, checkpoints, lines, step))
        assert verdict(partial(fed, checkpoints, lines, step)) == expected
        assert (expected[0] == "ok") == (change == "none" and wrong is None)


def test_a_resumed_feed_counts_links_it_cannot_check() -> None:
    lines = make_lines(3000)
    first = LogAuditor()
    first.feed(lines[:1100])
    resumed = LogAuditor(size=first.size, head=first.head, frontier=first.frontier.copy())
    resumed.feed(lines[1100:])
    whole = LogAuditor()
    whole.feed(lines)
    summary = resumed.finish()
    assert (summary.root, summary.head) == (whole.finish().root, whole.head)
    firsts: dict[str, str | None] = {}
    for line in lines[1100:]:
        fields = json.loads(line)
        if fields["item"] is not None:
            firsts.setdefault(fields["item"], fields["item_prev"])
    # Each item seen before the resumed position links to an entry the audit did not see.
    assert summary.unchecked_item_links == sum(link is not None for link in firsts.values())
    assert summary.unchecked_item_links > 0


@pytest.mark.parametrize("block", [1, 7, 100, 361, 4096])
@pytest.mark.parametrize(
    "text",
    [b"", b"a", b"a\n", b"a\nb", b"a\nb\n", b"\n", b"\n\n", b"a\n\nb\n\n", b"x" * 1000 + b"\ny"],
)
def test_the_bundle_reader_gives_every_line(
    text: bytes, block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "entries.jsonl"
    path.write_bytes(text)
    monkeypatch.setattr(bundle_module, "_LINES_BLOCK", block)
    read = [line for lines in bundle_module._read_lines(path) for line in lines]
    # Lines end with a newline; text after the last one is a last line of its own.
    expected = text.split(b"\n")
    if text.endswith(b"\n") or not text:
        expected.pop()
    assert read == expected
