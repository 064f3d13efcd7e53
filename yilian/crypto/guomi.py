"""The Chinese commercial-cryptography suite (商用密码): SM3, HMAC-SM3, SM4-GCM and SM2 signatures.

SM3 and SM4 come from `cryptography` (OpenSSL), the library the rest of Yilian uses; hashlib's SM3 is
used when the system OpenSSL offers it (same algorithm, less overhead per call). `cryptography` has no SM2
and no plan for it (pyca/cryptography#6857), so SM2 signatures (GB/T 32918, with the default signer id
and the Z value) come from `gmssl_pyx`, a C extension of GmSSL 3.2 (the reference implementation by
Peking University's GmSSL project), shipped as binary wheels. The pure-Python `gmssl` package was not
chosen: unmaintained since 2023 and not constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from yilian.crypto.interfaces import CryptoSuite

TAG = 16


def _hashlib_sm3() -> bool:
    try:
        hashlib.new("sm3", b"")
    except ValueError:
        return False
    return True


if _hashlib_sm3():

    def sm3(data: bytes) -> bytes:
        return hashlib.new("sm3", data).digest()

    def hmac_sm3(key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, "sm3").digest()

else:  # pragma: no cover - depends on the system OpenSSL

    def sm3(data: bytes) -> bytes:
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()

    def hmac_sm3(key: bytes, data: bytes) -> bytes:
        from cryptography.hazmat.primitives.hmac import HMAC

        m = HMAC(key, hashes.SM3())
        m.update(data)
        return m.finalize()


class Sm4Gcm:
    name = "SM4-GCM"
    key_size = 16  # SM4 has 128-bit keys only

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        return enc.update(plaintext) + enc.finalize() + enc.tag

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if len(ciphertext) < TAG:
            raise InvalidTag()
        body, tag = ciphertext[:-TAG], ciphertext[-TAG:]
        dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(body) + dec.finalize()


class Sm2:
    """SM2 signatures over SM3 with the Z value of the default signer id (GM/T 0009)."""

    name = "SM2"

    @staticmethod
    def _lib():  # noqa: ANN205 - the gmssl_pyx module
        try:
            import gmssl_pyx
        except ImportError as exc:  # pragma: no cover - installed with Yilian
            raise RuntimeError("SM2 needs the gmssl-pyx package (pip install gmssl-pyx)") from exc
        return gmssl_pyx

    def generate(self) -> tuple[bytes, bytes]:
        public, private = self._lib().sm2_key_generate()
        return private, public

    def sign(self, private_key: bytes, public_key: bytes, message: bytes) -> bytes:
        return self._lib().sm2_sign(private_key, public_key, message)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            return bool(self._lib().sm2_verify(public_key, message, signature))
        except Exception:  # noqa: BLE001 - GmSSL raises its own errors for malformed input
            return False


SUITE = CryptoSuite("guomi", "SM3", sm3, hmac_sm3, Sm2(), Sm4Gcm())
