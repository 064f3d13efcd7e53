"""The international suite: SHA-256 and HMAC-SHA-256 (hashlib), Ed25519 and AES-256-GCM (cryptography)."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from yilian.crypto.interfaces import CryptoSuite

RAW = serialization.Encoding.Raw


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


class Ed25519:
    name = "Ed25519"

    def generate(self) -> tuple[bytes, bytes]:
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        return private, key.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)

    def sign(self, private_key: bytes, public_key: bytes, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(private_key).sign(message)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class AesGcm:
    name = "AES-256-GCM"
    key_size = 32

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return AESGCM(key).encrypt(nonce, plaintext, aad)

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)


SUITE = CryptoSuite("intl", "SHA-256", sha256, hmac_sha256, Ed25519(), AesGcm())
