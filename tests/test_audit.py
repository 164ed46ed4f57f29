"""Offline and live audits: ``retrace export``, ``retrace audit`` and ``ledger.verify``.

A bundle exported from either database passes the audit, and each way of tampering with
it fails naming the entry or checkpoint. A live log is audited incrementally against the
audit state; a server that rebuilt its log with one entry changed, signed with the same
key and grown past the old size, is refused by ``audit --url`` and ``audit --item``.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.bootstrap import create_admin
from api.cli import app as cli_app
from api.cli.audit import httpx_fetch
from api.settings import Settings, get_settings
from hashing import (
    TreeFrontier,
    canonical_json,
    checkpoint_body,
    generate_private_key,
    leaf_hash,
    load_private_key,
    parse_checkpoint,
    parse_verifier_key,
    public_key_bytes,
    root_from_leaves,
    save_private_key,
    sign_note,
    split_note,
    verifier_key,
    witness_verifier_key,
)
from hashing.note import add_cosignature
from ledger import items, orgs
from ledger.chain import ZERO_HASH, StoredEntry, build_entry, parse_entry
from ledger.errors import AuditFailure, AuditUnavailableError
from ledger.ids import IdSource
from ledger.lifecycle import Role
from ledger.service import Ledger
from ledger.store.sql import SqlStore
from ledger.transparency import Transparency
from ledger.verify import (
    ChainVerifier,
    Fetch,
    LogAuditor,
    LogClient,
    audit_bundle,
    audit_item,
    audit_server,
    export_server,
    open_checkpoints,
    url_fetch,
)
from tests.conftest import World, _pg_admin, _pg_url, unavailable
from tests.factories import ADMIN_KEY, register, registration, to_state
from tests.processes.server import Servers, retrace_env, run_cli

runner = CliRunner()
WITNESS = "regulator.example/witness"


def retrace(*args: str) -> Any:
    return runner.invoke(cli_app, list(args), catch_exceptions=False)


# -- a populated log and its bundle --------------------------------------------------------


@pytest.fixture
def populated(world: World) -> dict[str, Any]:
    """Items at several stages, three checkpoints, one cosigned by a known witness."""
    c, reg = world.client, world.regulator.headers
    items = [
        register(c, world.oem, registration(kind))["id"]
        for kind in ("battery_pack", "pv_module", "wind_blade", "pv_module")
    ]
    to_state(c, world.oem, world.recycler, items[0], "recycled")
    c.post("/v1/log/checkpoint", headers=reg)
    to_state(c, world.oem, world.recycler, items[1], "collected")
    note = c.post("/v1/log/checkpoint", headers=reg).text
    key = generate_private_key()
    vkey = witness_verifier_key(WITNESS, public_key_bytes(key))
    assert c.post("/v1/log/witnesses", json={"vkey": vkey}, headers=reg).status_code == 201
    cosigned = add_cosignature(note, WITNESS, key, int(time.time()))
    answer = c.post(
        "/v1/log/cosign", content=cosigned, headers={**reg, "content-type": "text/plain"}
    )
    assert answer.status_code == 200, answer.text
    register(c, world.oem, registration("battery_module"))
    return {"items": items, "witness": vkey, "witness_key": key}


@pytest.fixture
def local_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """RETRACE_* pointing the CLI at the test's database and log key."""
    monkeypatch.setenv("RETRACE_ENVIRONMENT", "test")
    monkeypatch.setenv("RETRACE_DATABASE_URL", settings.database())
    monkeypatch.setenv("RETRACE_LOG_KEY_FILE", str(settings.log_key_file))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def bundle(
    populated: dict[str, Any],  # noqa: ARG001 - the log to export
    local_env: None,  # noqa: ARG001 - the settings export reads
    tmp_path: Path,
) -> Path:
    target = tmp_path / "bundle"
    done = retrace("export", str(target))
    assert done.exit_code == 0, done.output
    return target


def entry_lines(bundle: Path) -> list[bytes]:
    return (bundle / "entries.jsonl").read_bytes().split(b"\n")[:-1]


def write_lines(bundle: Path, lines: list[bytes]) -> None:
    (bundle / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def audit_fails(bundle: Path, *extra: str) -> str:
    done = retrace("audit", str(bundle), *extra)
    assert done.exit_code == 1, done.output
    assert done.stdout.startswith("FAILED at "), done.stdout
    return str(done.stdout)


def test_export_then_audit_passes_with_every_byte_as_stored(
    bundle: Path, world: World, populated: dict[str, Any]
) -> None:
    done = retrace("audit", str(bundle), "--witness", populated["witness"])
    assert done.exit_code == 0, done.output
    lines = entry_lines(bundle)
    assert done.stdout.startswith(f"ok: {len(lines)} entries"), done.stdout
    assert "1 cosignatures from 1 known witnesses" in done.stdout

    served = world.client.get(
        "/v1/log/entries", params={"limit": 1000}, headers=world.regulator.headers
    ).json()["entries"]
    assert [leaf_hash(line).hex() for line in lines] == [e["hash"] for e in served]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert (manifest["entries"], manifest["head"]) == (len(lines), served[-1]["hash"])
    # Export signs a checkpoint over the whole log, so every entry is covered.
    notes = sorted((bundle / "checkpoints").iterdir(), key=lambda p: int(p.stem))
    assert len(notes) >= 3
    assert parse_checkpoint(split_note(notes[-1].read_text())[0]).size == len(lines)
    assert (bundle / "witnesses.txt").read_text().strip() == populated["witness"]

    vkey = world.client.get("/v1/log/key").text.strip()
    assert (bundle / "log.vkey").read_text().strip() == vkey
    pinned = retrace("audit", str(bundle), "--log-key", vkey)
    assert pinned.exit_code == 0, pinned.output
    assert "pin it" not in pinned.stdout


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_changed_byte_names_the_entry(bundle: Path) -> None:
    lines = entry_lines(bundle)
    k = len(lines) // 2
    assert lines[k].endswith(b'"v":1}')
    lines[k] = lines[k][:-2] + b"2}"  # one byte: the format version
    write_lines(bundle, lines)
    out = audit_fails(bundle)
    assert out.startswith(f"FAILED at seq {k}: stored bytes are invalid"), out


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_changed_value_breaks_the_link_from_the_next_entry(bundle: Path) -> None:
    lines = entry_lines(bundle)
    k = next(i for i, line in enumerate(lines) if b'"412.5"' in line)
    lines[k] = lines[k].replace(b'"412.5"', b'"312.5"')
    write_lines(bundle, lines)
    out = audit_fails(bundle)
    assert out.startswith(f"FAILED at seq {k + 1}: prev "), out
    assert f"is not the hash of entry {k} " in out


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_dropped_line_names_the_missing_entry(bundle: Path) -> None:
    lines = entry_lines(bundle)
    k = len(lines) // 3
    write_lines(bundle, lines[:k] + lines[k + 1 :])
    out = audit_fails(bundle)
    assert out.startswith(f"FAILED at seq {k}: expected entry {k} here, found seq {k + 1}"), out


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_dropped_last_line_falls_short_of_the_checkpoint(bundle: Path) -> None:
    lines = entry_lines(bundle)
    write_lines(bundle, lines[:-1])
    out = audit_fails(bundle)
    assert out.startswith(
        f"FAILED at checkpoint {len(lines)}: it covers {len(lines)} "
        f"entries, but there are only {len(lines) - 1}"
    ), out


@pytest.mark.parametrize("backend", ["sqlite"])
def test_reordered_lines_are_named(bundle: Path) -> None:
    lines = entry_lines(bundle)
    k = 5
    lines[k], lines[k + 1] = lines[k + 1], lines[k]
    write_lines(bundle, lines)
    assert audit_fails(bundle).startswith(f"FAILED at seq {k}: expected entry {k} here"), k


def _resign(bundle: Path, size: int, root: bytes, *, new_vkey: bool) -> str:
    """Replace checkpoint ``size`` by one with ``root``, signed by another key of the
    same name; with ``new_vkey`` the bundle's log.vkey is swapped for that key too."""
    name = (bundle / "log.vkey").read_text().split("+", 1)[0]
    other = generate_private_key()
    note = sign_note(checkpoint_body(name, size, root), name, other)
    (bundle / "checkpoints" / f"{size}.note").write_text(note)
    if new_vkey:
        (bundle / "log.vkey").write_text(verifier_key(name, public_key_bytes(other)) + "\n")
    return name


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_checkpoint_resigned_with_another_key_is_refused(bundle: Path) -> None:
    original = (bundle / "log.vkey").read_text().strip()
    notes = sorted((bundle / "checkpoints").iterdir(), key=lambda p: int(p.stem))
    size = int(notes[0].stem)
    _resign(bundle, size, b"\x11" * 32, new_vkey=False)
    out = audit_fails(bundle)
    assert out.startswith(f"FAILED at checkpoint {size}: note has no signature from a known key"), (
        out
    )

    # Swapping the bundle's key as well only moves the failure to the root, and a key
    # pinned out of band refuses the swapped one outright.
    _resign(bundle, size, b"\x11" * 32, new_vkey=True)
    for other in notes[1:]:
        other.unlink()
    out = audit_fails(bundle)
    assert out.startswith(f"FAILED at checkpoint {size}: the entries give root "), out
    out = audit_fails(bundle, "--log-key", original)
    assert out.startswith("FAILED at log key: the log now signs with "), out


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_consistent_rewrite_is_caught_by_the_signed_root(bundle: Path) -> None:
    lines = entry_lines(bundle)
    notes = sorted((bundle / "checkpoints").iterdir(), key=lambda p: int(p.stem))
    first = int(notes[0].stem)
    k = next(i for i, line in enumerate(lines) if b'"region":"CN"' in line)
    assert k < first
    rewritten = rechain(lines, k, b'"region":"CN"', b'"region":"DE"')
    write_lines(bundle, rewritten)
    out = audit_fails(bundle)
    assert out.startswith(f"FAILED at checkpoint {first}: the entries give root "), out


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_forged_cosignature_is_refused(bundle: Path, populated: dict[str, Any]) -> None:
    cosigned = next(p for p in (bundle / "checkpoints").iterdir() if WITNESS in p.read_text())
    text = cosigned.read_text()
    head, line = text.split(f"— {WITNESS} ")
    raw = bytearray(base64.b64decode(line.strip()))
    raw[-1] ^= 1  # the witness's key ID and timestamp stay, its signature breaks
    cosigned.write_text(f"{head}— {WITNESS} {base64.b64encode(bytes(raw)).decode()}\n")
    out = audit_fails(bundle, "--witness", populated["witness"])
    assert out.startswith(
        f"FAILED at checkpoint {cosigned.stem}: signature by {WITNESS} does not verify"
    ), out
    # Lines by keys the auditor does not know are ignored, as C2SP signed-note says.
    (bundle / "witnesses.txt").write_text("")
    assert retrace("audit", str(bundle)).exit_code == 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_manifest_that_disagrees_is_reported(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["entries"] += 1
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert audit_fails(bundle).startswith("FAILED at bundle: entries.jsonl holds ")


def rechain(lines: list[bytes], k: int, old: bytes, new: bytes) -> list[bytes]:
    """Entries with ``old`` replaced by ``new`` in entry ``k``, every link after re-hashed."""
    out: list[bytes] = []
    head = ZERO_HASH
    items: dict[str, str] = {}  # item id -> hash of its latest entry
    for seq, line in enumerate(lines):
        fields = json.loads(line)
        if seq == k:
            assert old in line, line
            fields = json.loads(line.replace(old, new))
        fields["prev"] = head
        if fields["item"] is not None:
            fields["item_prev"] = items.get(fields["item"])
        body = canonical_json(fields)
        head = leaf_hash(body).hex()
        if fields["item"] is not None:
            items[fields["item"]] = head
        out.append(body)
    return out


# -- the streaming auditor against the reference verifiers ----------------------------------


def make_entries(count: int, items: int = 7) -> list[bytes]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    prev = ZERO_HASH
    heads: dict[str, str] = {}  # item id -> hash of its latest entry
    lines: list[bytes] = []
    for seq in range(count):
        item = f"itm_{seq % items:026d}" if seq % 5 else None
        entry = build_entry(
            seq=seq,
            now=now,
            actor="org_1",
            item=item,
            type="registered",
            data={"n": seq, "mass_kg": "1.5", "tags": ["a", {"b": None}]},
            prev=prev,
            item_prev=heads.get(item) if item else None,
        )
        prev = entry.hash
        if item:
            heads[item] = entry.hash
        lines.append(entry.body)
    return lines


def chain_verifier_verdict(lines: list[bytes]) -> int | None:
    verifier = ChainVerifier()
    rows = []
    for seq, body in enumerate(lines):
        try:
            entry = parse_entry(body)
            columns = (entry.item, entry.type, entry.actor)
        except ValueError:
            columns = (None, "registered", "org_1")
        rows.append(StoredEntry(seq, leaf_hash(body).hex(), body, *columns))
    verifier.feed(rows)
    return None if verifier.first_bad is None else verifier.first_bad.seq


def auditor_verdict(lines: list[bytes]) -> int | None:
    try:
        LogAuditor().feed(lines)
    except AuditFailure as exc:
        return exc.seq
    return None


MUTATIONS = {
    "whitespace": lambda b: b.replace(b'"n":', b'"n": '),
    "float": lambda b: b.replace(b'"n":', b'"n":0.5,"o":'),
    "bool seq": lambda b: b.replace(b'"v":1', b'"v":true'),
    "extra field": lambda b: b[:-1] + b',"z":1}',
    "escaped text": lambda b: b.replace(b'"mass_kg"', b'"mass\\u005fkg"'),
    "unsorted": lambda b: b.replace(b'"n":', b'"zz":0,"n":'),
    "huge int": lambda b: b.replace(b'"n":', b'"n":9007199254740993,"o":'),
    "non-ascii key": lambda b: b.replace(b'"tags"', '"\ue000"'.encode()),
    "astral key": lambda b: b.replace(b'"mass_kg"', '"\U0001f600"'.encode()),
    "not json": lambda b: b[:-1],
    "item link": lambda b: b.replace(b'"item_prev":"', b'"item_prev":"0'),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_auditor_finds_the_same_first_bad_entry_as_the_chain_verifier(mutation: str) -> None:
    lines = make_entries(40)
    k = next(i for i in range(23, 40) if b'"item_prev":"' in lines[i])
    lines[k] = MUTATIONS[mutation](lines[k])
    expected = chain_verifier_verdict(lines)
    assert expected is not None
    assert auditor_verdict(lines) == expected


def test_auditor_accepts_non_ascii_text_in_canonical_form() -> None:
    lines = make_entries(3)
    lines.append(
        build_entry(
            seq=3,
            now=datetime(2026, 1, 1, tzinfo=UTC),
            actor="org_é",
            item=None,
            type="org_created",
            data={"name": "Ganzhou Xinyuan 赣州", "\U0001f600": "☀"},
            prev=leaf_hash(lines[-1]).hex(),
            item_prev=None,
        ).body
    )
    assert chain_verifier_verdict(lines) is None
    assert auditor_verdict(lines) is None


def test_frontier_root_matches_the_reference_at_every_size() -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(300)]
    frontier = TreeFrontier()
    assert frontier.root() == root_from_leaves([])
    for size, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert frontier.root() == root_from_leaves(leaves[:size])
        resumed = TreeFrontier(size, frontier.hashes)
        assert resumed.root() == frontier.root()
    with pytest.raises(ValueError, match="frontier hashes"):
        TreeFrontier(5, frontier.hashes)


def test_roots_are_checked_as_the_stream_passes_each_checkpoint() -> None:
    lines = make_entries(50)
    leaves = [leaf_hash(line) for line in lines]
    key = generate_private_key()
    vkey = verifier_key("test.example/log", public_key_bytes(key))

    def note(size: int, root: bytes) -> tuple[str, str]:
        return str(size), sign_note(
            checkpoint_body("test.example/log", size, root), "test.example/log", key
        )

    good = [note(n, root_from_leaves(leaves[:n])) for n in (0, 1, 17, 32, 50)]
    signed = open_checkpoints(good, parse_verifier_key(vkey))
    auditor = LogAuditor(signed)
    auditor.feed(lines)
    assert auditor.finish().checkpoints == 5

    bad = [*good, note(33, root_from_leaves(leaves[:32]))]
    auditor = LogAuditor(open_checkpoints(bad, parse_verifier_key(vkey)))
    with pytest.raises(AuditFailure, match=r"^checkpoint 33: the entries give root") as found:
        auditor.feed(lines)
    assert found.value.size == 33
    # Two roots for one size are two histories.
    split = [*good, note(17, root_from_leaves(leaves[1:18]))]
    with pytest.raises(AuditFailure, match=r"^checkpoint 17: two signed checkpoints"):
        open_checkpoints(split, parse_verifier_key(vkey))


# -- live audits through the API (in-process) -----------------------------------------------


@pytest.fixture
def regulator_http(app: FastAPI, world: World) -> Iterator[Fetch]:
    """GETs from the app with a regulator's key, as ``retrace audit --url`` sends them."""
    # Outside a ``with`` block: the app's lifespan is the ``client`` fixture's.
    http = TestClient(app, headers=world.regulator.headers)
    # TestClient is an httpx2.Client, not an httpx.Client: a different class with the
    # same get(), status_code and content, which is all that httpx_fetch uses.
    yield httpx_fetch(http)  # type: ignore[arg-type]
    http.close()


def test_live_audit_trusts_then_extends_and_checks_new_entries(
    world: World, regulator_http: Fetch, tmp_path: Path
) -> None:
    c, state = world.client, tmp_path / "state.json"
    register(c, world.oem)
    c.post("/v1/log/checkpoint", headers=world.regulator.headers)
    first = audit_server(regulator_http, "http://testserver", state, check_entries=True)
    assert "trusted on first use" in first, first
    assert "entries 0.." in first, first
    saved = json.loads(state.read_text())["logs"]["retrace.local/log"]
    size = saved["checkpoint"]["size"]
    assert saved["entries"]["size"] == size

    for _ in range(3):
        register(c, world.oem)
    c.post("/v1/log/checkpoint", headers=world.regulator.headers)
    second = audit_server(regulator_http, "http://testserver", state, check_entries=True)
    assert f"consistent with the trusted checkpoint {size}" in second, second
    assert f"entries {size}..{size + 2} verified" in second, second
    assert "trusted on first use" not in second

    # A log key other than the trusted one is refused, and the state is kept.
    before = state.read_text()
    changed = json.loads(before)
    changed["logs"]["retrace.local/log"]["log_key"] = verifier_key(
        "retrace.local/log", public_key_bytes(generate_private_key())
    )
    state.write_text(json.dumps(changed))
    with pytest.raises(AuditFailure, match=r"^log key: the log now signs with"):
        audit_server(regulator_http, "http://testserver", state)


def test_live_audit_of_one_item(world: World, regulator_http: Fetch, tmp_path: Path) -> None:
    c = world.client
    item = register(c, world.oem)["id"]
    to_state(c, world.oem, world.recycler, item, "assessed")
    c.post("/v1/log/checkpoint", headers=world.regulator.headers)
    register(c, world.oem)
    verdict = audit_item(regulator_http, "http://testserver", tmp_path / "s.json", item)
    assert verdict.startswith(f"ok: item {item}: 5 entries, item chain intact, 5 proven"), verdict
    with pytest.raises(AuditFailure, match=r"^log key: the log now signs with"):
        audit_item(
            regulator_http,
            "http://testserver",
            tmp_path / "s.json",
            item,
            pinned_key=verifier_key("retrace.local/log", public_key_bytes(generate_private_key())),
        )


@pytest.mark.usefixtures("local_env")
def test_export_from_a_server_audits_like_one_from_the_database(
    world: World, regulator_http: Fetch, populated: dict[str, Any], tmp_path: Path
) -> None:
    world.client.post("/v1/log/checkpoint", headers=world.regulator.headers)
    target = tmp_path / "from-server"
    manifest = export_server(
        LogClient(regulator_http),
        target,
        url="http://testserver",
        witnesses=[populated["witness"]],
        tick=lambda _: None,
    )
    summary, verdict = audit_bundle(target)
    assert summary.size == manifest["entries"] > 0
    # A server shows its latest checkpoint only (not the one the witness cosigned).
    assert "1 checkpoints (latest " in verdict, verdict
    assert "from 1 known witnesses" in verdict, verdict
    assert retrace("export", str(target)).exit_code == 2  # never into a used directory


def test_an_unreachable_server_is_an_error_not_a_finding(tmp_path: Path) -> None:
    done = retrace("audit", "--url", "http://127.0.0.1:9", "--state", str(tmp_path / "s"))
    assert done.exit_code == 2, done.output
    assert done.stdout.startswith("error: cannot reach the server"), done.stdout
    assert not (tmp_path / "s").exists()
    # The library over the standard library's HTTP says the same.
    with pytest.raises(AuditUnavailableError, match=r"^cannot reach the server"):
        audit_server(url_fetch("http://127.0.0.1:9"), "http://127.0.0.1:9", tmp_path / "s")


# -- the history rewrite, against real servers -----------------------------------------------

OEM_KEY = "rtr_test_oem_key_0123456789abcdefghijklmn"
REGULATOR_KEY = "rtr_test_regulator_key_0123456789abcdefgh"


@pytest.fixture
def second_database_url(
    backend: str, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> Iterator[str]:
    """Another fresh database on the same backend, for the rewritten log."""
    if backend == "sqlite":
        path = tmp_path / "rewritten.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    if pg_template is None:
        unavailable("PostgreSQL is not reachable")
    name = f"retrace_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield _pg_url(name)
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_log(database_url: str, key_file: Path, *, rewritten: bool) -> dict[str, Any]:
    """The same orgs, ids and items each time; ``rewritten`` changes one registration's
    mass (so every hash after it changes) and registers five more items."""
    counter = itertools.count()
    ids = IdSource(
        millis=lambda: 1_790_000_000_000, random_bytes=lambda n: next(counter).to_bytes(n, "big")
    )
    ticks = itertools.count()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    store = SqlStore(database_url)
    try:
        ledger = Ledger(store, clock=lambda: start + timedelta(seconds=next(ticks)), ids=ids)
        admin = create_admin(ledger, api_key=ADMIN_KEY).org
        oem = ledger.write(
            lambda tx: orgs.create_org(tx, admin, "Rewrite OEM", Role.OEM, "CN", api_key=OEM_KEY)
        ).org
        ledger.write(
            lambda tx: orgs.create_org(
                tx, admin, "Rewrite auditor", Role.REGULATOR, "CN", api_key=REGULATOR_KEY
            )
        )
        count = 25 if rewritten else 20
        masses = ["12.0" if rewritten and n == 3 else "21.0" for n in range(count)]
        written = ledger.write(
            lambda tx: [
                items.register(
                    tx,
                    oem,
                    {
                        "kind": "pv_module",
                        "code": f"PV-RW-{n:04d}",
                        "attributes": {"mass_kg": masses[n]},
                    },
                )
                for n in range(count)
            ]
        )
        item = written[5].item.id
        ledger.write(lambda tx: items.record_event(tx, oem, item, "installed", {"site": "Roof 7"}))
        Transparency(
            store, load_private_key(key_file), "retrace.local/log", lambda: start
        ).publish()
        with store.reader() as r:
            return {"item": item, "size": r.size()}
    finally:
        store.dispose()


@pytest.mark.slow
def test_a_rewritten_history_is_refused_by_url_and_item_audits(
    database_url: str, second_database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "log.key"
    save_private_key(generate_private_key(), key_file)
    original = build_log(database_url, key_file, rewritten=False)
    rewritten = build_log(second_database_url, key_file, rewritten=True)
    assert rewritten["item"] == original["item"]
    assert rewritten["size"] > original["size"]
    state = tmp_path / "audit-state.json"
    item = original["item"]

    def audit(url: str, *args: str, state_file: Path = state) -> Any:
        env = retrace_env(database_url, key_file, RETRACE_API_KEY=REGULATOR_KEY)
        return run_cli(["audit", "--url", url, "--state", str(state_file), *args], env, tmp_path)

    with Servers(tmp_path) as servers:
        honest = servers.start(retrace_env(database_url, key_file))
        done = audit(honest.url)
        assert done.returncode == 0, done
        assert f"checkpoint {original['size']} signed" in done.stdout, done.stdout
        assert f"entries 0..{original['size'] - 1} verified" in done.stdout, done.stdout
        done = audit(honest.url, "--item", item)
        assert done.returncode == 0, done
        assert done.stdout.startswith(f"ok: item {item}: 2 entries"), done.stdout
        # What a regulator imports: the library alone, over the standard library's HTTP.
        verdict = audit_server(
            url_fetch(honest.url, REGULATOR_KEY),
            honest.url,
            tmp_path / "library-state.json",
            check_entries=True,
        )
        assert f"entries 0..{original['size'] - 1} verified" in verdict, verdict
        honest.stop()

        liar = servers.start(retrace_env(second_database_url, key_file))
        # Taken on its own, the rewritten log is flawless: same key, hashes, chains, proofs.
        fresh = audit(liar.url, state_file=tmp_path / "fresh-state.json")
        assert fresh.returncode == 0, fresh
        remembered = state.read_text()
        done = audit(liar.url)
        assert done.returncode == 1, done
        assert done.stdout.startswith(
            f"FAILED at checkpoint {rewritten['size']}: it is not an extension of the "
            f"trusted checkpoint of size {original['size']}"
        ), done.stdout
        assert "rewritten its history" in done.stdout
        done = audit(liar.url, "--item", item)
        assert done.returncode == 1, done
        assert "rewritten its history" in done.stdout, done.stdout
        assert state.read_text() == remembered


def test_a_bundle_audits_without_any_database(tmp_path: Path) -> None:
    """The bundle format and audit, made by hand: no settings, no store."""
    lines = make_entries(20)
    key = generate_private_key()
    name = "offline.example/log"
    bundle = tmp_path / "b"
    (bundle / "checkpoints").mkdir(parents=True)
    write_lines(bundle, lines)
    root = root_from_leaves([leaf_hash(line) for line in lines])
    (bundle / "checkpoints" / "20.note").write_text(
        sign_note(checkpoint_body(name, 20, root), name, key)
    )
    (bundle / "log.vkey").write_text(verifier_key(name, public_key_bytes(key)))
    (bundle / "manifest.json").write_text(
        json.dumps(
            {"format": "retrace-bundle/1", "entries": 20, "head": leaf_hash(lines[-1]).hex()}
        )
    )
    summary, verdict = audit_bundle(bundle)
    assert (summary.size, summary.root) == (20, root)
    assert verdict.startswith("ok: 20 entries"), verdict
    assert base64.b64encode(root).decode() in (bundle / "checkpoints" / "20.note").read_text()
