"""Personal data at rest: sealed with AES-256-GCM before it reaches Redis or a file.

A sealed value is ``version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext+tag``.
The key id (the first bytes of the key's SHA-256) tells a value sealed under another key from a
damaged one, so an operator who started a hub with the wrong ``MADOGUCHI_DATA_KEY`` gets a clear
error rather than garbage. The associated data binds a value to where it belongs (a session id and
a field name): a sealed My Number copied into another session does not open there.

The key comes from configuration (``MADOGUCHI_DATA_KEY``: 32 bytes, base64) and never from Redis.
Every hub of a deployment must share it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12


class VaultError(Exception):
    """A sealed value does not open: ``wrong_key`` or ``damaged``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DataKey:
    """The data key; prints as ``**********``."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise ValueError(f"a data key is {KEY_BYTES} bytes, not {len(raw)}")
        self._raw = raw

    @classmethod
    def from_text(cls, text: str) -> DataKey:
        """From base64 (standard or URL-safe, padding optional)."""
        cleaned = text.strip()
        try:
            raw = base64.urlsafe_b64decode(
                cleaned.replace("+", "-").replace("/", "_") + "=" * (-len(cleaned) % 4)
            )
        except (binascii.Error, ValueError):
            raise ValueError("the data key is not base64") from None
        return cls(raw)

    @classmethod
    def generate(cls) -> DataKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    def to_text(self) -> str:
        return base64.urlsafe_b64encode(self._raw).decode()

    @property
    def raw(self) -> bytes:
        return self._raw

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(self._raw).digest()[:4]

    def __repr__(self) -> str:
        return "DataKey('**********')"

    __str__ = __repr__


def load_or_create_key_file(path: Path) -> DataKey:
    """The key kept in ``path`` (created 0600 when missing): for one hub on one machine, such as
    the demo. A deployment with several hubs sets ``MADOGUCHI_DATA_KEY`` on all of them."""
    if path.exists():
        return DataKey.from_text(path.read_text())
    key = DataKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.to_text() + "\n")
    log.warning("no MADOGUCHI_DATA_KEY set: generated a data key in %s", path)
    return key


class Vault:
    def __init__(self, key: DataKey) -> None:
        self._key = key
        self._aead = AESGCM(key.raw)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        head = bytes([VERSION]) + self._key.key_id
        return head + nonce + self._aead.encrypt(nonce, plaintext, head + context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        if len(sealed) < 1 + 4 + NONCE_BYTES + 16 or sealed[0] != VERSION:
            raise VaultError("damaged", "not a sealed value")
        head, nonce, body = sealed[:5], sealed[5 : 5 + NONCE_BYTES], sealed[5 + NONCE_BYTES :]
        if head[1:] != self._key.key_id:
            raise VaultError("wrong_key", "sealed under another data key")
        try:
            return self._aead.decrypt(nonce, body, head + context.encode())
        except InvalidTag:
            raise VaultError(
                "damaged", "the sealed value was altered or belongs elsewhere"
            ) from None

    def seal_text(self, text: str, context: str) -> str:
        """Sealed and base64-encoded, for a Redis hash field."""
        return base64.b64encode(self.seal(text.encode(), context)).decode()

    def open_text(self, sealed: str, context: str) -> str:
        try:
            raw = base64.b64decode(sealed, validate=True)
        except (binascii.Error, ValueError):
            raise VaultError("damaged", "not a sealed value") from None
        return self.open(raw, context).decode()
