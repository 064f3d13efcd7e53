"""Encryption at rest of patients' direct identifiers: the store's codec (store/codec.py calls it).

Sealing a Patient (or RelatedPerson) before it is written:
- its identifying elements (name, telecom, address, contact, photo, narrative text, and every
  identifier's value) are removed from the stored JSON and kept in one `_sealed` envelope, encrypted with
  the suite's AEAD (AES-256-GCM or SM4-GCM) under the active data key, bound to Type/id (the AAD), the key
  id stored beside it so that a rotated-out key still opens what it sealed;
- its index rows for those elements become keyed hashes (HMAC-SHA-256 or HMAC-SM3 under the index key):
  tokens (identifier, phone, telecom, email) hash the value; strings (name, family, given, address...)
  hash each prefix of the normalised value up to PREFIX_MAX characters, so "starts with" search keeps
  working for a name typed in part. The search side hashes the query value the same way.
Opening on read restores the resource exactly. Keys never enter the database (crypto.keys).

What it costs: equal values have equal hashes within a parameter (a frequency attacker with the database
sees which patients share a surname); `:contains` and sorting by a sealed parameter are refused or
meaningless; a prefix longer than PREFIX_MAX characters matches only the whole value.
"""

from __future__ import annotations

import base64
import os
from dataclasses import replace

import orjson

from yilian.crypto.interfaces import CryptoSuite
from yilian.crypto.keys import DataKeys
from yilian.fhir.outcomes import bad_request
from yilian.store.search.keys import param_key
from yilian.store.search.normalize import normalize_string

SEALED_ELEMENTS = ("name", "telecom", "address", "contact", "photo", "text")
SEALED_TYPES = ("Patient", "RelatedPerson", "Person")  # Person: the master patient index's golden records
# Search parameters whose index rows are hashed, by type and kind.
TOKEN_PARAMS = ("identifier", "telecom", "phone", "email")
STRING_PARAMS = (
    "name",
    "family",
    "given",
    "phonetic",
    "address",
    "address-city",
    "address-country",
    "address-postalcode",
    "address-state",
)
PREFIX_MAX = 12
ENVELOPE = "_sealed"


def _secret(resource: dict) -> dict:
    """What sealing `resource` moves into its envelope: the identifying elements and identifier values."""
    secret: dict = {k: resource[k] for k in SEALED_ELEMENTS if k in resource}
    values = {
        str(i): ident["value"]
        for i, ident in enumerate(resource.get("identifier", []))
        if isinstance(ident, dict) and "value" in ident
    }
    if values:
        secret["identifierValues"] = values
    return secret


def has_identifying_elements(resource: dict) -> bool:
    """Whether sealing `resource` would move anything into an envelope (no key needed to tell)."""
    return bool(_secret(resource))


def is_sealed(content: bytes) -> bool:
    """Whether stored JSON carries an envelope (cheap: no parsing)."""
    return b'"' + ENVELOPE.encode() + b'"' in content


def key_of(content: bytes) -> str | None:
    """The data key id that sealed a stored resource (None: not sealed); no key needed to tell."""
    return orjson.loads(content).get(ENVELOPE, {}).get("k") if is_sealed(content) else None


class IdentifierCodec:
    def __init__(self, suite: CryptoSuite, keys: DataKeys) -> None:
        self.suite, self.keys = suite, keys
        self.tokens = {param_key(t, c): c for t in SEALED_TYPES for c in TOKEN_PARAMS}
        self.strings = {param_key(t, c): c for t in SEALED_TYPES for c in STRING_PARAMS}

    def seals(self, rtype: str) -> bool:
        return rtype in SEALED_TYPES

    # ---- content ----------------------------------------------------------------------------------

    def seal_resource(self, resource: dict) -> dict:
        """A copy of `resource` with its identifying elements in an encrypted envelope."""
        secret = _secret(resource)
        if not secret:
            return resource
        out = {k: v for k, v in resource.items() if k not in SEALED_ELEMENTS}
        if "identifierValues" in secret:
            out["identifier"] = [
                {k: v for k, v in ident.items() if k != "value"} if isinstance(ident, dict) else ident
                for ident in resource["identifier"]
            ]
        nonce = os.urandom(12)
        key_id = self.keys.active
        sealed = self.suite.aead.encrypt(
            self.keys.keys[key_id], nonce, orjson.dumps(secret), self._aad(resource)
        )
        out[ENVELOPE] = {"k": key_id, "n": _b64(nonce), "c": _b64(sealed)}
        return out

    def open_resource(self, stored: dict) -> dict:
        envelope = stored.get(ENVELOPE)
        if not isinstance(envelope, dict):
            return stored
        key = self.keys.keys.get(envelope["k"])
        if key is None:
            raise RuntimeError(
                f"data key {envelope['k']} is missing from the key file: cannot open the record"
            )
        secret = orjson.loads(
            self.suite.aead.decrypt(key, _unb64(envelope["n"]), _unb64(envelope["c"]), self._aad(stored))
        )
        out = {k: v for k, v in stored.items() if k != ENVELOPE}
        values = secret.pop("identifierValues", {})
        if values:
            out["identifier"] = [
                ({**ident, "value": values[str(i)]} if str(i) in values else ident)
                for i, ident in enumerate(out.get("identifier", []))
            ]
        out.update(secret)
        return out

    def seal(self, rtype: str, content: bytes) -> bytes:
        if rtype not in SEALED_TYPES:
            return content
        return orjson.dumps(self.seal_resource(orjson.loads(content)))

    def open(self, rtype: str, content: bytes) -> bytes:
        if rtype not in SEALED_TYPES or not is_sealed(content):
            return content
        return orjson.dumps(self.open_resource(orjson.loads(content)))

    def key_of(self, content: bytes) -> str | None:
        """The data key id that sealed a stored resource (None: not sealed)."""
        return key_of(content)

    @staticmethod
    def _aad(resource: dict) -> bytes:
        return f"{resource.get('resourceType')}/{resource.get('id')}".encode()

    # ---- index rows -------------------------------------------------------------------------------

    def hash_value(self, code: str, value: str) -> str:
        return self.suite.mac(self.keys.index_key, f"{code}\x1f{value}".encode()).hex()[:32]

    def seal_index(self, rtype: str, index: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
        if rtype not in SEALED_TYPES:
            return index
        out = dict(index)
        if "tokens" in index:
            out["tokens"] = [
                (k, system, self.hash_value(self.tokens[k], value))
                if k in self.tokens
                else (k, system, value)
                for k, system, value in index["tokens"]
            ]
        if "strings" in index:
            rows = set()
            for k, value in index["strings"]:
                if k in self.strings:
                    rows.update((k, self.hash_value(self.strings[k], p)) for p in _prefixes(value))
                else:
                    rows.add((k, value))
            out["strings"] = list(rows)
        return out

    def seal_prepared(self, p):  # noqa: ANN001, ANN201 - a store.rows.Prepared, returned sealed (a copy)
        if p.type not in SEALED_TYPES:
            return p
        return replace(p, content=self.seal(p.type, p.content), index=self.seal_index(p.type, p.index))

    # ---- queries ----------------------------------------------------------------------------------

    def seal_query(self, query):  # noqa: ANN001, ANN201 - a SearchQuery, returned with hashed values
        criteria = [self._criterion(query.resource_type, c) for c in query.criteria]
        for code, _desc in query.sort:
            if query.resource_type in SEALED_TYPES and code in STRING_PARAMS:
                raise bad_request(f"Sorting by {code} is not possible: it is encrypted at rest")
        return replace(query, criteria=criteria)

    def _criterion(self, rtype: str, c):  # noqa: ANN001, ANN202 - a Criterion
        target, code = c.chain if c.chain else (rtype, c.param.code)
        if target not in SEALED_TYPES or c.modifier == "missing":
            return c
        if code in TOKEN_PARAMS:
            if c.modifier in ("text", "in", "not-in", "above", "below"):
                raise bad_request(
                    f"{code}:{c.modifier} cannot search encrypted identifiers; search the value"
                )
            return replace(c, values=tuple(self._token(code, v) for v in c.values))
        if code in STRING_PARAMS:
            if c.modifier in ("contains", "text"):
                raise bad_request(
                    f"{code}:{c.modifier} cannot search encrypted names and addresses; "
                    "search by the beginning of the value"
                )
            return replace(c, values=tuple(self._string(code, v) for v in c.values))
        return c

    def _token(self, code: str, value: str) -> str:
        if "|" in value:
            system, _, v = value.partition("|")
            return f"{system}|{self.hash_value(code, v)}" if v else value
        return self.hash_value(code, value)

    def _string(self, code: str, value: str) -> str:
        return self.hash_value(code, normalize_string(value))


def _prefixes(value: str) -> list[str]:
    """Every prefix up to PREFIX_MAX characters, and the whole value (the index keeps them hashed)."""
    return [value[:n] for n in range(1, min(len(value), PREFIX_MAX) + 1)] + [value]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
