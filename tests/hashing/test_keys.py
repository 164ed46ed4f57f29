"""Ed25519 keys: RFC 8032 known answers, sign/verify, and the private-key file rules."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hashing import (
    KeyFormatError,
    generate_private_key,
    load_private_key,
    private_key_from_seed,
    public_key_bytes,
    save_private_key,
    sign,
    verify,
)

# RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (message 0x72).
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIG_EMPTY = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
RFC8032_TEST2_SEED = bytes.fromhex(
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
)
RFC8032_TEST2_PUBLIC = bytes.fromhex(
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
)
RFC8032_TEST2_SIG = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)


def test_rfc8032_test_1() -> None:
    key = private_key_from_seed(RFC8032_SEED)
    assert public_key_bytes(key) == RFC8032_PUBLIC
    assert public_key_bytes(key.public_key()) == RFC8032_PUBLIC
    assert sign(key, b"") == RFC8032_SIG_EMPTY
    assert verify(RFC8032_PUBLIC, b"", RFC8032_SIG_EMPTY)


def test_rfc8032_test_2() -> None:
    key = private_key_from_seed(RFC8032_TEST2_SEED)
    assert public_key_bytes(key) == RFC8032_TEST2_PUBLIC
    assert sign(key, b"\x72") == RFC8032_TEST2_SIG
    assert verify(RFC8032_TEST2_PUBLIC, b"\x72", RFC8032_TEST2_SIG)


def test_sign_and_verify_round_trip() -> None:
    key = generate_private_key()
    public = public_key_bytes(key)
    signature = sign(key, b"entry bytes")
    assert len(public) == 32
    assert len(signature) == 64
    assert verify(public, b"entry bytes", signature)


@pytest.mark.parametrize(
    ("message", "signature"),
    [
        (b"", RFC8032_SIG_EMPTY[:-1] + bytes([RFC8032_SIG_EMPTY[-1] ^ 1])),  # flipped bit
        (b"x", RFC8032_SIG_EMPTY),  # other message
        (b"", RFC8032_SIG_EMPTY[:63]),  # truncated
        (b"", RFC8032_SIG_EMPTY + b"\x00"),  # trailing garbage
        (b"", b""),
    ],
)
def test_bad_signatures_do_not_verify(message: bytes, signature: bytes) -> None:
    assert verify(RFC8032_PUBLIC, message, signature) is False


def test_wrong_key_does_not_verify() -> None:
    assert verify(RFC8032_TEST2_PUBLIC, b"", RFC8032_SIG_EMPTY) is False


@pytest.mark.parametrize("public", [b"", RFC8032_PUBLIC[:31], RFC8032_PUBLIC + b"\x00"])
def test_malformed_public_key_is_an_error(public: bytes) -> None:
    with pytest.raises(KeyFormatError, match="32 bytes"):
        verify(public, b"", RFC8032_SIG_EMPTY)


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(KeyFormatError):
        private_key_from_seed(RFC8032_SEED[:31])


# --- Key files ------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    key = generate_private_key()
    path = tmp_path / "log.pem"
    save_private_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert public_key_bytes(load_private_key(path)) == public_key_bytes(key)


def test_save_sets_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        save_private_key(generate_private_key(), tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    path.write_bytes(b"precious")
    with pytest.raises(KeyFormatError, match="refusing to overwrite"):
        save_private_key(generate_private_key(), path)
    assert path.read_bytes() == b"precious"


def test_save_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    (tmp_path / "log.pem").symlink_to(target)
    with pytest.raises(KeyFormatError):
        save_private_key(generate_private_key(), tmp_path / "log.pem")
    assert not target.exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o606, 0o644, 0o610])
def test_load_refuses_a_file_others_can_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "log.pem"
    save_private_key(generate_private_key(), path)
    path.chmod(mode)
    with pytest.raises(KeyFormatError, match="chmod 600"):
        load_private_key(path)


def test_load_accepts_0400(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    save_private_key(generate_private_key(), path)
    path.chmod(0o400)
    load_private_key(path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    "data", [b"", b"not a key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
)
def test_load_refuses_non_pem(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(KeyFormatError, match="not a PEM private key"):
        load_private_key(_write(tmp_path / "k.pem", data))


def test_load_refuses_other_key_types(tmp_path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError, match="not an Ed25519 key"):
        load_private_key(_write(tmp_path / "k.pem", pem))


def test_load_refuses_an_encrypted_key(tmp_path: Path) -> None:
    pem = generate_private_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(KeyFormatError, match="encrypted"):
        load_private_key(_write(tmp_path / "k.pem", pem))


def test_load_refuses_a_directory(tmp_path: Path) -> None:
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises((KeyFormatError, IsADirectoryError)):
        load_private_key(directory)


def test_load_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_private_key(tmp_path / "missing.pem")
