"""``retrace events import``: record many items' lifecycle events from a file.

Owns reading the file (JSON Lines, or one JSON array, of ``{item, type, data}``
lines), sending it in batches, either to a server (``POST /v1/events/bulk`` with an
API key; each batch carries an ``Idempotency-Key`` made from its content, so a
batch sent again, after a lost answer or a second run, is recorded once) or to the
local database as an org (``ledger.items.record_many``), the progress bar, and the
report of refused lines by their line in the file. The rules are the ledger's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from api.cli.console import console, fail, open_ledger, out, progress_bar
from hashing import json_lines

__all__ = ["events_app"]

events_app = typer.Typer(help="Lifecycle events: record them in bulk.", no_args_is_help=True)

_TIMEOUT = 300.0
_TRIES = 3

# A batch's lines, each with its line number in the file; answers the per-line results
# (``{line, ok, item, seq, hash, created?, error?}``, lines numbered within the batch).
Send = Callable[[list[Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class _Line:
    number: int
    value: Any
    unreadable: str | None = None


def _read(path: Path) -> list[_Line]:
    """The file's lines: a JSON array by position, JSON Lines by line (blank ones skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {path}: {exc}") from None
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise fail(f"{path} is not a JSON array: {exc}") from None
        return [_Line(number, value) for number, value in enumerate(values, 1)]
    lines = []
    for number, row in enumerate(json_lines(text), 1):
        if not row.strip():
            continue
        try:
            lines.append(_Line(number, json.loads(row)))
        except (json.JSONDecodeError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            lines.append(_Line(number, None, f"line {number} is not JSON: {why}"))
    return lines


def _batches(lines: Sequence[_Line], size: int) -> Iterator[list[_Line]]:
    for start in range(0, len(lines), size):
        yield list(lines[start : start + size])


def _remote(url: str, key: str) -> tuple[httpx.Client, Send]:
    http = httpx.Client(
        base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=_TIMEOUT
    )

    def send(values: list[Any]) -> list[dict[str, Any]]:
        body = json.dumps(values, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": "events-import-" + hashlib.sha256(body).hexdigest()[:40],
        }
        for attempt in range(1, _TRIES + 1):
            try:
                answer = http.post("/v1/events/bulk", content=body, headers=headers)
            except httpx.TransportError as exc:
                if attempt == _TRIES:
                    raise fail(f"cannot reach {url}: {exc}") from None
            else:
                if answer.status_code != 503 or attempt == _TRIES:
                    break
            time.sleep(attempt)  # the same key: a retry is recorded once
        if answer.status_code != 200:
            raise fail(_refusal(answer))
        results: list[dict[str, Any]] = answer.json()["results"]
        return results

    return http, send


def _refusal(answer: httpx.Response) -> str:
    try:
        detail = answer.json().get("detail") or answer.text
    except ValueError:
        detail = answer.text
    hint = " (try a smaller --batch)" if answer.status_code == 413 else ""
    return f"the server refused the batch ({answer.status_code}): {detail}{hint}"


def _local(org: str) -> Send:
    from api import presenters
    from ledger import items, reads

    ledger = open_ledger()
    actor = reads.find_org(ledger.store, org)
    if actor is None:
        raise fail(f"no org {org!r} (give its id or name; `retrace orgs list` lists them)")

    def send(values: list[Any]) -> list[dict[str, Any]]:
        done = ledger.write(lambda tx: items.record_many(tx, actor, values))
        results: list[dict[str, Any]] = presenters.recorded(done)["results"]
        return results

    return send


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print(json.dumps(result, ensure_ascii=False), highlight=False, markup=False)
    elif not result["ok"]:
        error = result["error"]
        where = f" {error['pointer']}" if error.get("pointer") not in (None, "/") else ""
        out.print(
            f"line {result['line']}: {result.get('item') or '-'}{where}: "
            f"{error['detail']} ({error['code']})",
            highlight=False,
            markup=False,
        )


@events_app.command("import")
def import_events(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines (one {item, type, data} a line) or a JSON array of them",
            exists=True,
            dir_okay=False,
            metavar="FILE",
        ),
    ],
    url: Annotated[
        str | None, typer.Option(help="send to this server (with --key)", metavar="URL")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="RETRACE_API_KEY", metavar="KEY", help="the API key of the org recording them"
        ),
    ] = None,
    as_org: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="ORG",
            help="without --url: record them in the local database as this org (id or name)",
        ),
    ] = None,
    batch: Annotated[
        int,
        typer.Option(min=1, max=50_000, metavar="N", help="lines per request (or transaction)"),
    ] = 1000,
    as_json: Annotated[
        bool, typer.Option("--json", help="print every line's result as JSON Lines")
    ] = False,
) -> None:
    """Record many items' events, each line as POST /v1/items/{id}/events would.

    Lines are numbered as in the file; each refused line is printed with the reason, and
    the command exits 1 if any was refused. Running the same file again against a server
    records nothing twice: each batch carries an Idempotency-Key made from its content.
    """
    if (url is None) == (as_org is None):
        raise fail("give --url URL (with --key) to send to a server, or --as ORG to write locally")
    if url is not None and not key:
        raise fail("--url needs --key (or RETRACE_API_KEY): the API key of the recording org")
    lines = _read(file)
    if not lines:
        raise fail(f"no events in {file}")
    http, send = _remote(url, key or "") if url is not None else (None, _local(as_org or ""))
    accepted = refused = 0
    try:
        with progress_bar() as bar:
            task = bar.add_task("Recording events", total=len(lines))
            for chunk in _batches(lines, batch):
                readable = [line for line in chunk if line.unreadable is None]
                answers = iter(send([line.value for line in readable]) if readable else [])
                for line in chunk:
                    if line.unreadable is not None:
                        result: dict[str, Any] = {
                            "line": line.number,
                            "ok": False,
                            "item": None,
                            "error": {"code": "invalid-value", "detail": line.unreadable},
                        }
                    else:
                        result = {**next(answers), "line": line.number}
                    accepted += result["ok"]
                    refused += not result["ok"]
                    _report(result, as_json)
                bar.advance(task, len(chunk))
    finally:
        if http is not None:
            http.close()
    console.print(f"{accepted} recorded, {refused} refused, of {len(lines)} lines in {file}")
    if refused:
        raise typer.Exit(1)
