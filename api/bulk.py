"""Bulk request bodies: a JSON array or JSON Lines, read into numbered lines.

Owns how ``POST /v1/items/bulk`` and ``POST /v1/events/bulk`` read their bodies
and number their lines: from 1, a JSON Lines body by its line in the text (blank
lines count, and are skipped), a JSON array by position. A line that is not JSON
becomes that line's refusal; a body that is neither form is refused whole, with
what to send instead. What each line means is the ledger's.

Also owns how a bulk body is written: in chunks of ``CHUNK_LINES`` lines, each
read (JSON Lines are kept as text and parsed a chunk at a time, by orjson where
it reads the same as ``json``) and committed in a transaction of its own. So
memory stays bounded by a chunk whatever the body, and a single write from anyone
else waits for one chunk at most, not for the whole upload. The answer is kept as
each chunk's results written as JSON, not a value per line. An idempotency key
covers every chunk (each keeps its own answer under a key derived from it), so a
retry after a failure part-way replays the chunks that were committed and writes
the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol, TypeVar

import orjson
from fastapi import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hashing import json_lines
from ledger.errors import ValidationError
from ledger.idempotency import Idempotency
from ledger.service import Ledger

__all__ = ["CHUNK_LINES", "JSON_LINES", "Lines", "is_json_lines", "read_lines", "write_in_chunks"]

CHUNK_LINES = 1000
"""Lines per transaction of a bulk write: about a tenth of a second of work."""

JSON_LINES = "application/x-ndjson"
_LINES_TYPES = ("ndjson", "jsonl", "json-seq")


@dataclass(frozen=True)
class Lines:
    """The lines of a bulk body and each line's number (from 1): JSON values (a
    JSON array), or each line's text still to parse (JSON Lines, ``texts``).

    Texts are plain strings, which the garbage collector never walks: a large
    body costs it nothing while its chunks are written.
    """

    values: list[Any]
    numbers: list[int]
    texts: bool = False


def is_json_lines(content_type: str) -> bool:
    """Whether ``content_type`` names JSON Lines (else a body is one JSON value)."""
    return any(name in content_type for name in _LINES_TYPES)


def read_lines(raw: bytes, content_type: str, what: str, limit: int) -> Lines:
    """The lines of a JSON array or a JSON Lines body (by ``Content-Type``).

    Args:
        what: what a line holds ("items", "events"), for messages.
        limit: the most lines one request may hold.

    Raises:
        ValidationError: the body is not a JSON array nor JSON Lines, holds no
            line or more than ``limit``.
    """
    if is_json_lines(content_type):
        lines = _json_lines(raw)
    else:
        values = _json_array(raw, what)
        lines = Lines(values, list(range(1, len(values) + 1)))
    if not lines.values:
        raise ValidationError(f"no {what} in the request", pointer="/")
    if len(lines.values) > limit:
        raise ValidationError(
            f"{len(lines.values)} {what}; at most {limit} in one request", pointer="/"
        )
    return lines


def _json_lines(raw: bytes) -> Lines:
    texts: list[str] = []
    numbers: list[int] = []
    for number, text in enumerate(json_lines(raw.decode("utf-8", errors="replace")), 1):
        if not text.strip():
            continue
        numbers.append(number)
        texts.append(text)
    return Lines(texts, numbers, texts=True)


def _parsed(lines: Lines, start: int, stop: int) -> list[Any]:
    """The values of lines ``start`` to ``stop`` (indexes), each text parsed (or
    made its refusal)."""
    if not lines.texts:
        return lines.values[start:stop]
    out: list[Any] = []
    for text, number in zip(lines.values[start:stop], lines.numbers[start:stop], strict=True):
        try:
            out.append(_loads(text))
        except (json.JSONDecodeError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            out.append(ValidationError(f"line {number} is not JSON: {why}", pointer="/"))
    return out


# Nineteen digits in a row: perhaps an integer beyond 64 bits, which orjson reads as a
# float and ``json`` as an int.
_LONG_DIGITS = re.compile(r"\d{19}")


def _loads(text: str) -> Any:
    """``json.loads(text)``, by orjson where it reads the same (tests/api/test_bulk_lines.py):
    a text with a run of 19 digits, or one orjson refuses (``NaN``, a lone surrogate
    escape, deep nesting, anything not JSON), goes to ``json``, which decides."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _json_array(raw: bytes, what: str) -> list[Any]:
    send = f"send a JSON array of {what}, or JSON Lines with `Content-Type: {JSON_LINES}`"
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            # The usual cause: JSON Lines sent as application/json.
            raise ValidationError(
                f"the body holds more than one JSON value (the next begins on line "
                f"{exc.lineno}): {send}",
                pointer="/",
            ) from None
        raise ValidationError(f"the body is not valid JSON: {exc}; {send}", pointer="/") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}", pointer="/") from None
    if not isinstance(parsed, list):
        raise ValidationError(send, pointer="/")
    return parsed


R = TypeVar("R", bound="Results")


class Results(Protocol):
    """A chunk's answer: ``Registered`` or ``Recorded`` of ``ledger.items``."""

    @property
    def accepted(self) -> int: ...


def _part(idempotency: Idempotency | None, index: int) -> Idempotency | None:
    """The key chunk ``index`` keeps its answer under: the request's own for the
    first (so a key reused for another request is refused before anything is
    written), derived from it for the others; all bound to the same fingerprint
    (the whole body), and at most 200 characters."""
    if idempotency is None or index == 0:
        return idempotency
    root = hashlib.sha256(idempotency.key.encode()).hexdigest()[:32]
    return replace(idempotency, key=f"bulk:{root}:{index}")


async def write_in_chunks(
    ledger: Ledger,
    write_many: Callable[..., R],
    kind: type[R],
    present: Callable[[R, Sequence[int]], dict[str, Any]],
    lines: Lines,
    idempotency: Idempotency | None,
    model: type[BaseModel],
    *,
    prepare: Callable[[list[Any]], list[Any]] | None = None,
    exclude_unset: bool = False,
) -> Response:
    """Write ``lines`` a chunk at a time, each chunk in its own transaction, and
    answer with every line's result in order (``present`` shapes a chunk's,
    ``model`` the whole answer).

    A chunk is parsed, and read by ``prepare`` (what needs no transaction), off the
    event loop and while the chunk before it is written. A refusal of the whole
    chunk (a store failure) stops there: the chunks before it stay written and a
    retry with the same idempotency key replays them.
    """
    starts = range(0, len(lines.values), CHUNK_LINES)

    def ready(start: int) -> list[Any]:
        values = _parsed(lines, start, start + CHUNK_LINES)
        return prepare(values) if prepare is not None else values

    answer = _Answer(model, exclude_unset)
    replayed = True
    coming = asyncio.ensure_future(run_in_threadpool(ready, starts[0]))
    for index, start in enumerate(starts):
        values = await coming
        if index + 1 < len(starts):
            coming = asyncio.ensure_future(run_in_threadpool(ready, starts[index + 1]))
        write = partial(write_many, lines=values)
        outcome = await run_in_threadpool(ledger.submit, write, kind, _part(idempotency, index))
        replayed = replayed and outcome.replayed
        answer.add(present(outcome.value, lines.numbers[start : start + CHUNK_LINES]))
    headers = {"Idempotent-Replayed": "true"} if replayed and idempotency is not None else {}
    return Response(answer.json(), media_type="application/json", headers=headers)


class _Answer:
    """The whole answer, ``{accepted, refused, results}`` by the route's documented
    model, gathered a chunk at a time.

    With ``exclude_unset`` a chunk's results are written as JSON at once, as
    ``present`` made them (fields in the model's order: the model's own bytes,
    tests/api/test_bulk_lines.py), so the answer holds bytes, not a dict per
    line, until it is sent; a chunk holding anything but plain JSON values goes
    through the model. Otherwise the model writes the whole answer at the end.
    """

    def __init__(self, model: type[BaseModel], exclude_unset: bool) -> None:
        self.model, self.exclude_unset = model, exclude_unset
        self.accepted = self.lines = 0
        self.parts: list[bytes] = []
        self.results: list[dict[str, Any]] = []

    def add(self, shaped: dict[str, Any]) -> None:
        self.accepted += shaped["accepted"]
        self.lines += len(shaped["results"])
        if not self.exclude_unset:
            self.results += shaped["results"]
            return
        written = _plain_json(shaped["results"])
        if written is None:
            body = {"accepted": 0, "refused": 0, "results": shaped["results"]}
            made = self.model.model_validate(body)
            dumped = made.model_dump(mode="json", by_alias=True, exclude_unset=True)
            written = orjson.dumps(dumped["results"])
        if len(written) > 2:
            self.parts.append(written[1:-1])  # inside the brackets

    def json(self) -> bytes:
        refused = self.lines - self.accepted
        if self.exclude_unset:
            head = b'{"accepted":%d,"refused":%d,"results":[' % (self.accepted, refused)
            return head + b",".join(self.parts) + b"]}"
        body = {"accepted": self.accepted, "refused": refused, "results": self.results}
        return self.model.model_validate(body).model_dump_json(by_alias=True).encode()


# Anything but plain JSON values (a datetime, a subclass, a dataclass) is refused, so
# the model writes it as it always has.
_PLAIN = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
_PLAIN |= orjson.OPT_PASSTHROUGH_DATACLASS


def _plain_json(body: Any) -> bytes | None:
    """``body`` as JSON when it holds only plain JSON values, else None."""
    try:
        return orjson.dumps(body, option=_PLAIN)
    except orjson.JSONEncodeError:
        return None
