"""AES-GCM blobs: round trip, key ids, wrong key, tampering, row binding, key parsing, dev key file."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from laneface.errors import DecryptionError, InsecureConfigError, UnknownKeyError
from laneface.records.crypto import (
    BlobCipher,
    generate_key,
    key_id_of,
    load_or_create_dev_key,
    parse_key,
)


def _key() -> bytes:
    return parse_key(generate_key())


def test_round_trip_and_fresh_nonce() -> None:
    cipher = BlobCipher(_key())
    key_id, blob = cipher.encrypt(b"\xff\xd8\xff face", "face_image:abc")
    assert key_id == cipher.current_key_id
    assert b"face" not in blob
    assert cipher.decrypt(key_id, blob, "face_image:abc") == b"\xff\xd8\xff face"
    assert cipher.encrypt(b"same", "x")[1] != cipher.encrypt(b"same", "x")[1]


def test_wrong_key_fails_with_unknown_key() -> None:
    key_id, blob = BlobCipher(_key()).encrypt(b"secret", "face_image:1")
    with pytest.raises(UnknownKeyError, match=key_id):
        BlobCipher(_key()).decrypt(key_id, blob, "face_image:1")


def test_wrong_key_material_under_the_same_id_fails_authentication() -> None:
    _, blob = BlobCipher(_key()).encrypt(b"secret", "face_image:1")
    other = BlobCipher(_key())
    with pytest.raises(DecryptionError):
        other.decrypt(other.current_key_id, blob, "face_image:1")


def test_tampering_and_moving_a_blob_to_another_row_fail() -> None:
    cipher = BlobCipher(_key())
    key_id, blob = cipher.encrypt(b"secret", "face_image:1")
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        cipher.decrypt(key_id, flipped, "face_image:1")
    with pytest.raises(DecryptionError):
        cipher.decrypt(key_id, blob, "face_image:2")
    with pytest.raises(DecryptionError):
        cipher.decrypt(key_id, blob, "template:1")
    with pytest.raises(DecryptionError):
        cipher.decrypt(key_id, b"\x01short", "face_image:1")


def test_previous_keys_decrypt_current_key_encrypts() -> None:
    old, new = _key(), _key()
    old_id, blob = BlobCipher(old).encrypt(b"data", "c")
    rotating = BlobCipher(new, [old])
    assert rotating.current_key_id == key_id_of(new) != old_id
    assert rotating.decrypt(old_id, blob, "c") == b"data"
    assert rotating.key_ids == {old_id, key_id_of(new)}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64 !!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(bytes(32)).decode(),
        base64.b64encode(b"a" * 32).decode(),
    ],
)
def test_placeholder_and_malformed_keys_are_refused(text: str) -> None:
    with pytest.raises(InsecureConfigError):
        parse_key(text)


def test_key_id_does_not_reveal_the_key() -> None:
    key = _key()
    assert key.hex()[:16] != key_id_of(key)
    assert len(key_id_of(key)) == 16


def test_dev_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    first = load_or_create_dev_key(tmp_path / "data")
    path = tmp_path / "data" / "dev-encryption.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_dev_key(tmp_path / "data") == first
    path.chmod(0o644)
    with pytest.raises(InsecureConfigError, match="chmod 600"):
        load_or_create_dev_key(tmp_path / "data")
