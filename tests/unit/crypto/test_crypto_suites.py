"""Both crypto suites: known answers, round trips, tamper detection, key files."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.exceptions import InvalidTag

from yilian.crypto import keys
from yilian.crypto.suites import suite

SUITES = ["intl", "guomi"]


def test_sm3_known_answer() -> None:
    # GB/T 32905-2016 appendix A, example 1
    assert suite("guomi").hash(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_sha256_known_answer() -> None:
    assert suite("intl").hash(b"abc").hex().startswith("ba7816bf8f01cfea414140de5dae2223")


@pytest.mark.parametrize("name", SUITES)
def test_aead_round_trip_and_tamper(name: str) -> None:
    s = suite(name)
    key, nonce = os.urandom(s.aead.key_size), os.urandom(12)
    sealed = s.aead.encrypt(key, nonce, "张三 110101199003077777".encode(), b"Patient/1")
    assert s.aead.decrypt(key, nonce, sealed, b"Patient/1").decode() == "张三 110101199003077777"
    with pytest.raises(InvalidTag):
        s.aead.decrypt(key, nonce, sealed, b"Patient/2")  # bound to its resource
    with pytest.raises(InvalidTag):
        s.aead.decrypt(key, nonce, bytes([sealed[0] ^ 1]) + sealed[1:], b"Patient/1")


@pytest.mark.parametrize("name", SUITES)
def test_signatures(name: str) -> None:
    s = suite(name)
    private, public = s.signature.generate()
    sig = s.signature.sign(private, public, b"checkpoint")
    assert s.signature.verify(public, b"checkpoint", sig)
    assert not s.signature.verify(public, b"checkpoinT", sig)
    _, other = s.signature.generate()
    assert not s.signature.verify(other, b"checkpoint", sig)
    assert not s.signature.verify(public, b"checkpoint", b"\x00" * len(sig))


@pytest.mark.parametrize("name", SUITES)
def test_mac_is_keyed(name: str) -> None:
    s = suite(name)
    assert s.mac(b"k1", b"110101") != s.mac(b"k2", b"110101")
    assert s.mac(b"k1", b"110101") == s.mac(b"k1", b"110101")


def test_unknown_suite() -> None:
    with pytest.raises(ValueError):
        suite("rot13")


def test_key_files_are_created_once_and_private(tmp_path) -> None:  # noqa: ANN001
    s = suite("intl")
    first = keys.load_or_create_signing_key(tmp_path, s, None)
    again = keys.load_or_create_signing_key(tmp_path, s, None)
    assert first == again
    mode = stat.S_IMODE((tmp_path / keys.SIGNING_FILE).stat().st_mode)
    assert mode == 0o600
    data = keys.load_or_create_data_keys(tmp_path, s, None)
    assert len(data.keys[data.active]) == 32 and len(data.index_key) == 32


def test_keys_from_the_environment_win_and_must_match_the_suite(tmp_path) -> None:  # noqa: ANN001
    s = suite("guomi")
    pair = keys.new_keypair(s)
    assert keys.load_or_create_signing_key(tmp_path, s, pair.to_json()) == pair
    assert not (tmp_path / keys.SIGNING_FILE).exists()
    with pytest.raises(ValueError):
        keys.load_or_create_signing_key(tmp_path, suite("intl"), pair.to_json())


def test_rotation_keeps_old_keys() -> None:
    s = suite("guomi")
    data = keys.new_data_keys(s)
    rotated = data.rotated(s)
    assert rotated.active != data.active and data.active in rotated.keys
    assert rotated.index_key == data.index_key
    assert len(rotated.keys[rotated.active]) == 16  # SM4
    assert keys.DataKeys.from_json(rotated.to_json()) == rotated
