"""AES-256-GCM encryption of face images and templates at rest.

A blob is ``b"\\x01" + nonce(12) + ciphertext_and_tag``. The associated data binds it to its row (blob id,
kind) and to its key id, so a blob copied to another row or relabelled with another key fails to decrypt.
The key id is the first 8 bytes of SHA-256 over a label and the key (hex): it names the key without
revealing it. Several keys can be configured: the current one encrypts, all of them decrypt (rotation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from laneface.errors import DecryptionError, InsecureConfigError, UnknownKeyError

__all__ = ["KEY_BYTES", "BlobCipher", "generate_key", "key_id_of", "load_or_create_dev_key", "parse_key"]

KEY_BYTES = 32
_VERSION = b"\x01"
_NONCE_BYTES = 12
DEV_KEY_FILE = "dev-encryption.key"


def generate_key() -> str:
    """A new random key, base64 text (what ``privacy.encryption_key`` expects)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_key(text: str, *, name: str = "privacy.encryption_key") -> bytes:
    """The 32 key bytes of base64 ``text``; placeholders (too short, one repeated byte) are refused."""
    cleaned = text.strip()
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.urlsafe_b64decode(cleaned)
        except (binascii.Error, ValueError):
            raise InsecureConfigError(f"{name} is not base64 (expected 32 random bytes, base64)") from None
    if len(raw) != KEY_BYTES:
        raise InsecureConfigError(f"{name} must be {KEY_BYTES} bytes (base64), got {len(raw)} bytes")
    if len(set(raw)) < 8:
        raise InsecureConfigError(f"{name} looks like a placeholder, not random bytes: generate one")
    return raw


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"laneface-blob-key-id\x00" + key).hexdigest()[:16]


class BlobCipher:
    """Encrypts with the current key; decrypts with any configured key (selected by key id)."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        for key in (current, *previous):
            if len(key) != KEY_BYTES:
                raise InsecureConfigError(f"encryption keys must be {KEY_BYTES} bytes")
        self._current_id = key_id_of(current)
        self._keys = {key_id_of(k): AESGCM(k) for k in (*previous, current)}

    @property
    def current_key_id(self) -> str:
        return self._current_id

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    @staticmethod
    def _aad(key_id: str, context: str) -> bytes:
        return b"laneface-blob-v1\x00" + key_id.encode("ascii") + b"\x00" + context.encode("utf-8")

    def encrypt(self, plaintext: bytes, context: str) -> tuple[str, bytes]:
        """(key id, blob). ``context`` names the row (e.g. ``"face_image:<blob id>"``) and must be given again
        to decrypt."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._current_id].encrypt(nonce, plaintext, self._aad(self._current_id, context))
        return self._current_id, _VERSION + nonce + sealed

    def decrypt(self, key_id: str, blob: bytes, context: str) -> bytes:
        aead = self._keys.get(key_id)
        if aead is None:
            raise UnknownKeyError(
                f"biometric data was encrypted with key {key_id}, which is not configured "
                "(set privacy.encryption_key or add it to privacy.previous_encryption_keys)"
            )
        if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _VERSION:
            raise DecryptionError("biometric blob is malformed")
        nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, sealed, self._aad(key_id, context))
        except InvalidTag:
            raise DecryptionError("biometric blob failed authentication (altered, or wrong key material)") from None


def load_or_create_dev_key(data_dir: Path) -> bytes:
    """Development only: the key in ``<data dir>/dev-encryption.key``, created (mode 0600) when missing."""
    path = data_dir / DEV_KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InsecureConfigError(f"{path} is readable by other users: chmod 600 it") from None
        return parse_key(path.read_text(encoding="ascii"), name=str(path))
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(generate_key() + "\n")
    return parse_key(path.read_text(encoding="ascii"), name=str(path))
