"""Loading the test vectors the repository carries in ``tests/vectors/``.

The folder is found from this file, not from the working directory, so the tests
read the same vectors wherever the checkout lives and whatever directory pytest
runs from. Where each file came from is written in ``tests/vectors/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"


def load(name: str) -> Any:
    """Parse one vector file."""
    return json.loads((VECTORS_DIR / name).read_text(encoding="utf-8"))


def cases(name: str, select: Callable[[Any], Iterable[tuple[str, Any]]]) -> list[Any]:
    """``pytest.param`` list of ``(id, case)`` pairs picked from a vector file."""
    return [pytest.param(case, id=case_id) for case_id, case in select(load(name))]
