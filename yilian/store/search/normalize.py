"""String normalisation shared by index extraction and search: casefold, strip accents, keep CJK as is."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=65536)
def normalize_string(value: str) -> str:
    if value.isascii():
        return value.casefold().strip()
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()
