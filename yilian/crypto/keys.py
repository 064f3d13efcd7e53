"""Keys kept outside the database: the audit log's signing key and the identifier data keys.

Each is a small JSON file in the key directory (created on first use, readable by the owner only), or
the same JSON in an environment variable, which wins (YILIAN_AUDIT_SIGNING_KEY, YILIAN_DATA_KEYS):
a deployment can mount its keys from a secret store instead of a disk.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from yilian.crypto.interfaces import CryptoSuite

SIGNING_FILE = "audit-signing.json"
DATA_KEYS_FILE = "data-keys.json"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


@dataclass(frozen=True)
class KeyPair:
    suite: str
    algorithm: str
    private: bytes
    public: bytes

    def to_json(self) -> str:
        return json.dumps(
            {
                "suite": self.suite,
                "algorithm": self.algorithm,
                "private": b64(self.private),
                "public": b64(self.public),
            },
            indent=1,
        )

    @staticmethod
    def from_json(text: str) -> KeyPair:
        data = json.loads(text)
        return KeyPair(data["suite"], data["algorithm"], unb64(data["private"]), unb64(data["public"]))

    def public_json(self) -> str:
        return json.dumps({"suite": self.suite, "algorithm": self.algorithm, "public": b64(self.public)})


def new_keypair(suite: CryptoSuite) -> KeyPair:
    private, public = suite.signature.generate()
    return KeyPair(suite.name, suite.signature.name, private, public)


def write_secret(path: Path, text: str) -> None:
    """Create `path` readable by its owner only; never overwrite an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def replace_secret(path: Path, text: str) -> None:
    """Atomically replace a key file (rotation), keeping it owner-only."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    write_secret(tmp, text)
    os.replace(tmp, path)


def load_or_create_signing_key(key_dir: Path, suite: CryptoSuite, env_value: str | None) -> KeyPair:
    if env_value:
        key = KeyPair.from_json(env_value)
    else:
        path = key_dir / SIGNING_FILE
        if not path.exists():
            with contextlib.suppress(FileExistsError):  # another process created it first
                write_secret(path, new_keypair(suite).to_json())
        key = KeyPair.from_json(path.read_text())
    if key.suite != suite.name:
        raise ValueError(
            f"The audit signing key is for the '{key.suite}' suite but the log uses '{suite.name}'"
        )
    return key


@dataclass
class DataKeys:
    """Data-encryption keys by id (the newest is `active`) and the key of the blind index."""

    suite: str
    active: str
    keys: dict[str, bytes] = field(default_factory=dict)
    index_key: bytes = b""

    def to_json(self) -> str:
        return json.dumps(
            {
                "suite": self.suite,
                "active": self.active,
                "keys": {k: b64(v) for k, v in self.keys.items()},
                "index_key": b64(self.index_key),
            },
            indent=1,
        )

    @staticmethod
    def from_json(text: str) -> DataKeys:
        d = json.loads(text)
        keys = {k: unb64(v) for k, v in d["keys"].items()}
        return DataKeys(d["suite"], d["active"], keys, unb64(d["index_key"]))

    def rotated(self, suite: CryptoSuite) -> DataKeys:
        """A new active key; the old ones stay for reading what they sealed until it is re-sealed."""
        key_id = f"k{int(time.time())}-{secrets.token_hex(2)}"
        return DataKeys(
            self.suite,
            key_id,
            {**self.keys, key_id: secrets.token_bytes(suite.aead.key_size)},
            self.index_key,
        )


def new_data_keys(suite: CryptoSuite) -> DataKeys:
    return DataKeys(
        suite.name, "k1", {"k1": secrets.token_bytes(suite.aead.key_size)}, secrets.token_bytes(32)
    )


def load_or_create_data_keys(key_dir: Path, suite: CryptoSuite, env_value: str | None) -> DataKeys:
    if env_value:
        keys = DataKeys.from_json(env_value)
    else:
        path = key_dir / DATA_KEYS_FILE
        if not path.exists():
            with contextlib.suppress(FileExistsError):
                write_secret(path, new_data_keys(suite).to_json())
        keys = DataKeys.from_json(path.read_text())
    if keys.suite != suite.name:
        raise ValueError(f"The data keys are for the '{keys.suite}' suite, not '{suite.name}'")
    return keys
