"""Choosing a crypto suite by name."""

from __future__ import annotations

from yilian.crypto.interfaces import CryptoSuite

NAMES = ("intl", "guomi")


def suite(name: str) -> CryptoSuite:
    """The suite called `name`: "intl" (SHA-256, Ed25519, AES-256-GCM) or "guomi" (SM3, SM2, SM4-GCM)."""
    if name == "intl":
        from yilian.crypto.intl import SUITE
    elif name == "guomi":
        from yilian.crypto.guomi import SUITE
    else:
        raise ValueError(f"Unknown crypto suite '{name}'; choose one of {', '.join(NAMES)}")
    return SUITE
