"""Checkpoints, proofs and cosignatures, checked with the pure verifiers."""

from __future__ import annotations

import base64
import time

from hashing import generate_private_key, public_key_bytes, verify_consistency, verify_inclusion
from hashing.checkpoint import Checkpoint, parse_checkpoint
from hashing.note import add_cosignature, open_checkpoint
from hashing.note_keys import parse_verifier_key, witness_verifier_key
from tests.conftest import World
from tests.factories import register, to_state


def _checkpoint(world: World) -> tuple[str, Checkpoint]:
    c = world.client
    c.post("/v1/log/checkpoint", headers=world.regulator.headers)
    note = c.get("/v1/log/checkpoint").text
    vkey = c.get("/v1/log/key").text.strip()
    checkpoint, _ = open_checkpoint(note, parse_verifier_key(vkey))
    return note, checkpoint


def test_item_history_proves_inclusion_against_the_checkpoint(world: World) -> None:
    c = world.client
    item = register(c, world.oem)
    to_state(c, world.oem, world.recycler, item["id"], "collected")
    c.post("/v1/log/checkpoint", headers=world.regulator.headers)
    history = c.get(f"/v1/items/{item['id']}/history", headers=world.recycler.headers).json()
    vkey = c.get("/v1/log/key").text.strip()
    checkpoint, _ = open_checkpoint(history["checkpoint"]["note"], parse_verifier_key(vkey))
    assert checkpoint.root.hex() == history["checkpoint"]["root"]
    assert len(history["proofs"]) == len(history["entries"]) == 4
    for entry, proof in zip(history["entries"], history["proofs"], strict=True):
        assert proof["seq"] == entry["seq"]
        verify_inclusion(
            entry["seq"],
            checkpoint.size,
            bytes.fromhex(entry["hash"]),
            [bytes.fromhex(p) for p in proof["proof"]],
            checkpoint.root,
        )


def test_consistency_between_two_checkpoints(world: World) -> None:
    c = world.client
    _, first = _checkpoint(world)
    for _ in range(3):
        register(c, world.oem)
    _, second = _checkpoint(world)
    assert second.size == first.size + 3
    body = c.get("/v1/log/proof/consistency", params={"from": first.size, "to": second.size}).json()
    verify_consistency(
        first.size, second.size, [bytes.fromhex(p) for p in body["proof"]], first.root, second.root
    )
    bad = c.get("/v1/log/proof/consistency", params={"from": 0, "to": second.size})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_witness_cosigns_and_the_checkpoint_carries_the_line(world: World) -> None:
    c = world.client
    note, checkpoint = _checkpoint(world)
    key = generate_private_key()
    vkey = witness_verifier_key("regulator.example/witness", public_key_bytes(key))
    answer = c.post("/v1/log/witnesses", json={"vkey": vkey}, headers=world.regulator.headers)
    assert answer.status_code == 201, answer.text
    cosigned = add_cosignature(note, "regulator.example/witness", key, int(time.time()))
    answer = c.post(
        "/v1/log/cosign",
        content=cosigned,
        headers={**world.regulator.headers, "content-type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    served = c.get("/v1/log/checkpoint", params={"size": checkpoint.size}).text
    log_key = parse_verifier_key(c.get("/v1/log/key").text.strip())
    _, opened = open_checkpoint(served, log_key, [parse_verifier_key(vkey)])
    assert "regulator.example/witness" in opened.cosignatures
    # A cosignature by some other key is refused.
    other = add_cosignature(note, "regulator.example/witness", generate_private_key(), 1)
    refused = c.post(
        "/v1/log/cosign",
        content=other,
        headers={**world.regulator.headers, "content-type": "text/plain"},
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "bad-signature"


def test_checkpoint_body_matches_the_tree(world: World) -> None:
    c = world.client
    register(c, world.oem)
    note, checkpoint = _checkpoint(world)
    body = parse_checkpoint(note.split("\n\n")[0] + "\n")
    assert body.size == checkpoint.size
    proof = c.get("/v1/log/proof/inclusion", params={"index": 0, "size": body.size}).json()
    first = c.get("/v1/log/entries", params={"limit": 1}, headers=world.regulator.headers).json()[
        "entries"
    ][0]
    assert proof["leaf_hash"] == first["hash"]
    verify_inclusion(
        0,
        body.size,
        bytes.fromhex(first["hash"]),
        [bytes.fromhex(p) for p in proof["proof"]],
        body.root,
    )
    assert base64.b64decode(note.split("\n")[2]) == body.root


def test_history_right_after_a_write_proves_every_entry(world: World) -> None:
    """No wait for the periodic checkpoint: the history signs one that covers the item."""
    c = world.client
    _, before = _checkpoint(world)  # the latest checkpoint, soon outdated
    item = register(c, world.oem)
    to_state(c, world.oem, world.recycler, item["id"], "collected")
    history = c.get(f"/v1/items/{item['id']}/history", headers=world.recycler.headers).json()
    checkpoint = history["checkpoint"]
    assert before.size <= history["entries"][0]["seq"]
    assert checkpoint["size"] > history["entries"][-1]["seq"]
    vkey = c.get("/v1/log/key").text.strip()
    opened, _ = open_checkpoint(checkpoint["note"], parse_verifier_key(vkey))
    for entry, proof in zip(history["entries"], history["proofs"], strict=True):
        assert proof["proof"] is not None, entry["seq"]
        verify_inclusion(
            entry["seq"],
            opened.size,
            bytes.fromhex(entry["hash"]),
            [bytes.fromhex(p) for p in proof["proof"]],
            opened.root,
        )
    # Covered now: reading again signs nothing new.
    again = c.get(f"/v1/items/{item['id']}/history", headers=world.recycler.headers).json()
    assert again["checkpoint"] == checkpoint
    assert c.get("/v1/log/checkpoint").text == checkpoint["note"]
