"""``retrace witness``: a regulator witnesses a log with no code of their own.

Owns the two commands and the witness's files:

* ``init`` writes an Ed25519 witness key as a C2SP signed-note signer key
  (``PRIVATE+KEY+<name>+<key ID>+<seed>``, mode 0600) and prints its
  tlog-cosignature/v1 verifier key (type 0x04);
* ``cosign`` fetches the log's latest checkpoint, checks its signature and, with the
  server's RFC 9162 consistency proof, that it extends the checkpoint this witness
  cosigned last (kept in a small state file), then posts the checkpoint with the
  witness's cosignature line (``POST /v1/log/cosign``), registering the witness key
  first if this log has not seen it (``POST /v1/log/witnesses``). ``--every`` repeats
  it. A checkpoint that does not extend the last one cosigned is refused: exit 1,
  nothing posted, the conflicting note kept in the state file as evidence.

The checks are ``ledger.verify.trust``'s; the GETs are ``ledger.verify.LogClient``'s.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from api.cli.audit import http_client, httpx_fetch
from api.cli.console import console, fail, out
from hashing import (
    HashingError,
    Signer,
    add_cosignature,
    generate_private_key,
    parse_signer_key,
    public_key_bytes,
    signer_key,
    witness_verifier_key,
)
from ledger.errors import AuditFailure, AuditUnavailableError
from ledger.verify import (
    LogClient,
    check_consistent,
    check_log_key,
    load_state,
    now_stamp,
    open_checkpoint_note,
    save_state,
    saved_checkpoint,
)

__all__ = ["STATE_FORMAT", "cosign_once", "witness_app"]

STATE_FORMAT = "retrace-witness-state/1"

witness_app = typer.Typer(
    help="Witness the log: cosign its checkpoints as a regulator.", no_args_is_help=True
)


def _config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "retrace"


KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        metavar="FILE",
        help="the witness key (default ~/.config/retrace/witness.key)",
        show_default=False,
    ),
]


# --- the key -----------------------------------------------------------------------------


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` with ``text``, mode 0600 from the start; never replace a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def read_signer(path: Path) -> Signer:
    """The witness key in ``path``; stops (exit 2, one line) if it is missing, readable by
    others, or not a signer key."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read the witness key {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise fail(f"the witness key {path} is readable by others: chmod 600 it") from None
    try:
        return parse_signer_key(text.strip())
    except HashingError as exc:
        raise fail(f"{path} is not a witness key: {exc}") from None


def _vkey(signer: Signer) -> str:
    return witness_verifier_key(signer.name, public_key_bytes(signer.private_key))


@witness_app.command("init")
def witness_init(
    name: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="the witness's key name, unique among the log's witnesses "
            "(default <host name>/witness)",
            show_default=False,
        ),
    ] = None,
    key_file: KeyFileOption = None,
) -> None:
    """Create a witness key and print its verifier key.

    The key is an Ed25519 signed-note signer key (mode 0600); an existing one is kept.
    """
    path = key_file or _config_dir() / "witness.key"
    if path.exists():
        signer = read_signer(path)
        console.print(f"a witness key exists already in {path}; its verifier key:")
        out.print(_vkey(signer), highlight=False)
        return
    key = generate_private_key()
    try:
        text = signer_key(name or f"{socket.gethostname()}/witness", key)
    except HashingError as exc:
        raise fail(str(exc)) from None
    try:
        _write_new(path, text + "\n")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None
    signer = parse_signer_key(text)
    console.print(f"witness key {signer.name} written to {path} (mode 0600). Its verifier key:")
    out.print(_vkey(signer), highlight=False)


# --- the state ---------------------------------------------------------------------------


# --- cosigning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Witness:
    """What a witness needs to cosign one log: its key, its state file, the server."""

    signer: Signer
    state_path: Path
    http: httpx.Client
    pinned_log_key: str | None = None


def _post(http: httpx.Client, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return http.post(path, **kwargs)
    except httpx.HTTPError as exc:
        raise AuditUnavailableError(f"cannot reach the server: {exc}") from None


def _refusal(response: httpx.Response, what: str) -> AuditUnavailableError:
    detail = response.text[:300]
    with contextlib.suppress(ValueError, AttributeError):
        detail = str(response.json().get("detail", detail))
    return AuditUnavailableError(f"{what} answered {response.status_code}: {detail}")


def _register(witness: Witness, log: dict[str, Any]) -> None:
    """Register the witness key with this log once (a name it holds already is fine:
    the cosignature then tells whether the key is this org's)."""
    vkey = _vkey(witness.signer)
    if vkey in log.get("registered", []):
        return
    answer = _post(witness.http, "/v1/log/witnesses", json={"vkey": vkey})
    if answer.status_code not in (201, 409):
        raise _refusal(answer, "POST /v1/log/witnesses")
    log["registered"] = sorted({*log.get("registered", []), vkey})


def cosign_once(witness: Witness) -> str:
    """Cosign the log's latest checkpoint if it extends the one cosigned last.

    Returns:
        What was done, in one line.

    Raises:
        AuditFailure: the checkpoint is badly signed, the log key changed, or it does
            not extend the last checkpoint cosigned (recorded in the state as evidence).
        AuditUnavailableError: the server or the state file cannot be used.
    """
    client = LogClient(httpx_fetch(witness.http))
    state = load_state(witness.state_path, STATE_FORMAT, "witness")
    served = client.log_key()
    origin = served.split("+", 1)[0]
    log: dict[str, Any] = state["logs"].setdefault(origin, {})
    if witness.pinned_log_key is not None:
        check_log_key(served, witness.pinned_log_key)
    verifier = check_log_key(served, log.get("log_key"))
    note = client.checkpoint()
    signed = open_checkpoint_note(note, verifier)
    last = saved_checkpoint(log, verifier.name)
    if last is not None:
        try:
            if signed.size < last.size:
                raise AuditFailure.at_checkpoint(
                    signed.size,
                    f"the log shows {signed.size} entries, but this witness cosigned "
                    f"{last.size}: a log never shrinks",
                )
            proof = client.consistency(last.size, signed.size) if last.size < signed.size else []
            check_consistent(last, signed.checkpoint, proof)
        except AuditFailure as exc:
            conflicts = log.setdefault("conflicts", [])
            conflicts.append({"note": note, "reason": str(exc), "seen_at": now_stamp()})
            save_state(witness.state_path, state)
            raise
        if signed.size == last.size:
            return f"{origin}: checkpoint {signed.size} is the one cosigned last; nothing to do"
    _register(witness, log)
    signer = witness.signer
    cosigned = add_cosignature(note, signer.name, signer.private_key, int(time.time()))
    answer = _post(
        witness.http,
        "/v1/log/cosign",
        content=cosigned.encode("utf-8"),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    if answer.status_code != 200:
        raise _refusal(answer, "POST /v1/log/cosign")
    log["log_key"] = served
    log["checkpoint"] = {
        "size": signed.size,
        "root": signed.root.hex(),
        "note": cosigned,
        "cosigned_at": now_stamp(),
    }
    save_state(witness.state_path, state)
    extends = f", extending {last.size}" if last is not None else " (the first one)"
    return f"{origin}: cosigned checkpoint {signed.size}{extends}"


@witness_app.command("cosign")
def witness_cosign(
    server: Annotated[str, typer.Option(metavar="URL", help="the log's server")],
    key: Annotated[
        str,
        typer.Option(
            envvar="RETRACE_API_KEY",
            metavar="KEY",
            help="a regulator's API key",
            show_default=False,
        ),
    ],
    key_file: KeyFileOption = None,
    state: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="what this witness cosigned (default ~/.config/retrace/witness-state.json)",
            show_default=False,
        ),
    ] = None,
    log_key: Annotated[
        str | None,
        typer.Option(metavar="VKEY", help="the log's verifier key, learnt out of band"),
    ] = None,
    every: Annotated[
        float | None,
        typer.Option(min=1, metavar="SECONDS", help="cosign again every SECONDS, until stopped"),
    ] = None,
) -> None:
    """Cosign the log's latest checkpoint if it extends the last one cosigned.

    Refuses, exit 1, a checkpoint inconsistent with the last one cosigned.
    """
    signer = read_signer(key_file or _config_dir() / "witness.key")
    state_path = state or _config_dir() / "witness-state.json"
    with http_client(server, key) as http:
        witness = Witness(signer, state_path, http, log_key)
        try:
            _cosign_until_stopped(witness, server, every)
        except KeyboardInterrupt:
            return


def _cosign_until_stopped(witness: Witness, server: str, every: float | None) -> None:
    while True:
        try:
            out.print(cosign_once(witness), highlight=False)
        except AuditFailure as exc:
            console.print(
                f"REFUSED to cosign: {exc.subject}: {exc.reason}\n"
                f"Nothing was cosigned for the log at {server}. {witness.state_path} keeps "
                "the checkpoint this witness cosigned last and any that conflicts with it.",
                markup=False,
            )
            raise typer.Exit(1) from None
        except AuditUnavailableError as exc:
            if every is None:
                raise fail(str(exc)) from None
            console.print(f"error: {exc} (trying again in {every:g} s)", markup=False)
        if every is None:
            return
        time.sleep(every)
