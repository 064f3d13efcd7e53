"""Crypto suites: international (SHA-256, Ed25519, AES-GCM) and Chinese commercial (SM3, SM2, SM4-GCM)."""
