"""``retrace witness`` against real servers: a regulator's witness with no code of its own.

``init`` writes a private signer key and prints its cosignature verifier key.
``cosign`` cosigns the first checkpoint it sees, then only checkpoints that extend
the last one it cosigned (checked with the server's consistency proof), also in a
loop (``--every``); a server that shows another history under the same log key is
refused loudly, and nothing is posted to it.
"""

from __future__ import annotations

import json
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from hashing import (
    ALG_COSIGNATURE_V1,
    open_checkpoint,
    parse_checkpoint,
    parse_signer_key,
    parse_verifier_key,
    split_note,
)
from tests.factories import ADMIN_KEY, registration
from tests.processes.server import RetraceServer, Servers, retrace_command, retrace_env, run_cli
from tests.processes.server import spawned as spawned_process

pytestmark = pytest.mark.slow

NAME = "regulator.example/witness"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The witness's environment: its own config folder, no ledger settings needed."""
    env = retrace_env("unused", tmp_path / "unused")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return env


def witness(tmp_path: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = run_cli(["witness", *args], cli_env(tmp_path), tmp_path)
    assert done.returncode == expect, done
    return done


def server_env(folder: Path, log_key: Path) -> dict[str, str]:
    folder.mkdir(exist_ok=True)
    return retrace_env(f"sqlite:///{folder / 'retrace.db'}", log_key, ADMIN_KEY)


class Log:
    """A running server, seen by its admin, a regulator and an OEM."""

    def __init__(self, server: RetraceServer) -> None:
        self.url = server.url
        self.http = httpx.Client(base_url=self.url, timeout=30.0)
        self.regulator = self.org("Supervision office", "regulator")
        self.oem = self.org("Cell maker", "oem")

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def org(self, name: str, role: str) -> str:
        answer = self.http.post(
            "/v1/orgs", json={"name": name, "role": role, "region": "CN"}, headers=bearer(ADMIN_KEY)
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["api_key"])

    def grow(self, items: int = 1) -> int:
        """Register ``items`` items and publish a checkpoint over them; its size."""
        for _ in range(items):
            answer = self.http.post("/v1/items", json=registration(), headers=bearer(self.oem))
            assert answer.status_code == 201, answer.text
        note = self.http.post("/v1/log/checkpoint", headers=bearer(self.regulator)).text
        return parse_checkpoint(split_note(note)[0]).size

    def cosigned(self, vkey: str) -> dict[int, int]:
        """The latest checkpoint's size, if this witness cosigned it: {size: timestamp}."""
        log_key = parse_verifier_key(self.http.get("/v1/log/key").text.strip())
        note = self.http.get("/v1/log/checkpoint").text
        checkpoint, opened = open_checkpoint(note, log_key, [parse_verifier_key(vkey)])
        stamps = opened.cosignatures
        return {checkpoint.size: stamps[NAME]} if NAME in stamps else {}


def state(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "config" / "retrace" / "witness-state.json"
    logs: dict[str, Any] = json.loads(path.read_text())["logs"]
    return logs


def test_init_writes_a_private_signer_key_and_keeps_it(tmp_path: Path) -> None:
    vkey = witness(tmp_path, "init", "--name", NAME).stdout.strip()
    key_file = tmp_path / "config" / "retrace" / "witness.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    signer = parse_signer_key(key_file.read_text().strip())
    verifier = parse_verifier_key(vkey)
    assert (verifier.name, verifier.alg) == (NAME, ALG_COSIGNATURE_V1)
    assert signer.name == NAME

    before = key_file.read_bytes()
    again = witness(tmp_path, "init", "--name", "another/name")
    assert again.stdout.strip() == vkey
    assert "exists already" in again.stderr
    assert key_file.read_bytes() == before


def test_cosign_follows_the_log_and_refuses_another_history(tmp_path: Path) -> None:
    vkey = witness(tmp_path, "init", "--name", NAME).stdout.strip()
    log_key = tmp_path / "log.key"
    with Servers(tmp_path) as servers:
        first = servers.start(server_env(tmp_path / "a", log_key))
        with Log(first) as log:
            size = log.grow(2)
            args = ["cosign", "--server", log.url, "--key", log.regulator]

            done = witness(tmp_path, *args)
            assert f"cosigned checkpoint {size} (the first one)" in done.stdout
            assert list(log.cosigned(vkey)) == [size]
            assert "nothing to do" in witness(tmp_path, *args).stdout

            grown = log.grow(3)
            done = witness(tmp_path, *args)
            assert f"cosigned checkpoint {grown}, extending {size}" in done.stdout
            assert list(log.cosigned(vkey)) == [grown]

            # --every: each new checkpoint is cosigned within a few seconds.
            command = [*retrace_command(), "witness", *args, "--every", "1"]
            with spawned_process(
                command, env=cli_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE
            ) as loop:
                for _ in range(2):
                    grown = log.grow()
                    deadline = time.monotonic() + 30
                    while list(log.cosigned(vkey)) != [grown]:
                        assert loop.poll() is None, "the witness loop stopped"
                        assert time.monotonic() < deadline, f"checkpoint {grown} not cosigned"
                        time.sleep(0.2)
            assert state(tmp_path)["retrace.local/log"]["checkpoint"]["size"] == grown
            first.stop()

        # Another database under the same log key: the same origin, another history.
        with Log(servers.start(server_env(tmp_path / "b", log_key))) as other:
            forked = other.grow(10)  # larger than what was cosigned: a consistency proof is due
            assert forked > grown
            refused = witness(
                tmp_path, "cosign", "--server", other.url, "--key", other.regulator, expect=1
            )
            assert refused.stdout == ""
            assert refused.stderr.startswith(f"REFUSED to cosign: checkpoint {forked}: ")
            assert "the log has rewritten its history" in refused.stderr
            assert "Nothing was cosigned" in refused.stderr
            assert other.cosigned(vkey) == {}

    kept = state(tmp_path)["retrace.local/log"]
    assert kept["checkpoint"]["size"] == grown  # still the last one it cosigned
    [conflict] = kept["conflicts"]
    assert parse_checkpoint(split_note(conflict["note"])[0]).size == forked
