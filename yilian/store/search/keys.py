"""Numeric keys of search parameters in the index tables.

A key is a stable hash of "<ResourceType>.<code>" so that index rows need no registry table and every
process agrees without coordination; tests check the R4 parameters have no collisions.
"""

from __future__ import annotations

import zlib
from functools import lru_cache


@lru_cache(maxsize=8192)
def param_key(resource_type: str, code: str) -> int:
    return zlib.crc32(f"{resource_type}.{code}".encode()) & 0x7FFFFFFF
