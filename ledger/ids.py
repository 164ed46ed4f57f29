"""Server ids: a prefix and a sortable unique id (ULID layout).

``itm_01JD8Z3K5V7W9XQRSTABCDEFGH``: 48 bits of milliseconds then 80 random
bits in Crockford base32, so ids sort by creation time. ``format_id`` is
pure; ``IdSource`` reads the clock and the OS random source, and is handed
to the service so tests can pass a deterministic one.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_RE = re.compile(r"^(itm|org|key)_[0-9A-HJKMNP-TV-Z]{26}$")


def format_id(prefix: str, millis: int, random80: int) -> str:
    """``prefix_`` + 26 Crockford base32 characters (ULID layout)."""
    value = (millis & ((1 << 48) - 1)) << 80 | (random80 & ((1 << 80) - 1))
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


class IdSource:
    """Makes fresh ids from a millisecond clock and a random source."""

    def __init__(
        self,
        millis: Callable[[], int] | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._millis = millis or (lambda: time.time_ns() // 1_000_000)
        self._random = random_bytes

    def new(self, prefix: str) -> str:
        return format_id(prefix, self._millis(), int.from_bytes(self._random(10), "big"))
