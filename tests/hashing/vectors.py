"""Loading the shared test vectors (../shared/vectors, next to the repository root).

Vector files are read in place. When the folder is missing, tests that need it are
skipped with a reason, except when the ``CI`` environment variable is set: then they fail,
so a CI run never passes without its vectors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

VECTORS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"


def require_vectors() -> None:
    """Skip the current test if the vectors are missing (fail instead under CI)."""
    if VECTORS_DIR.is_dir():
        return
    missing = f"shared test vectors not found at {VECTORS_DIR}"
    if os.environ.get("CI"):
        pytest.fail(f"{missing} (CI is set, so this is an error)")
    pytest.skip(missing)


def load(name: str) -> Any:
    """Parse one vector file, or return None if the vectors folder is missing."""
    path = VECTORS_DIR / name
    if not VECTORS_DIR.is_dir():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def cases(name: str, select: Callable[[Any], Iterable[tuple[str, Any]]]) -> list[Any]:
    """``pytest.param`` list of ``(id, case)`` pairs picked from a vector file.

    When the folder is missing a single placeholder case is returned; tests that use it
    must request the ``vectors_dir`` fixture, which skips or fails.
    """
    data = load(name)
    if data is None:
        return [pytest.param(None, id="vectors-missing")]
    return [pytest.param(case, id=case_id) for case_id, case in select(data)]
