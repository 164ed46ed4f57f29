"""tests/vectors/README.md accounts for every vector file, and pins each one's bytes."""

from __future__ import annotations

import hashlib
import re

from tests.hashing.vectors import VECTORS_DIR

README = VECTORS_DIR / "README.md"
# A row of the README's table: | `file` | origin | spec | status | `sha256` |
_ROW = re.compile(r"^\| `(?P<name>[^`]+)` \|.*\| `(?P<sha256>[0-9a-f]{64})` \|$")


def _listed() -> dict[str, str]:
    """File name -> SHA-256, from the README's table."""
    rows = [_ROW.match(line) for line in README.read_text(encoding="utf-8").splitlines()]
    return {row["name"]: row["sha256"] for row in rows if row}


def test_every_vector_file_is_listed_with_its_origin() -> None:
    listed = _listed()
    present = {p.name for p in VECTORS_DIR.iterdir() if p.is_file() and p != README}
    assert any(name.endswith(".json") for name in listed), "the README's table was not found"
    assert sorted(listed.keys() - present) == [], "listed in the README but not in the folder"
    assert sorted(present - listed.keys()) == [], "in the folder but not listed in the README"
    changed = [
        name
        for name, digest in listed.items()
        if hashlib.sha256((VECTORS_DIR / name).read_bytes()).hexdigest() != digest
    ]
    assert changed == [], "differs from the SHA-256 in the README (not a byte-identical copy)"
