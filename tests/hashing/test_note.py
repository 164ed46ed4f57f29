"""Signed notes, verifier keys, checkpoints and witness cosignatures (C2SP)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hashing import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    Checkpoint,
    KeyFormatError,
    NoteError,
    Verifier,
    add_cosignature,
    add_signature,
    checkpoint_body,
    cosign_checkpoint,
    generate_private_key,
    key_hash,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_signer_key,
    parse_verifier_key,
    private_key_from_seed,
    public_key_bytes,
    sign_note,
    split_note,
    verifier_key,
    verify,
    witness_key_hash,
    witness_verifier_key,
)
from tests.hashing import vectors

NOTES = vectors.load("signed_note_ed25519_vectors.json")
CHECKPOINTS = vectors.load("checkpoint_vectors.json")
KEY_CASES = vectors.cases(
    "signed_note_ed25519_vectors.json", lambda d: ((k["vkey"].split("+")[0], k) for k in d["keys"])
)
NEGATIVE_VKEYS = vectors.cases(
    "signed_note_ed25519_vectors.json",
    lambda d: ((n["why"], n["vkey"]) for n in d["negative_vkeys"] if "vkey" in n),
)
DERIVED_CHECKPOINTS = vectors.cases(
    "checkpoint_vectors.json",
    lambda d: (
        (f"size-{c['tree_size']}-{len(c.get('extra_verifier_keys', []))}", c) for c in d["derived"]
    ),
)

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
EM_DASH = "\u2014"


def _vkey(name: str) -> Verifier:
    return parse_verifier_key(
        next(k["vkey"] for k in NOTES["keys"] if k["vkey"].startswith(name + "+"))
    )


def _skey(name: str) -> Any:
    return parse_signer_key(
        next(k["skey"] for k in NOTES["keys"] if k["vkey"].startswith(name + "+"))
    )


# --- Verifier and signer keys ---------------------------------------------------------


@pytest.mark.parametrize("case", KEY_CASES)
def test_vector_vkey_parses_and_reencodes(case: dict[str, Any]) -> None:
    verifier = parse_verifier_key(case["vkey"])
    assert verifier.alg == ALG_ED25519
    assert verifier.vkey == case["vkey"]
    assert verifier_key(verifier.name, verifier.public_key) == case["vkey"]
    # key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pubkey)[:4] (C2SP signed-note), e.g.
    # (printf 'PeterNeumann\n'; echo ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW | base64 -d)
    #   | sha256sum | cut -c1-8      -> c74f20a3
    expected = hashlib.sha256(verifier.name.encode() + b"\n\x01" + verifier.public_key).digest()[:4]
    assert verifier.key_hash == expected == key_hash(verifier.name, verifier.public_key)
    assert case["vkey"].split("+")[1] == expected.hex()
    if case["skey"]:
        signer = parse_signer_key(case["skey"])
        assert signer.name == verifier.name
        assert signer.key_hash == verifier.key_hash
        assert public_key_bytes(signer.private_key) == verifier.public_key


@pytest.mark.parametrize("vkey", NEGATIVE_VKEYS)
def test_vector_malformed_vkey_is_rejected(vkey: str) -> None:
    with pytest.raises(KeyFormatError):
        parse_verifier_key(vkey)


def _manglings(text: str) -> list[str]:
    """Every proper substring and every single-byte +1 mutation (golang.org/x/mod
    sumdb/note TestNewVerifier / TestNewSigner)."""
    raw = text.encode()
    out = {raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)}
    out.discard(raw)
    out |= {raw[:i] + bytes([(raw[i] + 1) % 256]) + raw[i + 1 :] for i in range(len(raw))}
    return sorted(m.decode("utf-8", "replace") for m in out)


def test_every_mangled_vkey_is_rejected() -> None:
    parse_verifier_key(PETER_VKEY)
    for mangled in _manglings(PETER_VKEY):
        with pytest.raises(KeyFormatError):
            parse_verifier_key(mangled)


def test_every_mangled_skey_is_rejected() -> None:
    parse_signer_key(PETER_SKEY)
    for mangled in _manglings(PETER_SKEY):
        with pytest.raises(KeyFormatError):
            parse_signer_key(mangled)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case ID
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        "PeterNeumann+c74f20a3+",  # no key
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",  # bad padding
    ],
)
def test_more_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(KeyFormatError):
        parse_verifier_key(vkey)


def test_witness_vkey_round_trip() -> None:
    public = public_key_bytes(generate_private_key())
    vkey = witness_verifier_key("witness.example/w1", public)
    verifier = parse_verifier_key(vkey)
    assert verifier.alg == ALG_COSIGNATURE_V1
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    # tlog-cosignature: key ID = SHA-256(name ‖ "\n" ‖ 0x04 ‖ pubkey)[:4]
    expected = hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    assert verifier.key_hash == witness_key_hash("witness.example/w1", public) == expected
    assert verifier.key_hash != key_hash("witness.example/w1", public)


def test_verifier_fields_are_checked() -> None:
    verifier = parse_verifier_key(PETER_VKEY)
    with pytest.raises(KeyFormatError, match="does not match"):
        Verifier(verifier.name, b"\x00\x00\x00\x00", verifier.public_key)
    with pytest.raises(KeyFormatError):
        Verifier.from_public_key("a+b", verifier.public_key)
    with pytest.raises(KeyFormatError):
        Verifier.from_public_key("name", verifier.public_key[:31])
    with pytest.raises(KeyFormatError, match="unsupported signature type"):
        Verifier.from_public_key("name", verifier.public_key, alg=0x02)


# --- Signed notes (golang.org/x/mod sumdb/note, C2SP signed-note) ---------------------


def test_vector_note_with_two_signers() -> None:
    note = next(n for n in NOTES["notes"] if n["name"] == "peter_and_enoch")
    peter, enoch = _vkey("PeterNeumann"), _vkey("EnochRoot")

    opened = open_note(note["message"], [peter])
    assert opened.body == note["text"]
    assert opened.names == ("PeterNeumann",)
    assert opened.signatures[0].key_hash.hex() == "c74f20a3"
    assert [s.name for s in opened.unverified] == ["EnochRoot"]

    assert open_note(note["message"], [peter, enoch]).names == ("PeterNeumann", "EnochRoot")

    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note["message"], [])


def test_vector_golden_signature_is_reproduced() -> None:
    case = next(n for n in NOTES["notes"] if n["name"] == "peter_sign_golden")
    signer = parse_signer_key(case["signing_key"])
    # Ed25519 is deterministic (RFC 8032 §5.1.6), so the published bytes are reproduced.
    assert sign_note(case["text"], signer.name, signer.private_key) == case["expected_signed_note"]


def test_vector_c2sp_example_note() -> None:
    case = next(n for n in NOTES["notes"] if n["name"] == "c2sp_example")
    opened = open_note(case["message"], [_vkey("example.com/foo")])
    assert opened.body == case["text"]
    assert opened.names == ("example.com/foo",)


def _signed(text: str = "hello\nworld\n") -> tuple[str, Verifier, Any]:
    key = generate_private_key()
    verifier = Verifier.from_public_key("example.org/log", public_key_bytes(key))
    return sign_note(text, "example.org/log", key), verifier, key


def test_round_trip_and_format() -> None:
    note, verifier, _ = _signed()
    body, lines = split_note(note)
    assert body == "hello\nworld\n"
    assert note.startswith("hello\nworld\n\n" + EM_DASH + " example.org/log ")
    raw = base64.b64decode(lines[0].split(" ")[2])
    assert raw[:4] == verifier.key_hash
    Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(raw[4:], body.encode())
    assert open_note(note, [verifier]).names == ("example.org/log",)


def test_text_may_contain_blank_lines() -> None:
    note, verifier, _ = _signed("a\n\nb\n")
    assert open_note(note, [verifier]).body == "a\n\nb\n"


def test_flipped_body_bit_fails() -> None:
    note, verifier, _ = _signed()
    with pytest.raises(NoteError, match="does not verify"):
        open_note("j" + note[1:], [verifier])


def test_flipped_signature_bit_fails() -> None:
    note, verifier, _ = _signed()
    body, lines = split_note(note)
    prefix, encoded = lines[0].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 0x01
    tampered = f"{body}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_note(tampered, [verifier])


def test_wrong_key_with_the_same_name_is_not_trusted() -> None:
    note, _, _ = _signed()
    other = Verifier.from_public_key("example.org/log", public_key_bytes(generate_private_key()))
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note, [other])


def test_key_id_collision_with_bad_signature_fails() -> None:
    note, verifier, _ = _signed()
    body, _ = split_note(note)
    forged = sign_note(body, "example.org/log", generate_private_key())
    forged_sig = base64.b64decode(split_note(forged)[1][0].split(" ")[2])[4:]
    line = f"{EM_DASH} example.org/log " + base64.b64encode(verifier.key_hash + forged_sig).decode()
    with pytest.raises(NoteError, match="does not verify"):
        open_note(f"{body}\n{line}\n", [verifier])


def test_extra_unknown_signature_is_ignored() -> None:
    note, verifier, _ = _signed()
    with_other = add_signature(note, "someone.else", generate_private_key())
    opened = open_note(with_other, [verifier])
    assert opened.names == ("example.org/log",)
    assert [s.name for s in opened.unverified] == ["someone.else"]


def test_add_signature_does_not_duplicate() -> None:
    note, _, key = _signed()
    assert add_signature(note, "example.org/log", key) == note


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n: n + "garbage",
        lambda n: n + "\n",
        lambda n: n + EM_DASH + " x\n",
        lambda n: n + EM_DASH + " name AAAA\n",  # signature shorter than a key ID + 1 byte
        lambda n: n + EM_DASH + " name !!!!\n",
        lambda n: n.rstrip("\n"),
        lambda n: n.replace("\n\n", "\n"),
        lambda n: n.replace(EM_DASH, "-"),
        lambda n: n.replace("world", "wor\tld"),
        lambda n: n.replace("world", "wor\rld"),
        lambda n: n.replace("world", "wor\ud800ld"),
        lambda n: n.replace(" example.org/log ", " example.org/log  "),
        lambda n: n.replace(" example.org/log ", " example.org log "),
    ],
    ids=[
        "trailing-garbage",
        "trailing-newline",
        "line-without-signature",
        "too-short-signature",
        "bad-base64",
        "missing-final-newline",
        "no-blank-line",
        "hyphen-not-em-dash",
        "tab-in-text",
        "carriage-return",
        "lone-surrogate",
        "double-space",
        "space-in-name",
    ],
)
def test_malformed_notes_are_refused(mutate: Any) -> None:
    note, verifier, _ = _signed()
    with pytest.raises(NoteError):
        open_note(mutate(note), [verifier])


@pytest.mark.parametrize("body", ["", "no newline", "tab\there\n", "bad\x00\n"])
def test_sign_refuses_invalid_text(body: str) -> None:
    with pytest.raises(NoteError):
        sign_note(body, "name", generate_private_key())


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\nb", "a\u00a0b"])
def test_sign_refuses_invalid_names(name: str) -> None:
    with pytest.raises(KeyFormatError):
        sign_note("text\n", name, generate_private_key())


def test_too_many_signatures_are_refused() -> None:
    note, verifier, _ = _signed()
    line = split_note(note)[1][0]
    with pytest.raises(NoteError, match="more than 100"):
        open_note(note + (line + "\n") * 100, [verifier])


# --- Checkpoints (C2SP tlog-checkpoint) -----------------------------------------------


def test_vector_sum_golang_org_checkpoint() -> None:
    case = CHECKPOINTS["published"][0]
    log = parse_verifier_key(case["verifier_key"])
    expect = case["expect"]
    checkpoint, opened = open_checkpoint(case["signed_checkpoint"], log, origin=expect["origin"])
    assert checkpoint == Checkpoint(
        expect["origin"], expect["tree_size"], base64.b64decode(expect["root_hash_b64"])
    )
    assert opened.names == ("sum.golang.org",)
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(case["signed_checkpoint"], log)  # origin differs from the key name
    tampered = case["signed_checkpoint"].replace("6476701", "6476702")
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(tampered, log, origin=expect["origin"])


def test_vector_c2sp_example_parses_but_does_not_verify() -> None:
    case = CHECKPOINTS["published"][1]
    body, lines = split_note(case["signed_checkpoint"])
    checkpoint = parse_checkpoint(body)
    assert checkpoint.origin == case["expect"]["origin"]
    assert checkpoint.size == case["expect"]["tree_size"]
    assert base64.b64encode(checkpoint.root).decode() == case["expect"]["root_hash_b64"]
    assert base64.b64decode(lines[0].split(" ")[2])[:4].hex() == "033de0ae"
    sum_db = parse_verifier_key(CHECKPOINTS["published"][0]["verifier_key"])
    # Same key ID as sum.golang.org, but the example signature does not verify under it.
    sum_db = parse_verifier_key(CHECKPOINTS["published"][0]["verifier_key"])
    signature = base64.b64decode(lines[0].split(" ")[2])[4:]
    assert not verify(sum_db.public_key, body.encode(), signature)
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(case["signed_checkpoint"], [sum_db])


@pytest.mark.parametrize("case", DERIVED_CHECKPOINTS)
def test_vector_derived_checkpoint(case: dict[str, Any]) -> None:
    root = bytes.fromhex(case["root_hash_hex"])
    body = checkpoint_body(case["origin"], case["tree_size"], root)
    assert body == case["note_text"]
    assert parse_checkpoint(body) == Checkpoint(case["origin"], case["tree_size"], root)

    log = _skey("Log")
    note = sign_note(body, log.name, log.private_key)
    for extra in case.get("extra_verifier_keys", []):
        signer = _skey(parse_verifier_key(extra).name)
        note = add_signature(note, signer.name, signer.private_key)
    assert note == case["signed_checkpoint"]

    verifiers = [parse_verifier_key(v) for v in case.get("extra_verifier_keys", [])]
    checkpoint, opened = open_checkpoint(note, parse_verifier_key(case["verifier_key"]), verifiers)
    assert checkpoint.size == case["tree_size"]
    assert opened.names == ("Log", *(v.name for v in verifiers))


def test_checkpoint_body_with_extensions_round_trips() -> None:
    root = hashlib.sha256(b"root").digest()
    body = checkpoint_body("example.org/log", 42, root, ["ext one", "ext-two"])
    assert body == f"example.org/log\n42\n{base64.b64encode(root).decode()}\next one\next-two\n"
    assert parse_checkpoint(body) == Checkpoint("example.org/log", 42, root, ("ext one", "ext-two"))
    assert parse_checkpoint(body).body == body


@pytest.mark.parametrize(
    "body",
    [
        "log\n42\n",  # no root line
        "log\n042\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  # leading zero
        "log\n+42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "log\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "log\n\u0664\u0662\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  # Arabic-Indic 42
        "log\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  # 2**64
        "log\n42\nAAAA\n",  # root not 32 bytes
        "log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",  # non-canonical base64
        "log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # no final newline
        "log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nx\n",  # empty extension
        "\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  # empty origin
        "log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 log AAAA\n",  # a note
    ],
)
def test_malformed_checkpoint_bodies(body: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint(body)


def test_checkpoint_body_refuses_bad_fields() -> None:
    root = bytes(32)
    for args in [("", 1, root), ("a\nb", 1, root), ("log", -1, root), ("log", 2**64, root)]:
        with pytest.raises(NoteError):
            checkpoint_body(*args)
    with pytest.raises(NoteError):
        checkpoint_body("log", 1, root[:31])
    with pytest.raises(NoteError):
        checkpoint_body("log", 1, root, [""])


def test_open_checkpoint_needs_the_log_signature() -> None:
    body = checkpoint_body("example.org/log", 3, bytes(32))
    log_key, other_key = generate_private_key(), generate_private_key()
    log = Verifier.from_public_key("example.org/log", public_key_bytes(log_key))
    other = Verifier.from_public_key("other", public_key_bytes(other_key))
    note = sign_note(body, "other", other_key)
    with pytest.raises(NoteError):
        open_checkpoint(note, log, [other])
    note = add_signature(note, "example.org/log", log_key)
    checkpoint, _ = open_checkpoint(note, log, [other])
    assert checkpoint.size == 3


# --- Witness cosignatures (C2SP tlog-cosignature, type 0x04) --------------------------


def test_c2sp_cosignature_example_layout() -> None:
    # The example in C2SP tlog-cosignature.md: key ID, then the 8-byte big-endian
    # timestamp 1679315147 ("time 1679315147" in its signed-message example), then 64 bytes.
    note = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        f"{EM_DASH} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4UR"
        "YN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        f"{EM_DASH} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZ"
        "CB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    _, lines = split_note(note)
    raw = base64.b64decode(lines[1].split(" ")[2])
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == 1679315147


_WITNESS_SEED = hashlib.sha256(b"retrace test witness").digest()


def _checkpoint_note(extensions: tuple[str, ...] = ()) -> tuple[str, Verifier]:
    log_key = generate_private_key()
    body = checkpoint_body("example.org/log", 8, bytes(range(32)), extensions)
    log = Verifier.from_public_key("example.org/log", public_key_bytes(log_key))
    return sign_note(body, "example.org/log", log_key), log


@pytest.mark.parametrize("extensions", [(), ("ext",)])
def test_cosignature_matches_an_independent_encoding(extensions: tuple[str, ...]) -> None:
    note, _ = _checkpoint_note(extensions)
    witness_key = private_key_from_seed(_WITNESS_SEED)
    line = cosign_checkpoint(note, "witness.example/w1", witness_key, 1679315147)

    # Independent encoding per tlog-cosignature: message = "cosignature/v1\ntime <ts>\n" ‖
    # whole note text; line = "— name base64(keyID(0x04) ‖ u64be(ts) ‖ Ed25519 sig)".
    body = split_note(note)[0]
    public = public_key_bytes(witness_key)
    message = f"cosignature/v1\ntime 1679315147\n{body}".encode()
    raw = (
        hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
        + (1679315147).to_bytes(8, "big")
        + witness_key.sign(message)
    )
    assert line == f"{EM_DASH} witness.example/w1 {base64.b64encode(raw).decode()}\n"
    assert cosign_checkpoint(body, "witness.example/w1", witness_key, 1679315147) == line


def test_cosigned_checkpoint_opens_with_timestamps() -> None:
    note, log = _checkpoint_note()
    w1, w2 = generate_private_key(), generate_private_key()
    note = add_cosignature(note, "w1.example", w1, 1_700_000_000)
    note = add_cosignature(note, "w2.example", w2, 1_700_000_005)
    witnesses = [
        parse_verifier_key(witness_verifier_key("w1.example", public_key_bytes(w1))),
        parse_verifier_key(witness_verifier_key("w2.example", public_key_bytes(w2))),
    ]
    checkpoint, opened = open_checkpoint(note, log, witnesses)
    assert checkpoint.size == 8
    assert opened.names == ("example.org/log", "w1.example", "w2.example")
    assert opened.cosignatures == {"w1.example": 1_700_000_000, "w2.example": 1_700_000_005}
    # Unknown witnesses are ignored; a log-only verifier still opens the checkpoint.
    assert open_checkpoint(note, log)[1].names == ("example.org/log",)


def test_cosignature_is_not_a_plain_note_signature() -> None:
    note, log = _checkpoint_note()
    witness = generate_private_key()
    note = add_cosignature(note, "w.example", witness, 5)
    as_plain = Verifier.from_public_key("w.example", public_key_bytes(witness))
    # A type 0x01 verifier has another key ID, so the cosignature line is not its own.
    opened = open_note(note, [log, as_plain])
    assert opened.names == ("example.org/log",)
    assert [s.name for s in opened.unverified] == ["w.example"]


def test_tampered_cosignature_timestamp_fails() -> None:
    note, log = _checkpoint_note()
    witness = generate_private_key()
    line = cosign_checkpoint(note, "w.example", witness, 100)
    prefix, encoded = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[11] ^= 0x01  # last byte of the timestamp
    tampered = note + f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    verifier = Verifier.from_public_key("w.example", public_key_bytes(witness), ALG_COSIGNATURE_V1)
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(tampered, log, [verifier])


def test_cosignature_timestamp_above_2_63_is_refused() -> None:
    note, log = _checkpoint_note()
    witness = generate_private_key()
    with pytest.raises(NoteError, match="outside"):
        cosign_checkpoint(note, "w.example", witness, 2**63)
    with pytest.raises(NoteError, match="outside"):
        cosign_checkpoint(note, "w.example", witness, -1)
    verifier = Verifier.from_public_key("w.example", public_key_bytes(witness), ALG_COSIGNATURE_V1)
    raw = verifier.key_hash + (2**63).to_bytes(8, "big") + bytes(64)
    crafted = note + f"{EM_DASH} w.example {base64.b64encode(raw).decode()}\n"
    with pytest.raises(NoteError, match="2\\*\\*63"):
        open_checkpoint(crafted, log, [verifier])


def test_cosign_refuses_a_non_checkpoint() -> None:
    with pytest.raises(NoteError):
        cosign_checkpoint("just some text\n", "w.example", generate_private_key(), 1)
