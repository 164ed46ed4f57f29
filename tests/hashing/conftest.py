"""Fixtures for the hashing tests: where the shared test vectors live."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hashing import vectors


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The shared vectors folder (``../shared/vectors`` beside the repository root).

    Skips the test with a reason when the folder is missing, or fails it when the ``CI``
    environment variable is set.
    """
    vectors.require_vectors()
    return vectors.VECTORS_DIR
