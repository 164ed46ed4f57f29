"""Hostile JSON bodies, refused before anything parses them into a model.

Owns ``read_checked``, the check every JSON request body (``application/json``,
any ``+json`` type, JSON Lines, or no ``Content-Type``, which FastAPI reads as JSON)
passes (in ``api.edge.Edge``) before a route sees it. The body, bounded in size and
time as it is read (``api.edge``), is read whole and checked:

* it is UTF-8 (RFC 8259 §8.1), or the answer is 400 ``malformed-json`` naming the
  offset of the first byte that is not;
* no object in it, at any depth, repeats a key, or the answer is 400 ``duplicate-key``
  naming the key and the pointer of its object (RFC 8259 §4 leaves such an object's
  meaning to the parser; the ledger signs one meaning, so it accepts none);
* it fits ``ledger.limits.BODY`` (nesting, keys, string lengths, array lengths), or the
  answer is 422 ``limit-exceeded`` naming the limit and the pointer where it is broken
  (and, in JSON Lines, the line), even when it is nested too deep to parse at all.

A body that is not JSON at all is left to the route, which says what is wrong with it,
and so is a line of JSON Lines that is not JSON (the bulk routes refuse it alone). The
check runs on a worker thread for bodies over 64 KiB, so a large body never holds up the
event loop, and in time linear in the body: nesting is bounded before anything recursive
(pydantic, the canonical encoder) sees the value. The free-form parts of a body have
tighter limits of their own (``ledger.limits.FREE_FORM``), checked by their payload models.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.bulk import is_json_lines
from api.problems import Message, Receive, Scope, problem, problem_response
from hashing import json_lines
from ledger.limits import BODY, Excess, find_excess, fits, pointer_of

__all__ = ["check_body", "read_checked"]

_INLINE_BYTES = 64 * 1024
_UNBOUNDED = sys.maxsize


class _Pairs(dict[str, Any]):
    """An object whose members repeat a key (the first repeated key is ``repeated``)."""

    repeated: str


def _object(pairs: list[tuple[str, Any]], repeats: list[_Pairs]) -> dict[str, Any]:
    made = dict(pairs)
    if len(made) == len(pairs):
        return made
    marked = _Pairs(made)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.repeated = key
            break
        seen.add(key)
    repeats.append(marked)
    return marked


def _decoder(repeats: list[_Pairs]) -> json.JSONDecoder:
    """The routes' own parser (``json.loads``), with every object's members seen and
    each object that repeats a key put in ``repeats``: anything the routes read, this
    reads the same, so no body reaches a route unchecked."""
    return json.JSONDecoder(object_pairs_hook=lambda pairs: _object(pairs, repeats))


@dataclass(frozen=True)
class Refusal:
    """Why a body is refused: status, problem code, title, detail and extra fields."""

    status: int
    code: str
    title: str
    detail: str
    extra: dict[str, Any]


def _duplicate(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """The path of the first object (document order) that repeats a key, and the key."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Pairs):
            return path, node.repeated
        if isinstance(node, dict):
            stack.extend((node[k], (*path, k)) for k in reversed(node))
        elif isinstance(node, list):
            stack.extend((node[i], (*path, i)) for i in range(len(node) - 1, -1, -1))
    return None


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def _deep_path(text: str, depth: int) -> tuple[str | int, ...]:
    """The path to the first container nested deeper than ``depth`` in ``text`` (JSON too
    deep to parse): a scan of its tokens that follows keys and indexes and stops there."""
    frames: list[list[Any]] = []  # [kind, the key or index being read, expecting a key]
    for match in _TOKEN.finditer(text):
        lexeme = match.group()
        if lexeme in "[{":
            if len(frames) >= depth:
                break
            frames.append([lexeme, "" if lexeme == "{" else 0, lexeme == "{"])
        elif lexeme in "]}":
            if frames:
                frames.pop()
        elif lexeme == ",":
            if frames and frames[-1][0] == "[":
                frames[-1][1] += 1
            elif frames:
                frames[-1][2] = True
        elif lexeme.startswith('"') and frames and frames[-1][2]:
            frames[-1][1] = json.loads(lexeme)
            frames[-1][2] = False
    return tuple(frame[1] for frame in frames)


def _check_value(
    value: Any, repeats: list[_Pairs], root_items: int, line: int | None
) -> Refusal | None:
    where = {} if line is None else {"line": line}
    if repeats:
        found = _duplicate(value)
        assert found is not None  # noqa: S101 - the parser saw one
        path, key = found
        pointer = pointer_of(path)
        return Refusal(
            400,
            "duplicate-key",
            "Duplicate key",
            f"{pointer}: the key {key!r} appears more than once in this object",
            {"pointer": pointer, "key": key, **where},
        )
    if fits([value], BODY, root_items=root_items):
        return None
    excess = find_excess(value, BODY, root_items=root_items)
    return None if excess is None else _limit(excess, where)


def _limit(excess: Excess, where: dict[str, Any]) -> Refusal:
    pointer = excess.pointer()
    return Refusal(
        422,
        "limit-exceeded",
        "Limit exceeded",
        f"{pointer}: {excess.detail} (the {BODY.what}'s {excess.limit} limit)",
        {"pointer": pointer, "limit": excess.limit, "bound": excess.bound, **where},
    )


def check_body(raw: bytes, lines: bool) -> Refusal | None:
    """Why ``raw``, a JSON (``lines``: JSON Lines) body, is refused, or None.

    A body or line that is not JSON is not refused here: the route says why it is not.
    The outermost array of a body is not bounded here: a route bounds its own (the lines
    of a bulk request, ``max_bulk_lines``), within the body's size.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Refusal(
            400,
            "malformed-json",
            "Malformed JSON",
            f"the body is not UTF-8 text: byte {exc.start} cannot be decoded (RFC 8259 §8.1)",
            {"offset": exc.start},
        )
    text = text.removeprefix("\ufeff")  # RFC 8259 §8.1: a parser may ignore it; the routes do
    parts = list(enumerate(json_lines(text), 1)) if lines else [(None, text)]
    for number, part in parts:
        if lines and not part.strip():
            continue
        repeats: list[_Pairs] = []
        try:
            value = _decoder(repeats).decode(part)
        except RecursionError:
            path = _deep_path(part, BODY.depth)
            excess = Excess("depth", BODY.depth, path, f"nested deeper than {BODY.depth} levels")
            return _limit(excess, {} if number is None else {"line": number})
        except ValueError:
            continue  # not JSON: the route refuses it, saying why
        bound = _UNBOUNDED if number is None else BODY.items
        refusal = _check_value(value, repeats, bound, number)
        if refusal is not None:
            return refusal
    return None


def _is_json(content_type: str) -> tuple[bool, bool]:
    """Whether a body of ``content_type`` is JSON, and whether it is JSON Lines."""
    kind = content_type.split(";", 1)[0].strip().lower()
    lines = is_json_lines(kind)  # as the bulk routes read them
    return (not kind or "json" in kind, lines)


async def read_checked(
    scope: Scope, receive: Receive, headers: dict[bytes, bytes]
) -> tuple[Receive, JSONResponse | None]:
    """Read and check a JSON request body before the app sees it.

    Returns the ``receive`` the app reads the body from (the body read here, then the
    server's own messages), and the problem+json answer if the body is refused (then
    the app is not called). Bodies that are not JSON, and requests that carry none,
    are left to the app.
    """
    if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
        return receive, None
    is_json, lines = _is_json(headers.get(b"content-type", b"").decode("latin-1"))
    if not is_json:
        return receive, None
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return _replay([], message, receive), None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    raw = b"".join(chunks)
    if len(raw) > _INLINE_BYTES:
        refusal = await run_in_threadpool(check_body, raw, lines)
    else:
        refusal = check_body(raw, lines) if raw else None
    if refusal is None:
        return _replay([raw], None, receive), None
    body = problem(
        refusal.status,
        refusal.code,
        refusal.title,
        refusal.detail,
        scope.get("path"),
        **refusal.extra,
    )
    return receive, problem_response(refusal.status, body)


def _replay(bodies: list[bytes], held: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that gives the body read (or the message held) first, then the
    server's own messages (a disconnect)."""
    pending: list[Message] = [
        {"type": "http.request", "body": body, "more_body": False} for body in bodies
    ]
    if held is not None:
        pending.append(held)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
