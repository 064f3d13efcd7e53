"""Blocking keys: the real-time twin of the spec's SQL blocking rules.

A record gets one key per blocking rule and combination of values ("name-birth:li tao|1978-04-26"); two
records are candidates when they share a key, exactly the pairs the rule `l.x = r.x and l.y = r.y` (array
columns exploded) finds in batch. Keys are indexed in `mpi_keys`, so finding candidates is one indexed
look-up per key, whatever the size of the index.
"""

from __future__ import annotations

import itertools

from yilian.identity.compare import Spec

MAX_KEY = 160


def keys(spec: Spec, features: dict) -> list[str]:
    out: list[str] = []
    for rule in spec.blocking:
        values = []
        for col in rule.columns:
            v = features.get(col)
            if v is None or v == []:
                break
            values.append(v if col in rule.arrays else [v])
        else:
            for combo in itertools.product(*values):
                out.append(f"{rule.name}:{'|'.join(str(x) for x in combo)}"[:MAX_KEY])
    return list(dict.fromkeys(out))


def identifier_key(system: str | None, value: str) -> str:
    """The PIX look-up key of a local identifier (not a blocking key: never used to find candidates)."""
    return f"ident:{system or ''}|{value}"[:MAX_KEY]
