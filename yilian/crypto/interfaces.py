"""What a crypto suite offers the audit log and the identifier codec, whichever algorithms are behind it.

A suite is chosen by name ("intl" or "guomi", `Settings.crypto_suite`): the Merkle log hashes with its
`hash`, checkpoints are signed with its `signature` scheme, identifiers are sealed with its `aead` and
indexed with its keyed `mac`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class SignatureScheme(Protocol):
    name: str  # "Ed25519", "SM2"

    def generate(self) -> tuple[bytes, bytes]:
        """A new key pair: (private key, public key), raw bytes."""
        ...

    def sign(self, private_key: bytes, public_key: bytes, message: bytes) -> bytes:
        """Sign with a key pair (SM2 hashes the signer's public key into the message digest)."""
        ...

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...


class Aead(Protocol):
    name: str  # "AES-256-GCM", "SM4-GCM"
    key_size: int  # bytes

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Ciphertext with the 16-byte tag appended."""
        ...

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """The plaintext; raises InvalidTag when the ciphertext, nonce, key or aad do not match."""
        ...


@dataclass(frozen=True)
class CryptoSuite:
    name: str  # "intl" or "guomi"
    hash_name: str  # "SHA-256", "SM3"
    hash: Callable[[bytes], bytes]  # 32-byte digest
    mac: Callable[[bytes, bytes], bytes]  # (key, data) -> 32-byte keyed hash (HMAC)
    signature: SignatureScheme
    aead: Aead

    def describe(self) -> str:
        return f"{self.name}: {self.hash_name}, {self.signature.name}, {self.aead.name}"
