"""Signed checkpoints (tree size + root hash) as signed notes, the format of C2SP `tlog-checkpoint`:

    <origin>
    <tree size>
    <base64 root hash>
    suite <intl|guomi>

    — <signer name> <base64(4-byte key id || signature)>
    — <member name> <base64(...)>          (countersignatures: the same body, signed by a member)

The log signs every checkpoint it makes; a member countersigns a checkpoint with its own key and keeps a
copy, so a log rewritten later cannot match what the members hold.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from yilian.crypto.interfaces import CryptoSuite
from yilian.crypto.keys import KeyPair

DASH = "\u2014"
KEY_TYPE = {"Ed25519": b"\x01", "SM2": b"\x53"}  # 0x01 as in C2SP notes; 0x53 ('S') Yilian's for SM2


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes
    suite: str
    signatures: list[tuple[str, str]] = field(default_factory=list)  # (name, base64 key id || signature)

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\nsuite {self.suite}\n"

    def note(self) -> str:
        lines = "".join(f"{DASH} {name} {sig}\n" for name, sig in self.signatures)
        return f"{self.body()}\n{lines}"

    def signed_by(self) -> list[str]:
        return [name for name, _ in self.signatures]


def key_id(suite: CryptoSuite, name: str, algorithm: str, public: bytes) -> bytes:
    return suite.hash(name.encode() + b"\n" + KEY_TYPE.get(algorithm, b"\xff") + public)[:4]


def sign(cp: Checkpoint, suite: CryptoSuite, name: str, key: KeyPair) -> Checkpoint:
    """Add `name`'s signature (the log's, or a member's countersignature) over the checkpoint body."""
    if key.algorithm != suite.signature.name:
        raise ValueError(f"a {key.algorithm} key cannot sign a {suite.name} checkpoint")
    sig = suite.signature.sign(key.private, key.public, cp.body().encode())
    value = base64.b64encode(key_id(suite, name, key.algorithm, key.public) + sig).decode()
    cp.signatures = [s for s in cp.signatures if s[0] != name] + [(name, value)]
    return cp


def verify(cp: Checkpoint, suite: CryptoSuite, name: str, algorithm: str, public: bytes) -> bool:
    """True when `name` signed this checkpoint with `public`."""
    want = key_id(suite, name, algorithm, public)
    for signer, value in cp.signatures:
        if signer != name:
            continue
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            return False
        if raw[:4] == want and suite.signature.verify(public, cp.body().encode(), raw[4:]):
            return True
    return False


def parse(note: str) -> Checkpoint:
    """A checkpoint from its note text; raises ValueError when it is not one."""
    body, sep, sigs = note.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) < 3:
        raise ValueError("not a checkpoint note: it needs origin, size and root, then a blank line")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except ValueError as exc:
        raise ValueError(f"not a checkpoint note: {exc}") from None
    suite = next((line[6:] for line in lines[3:] if line.startswith("suite ")), "intl")
    signatures = []
    for line in sigs.splitlines():
        if line.startswith(DASH + " "):
            parts = line[2:].rsplit(" ", 1)
            if len(parts) == 2:
                signatures.append((parts[0], parts[1]))
    return Checkpoint(lines[0], size, root, suite, signatures)
