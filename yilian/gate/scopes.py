"""SMART on FHIR v2 scopes (`patient/*.rs`, `user/Observation.cruds`, `system/*.cruds`; v1 `.read` and
`.write` are read as `.rs` and `.cud`): which resource types and interactions a token may use."""

from __future__ import annotations

import re

from yilian.fhir.outcomes import bad_request, forbidden

SCOPE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(c?r?u?d?s?|read|write|\*)$")
V1 = {"read": "rs", "write": "cud", "*": "cruds"}
ROLE_SCOPES = {"patient": "patient/*.rs", "member-system": "system/*.cruds"}  # the default per role


def parse(scope_text: str) -> frozenset[str]:
    """Validated SMART resource scopes from a space-separated string (openid, launch... are kept as is)."""
    out = set()
    for scope in scope_text.split():
        if "/" in scope and not SCOPE.match(scope):
            raise bad_request(f"'{scope}' is not a SMART on FHIR scope (e.g. user/Observation.rs)")
        out.add(scope)
    return frozenset(out)


def _grants(scopes: frozenset[str]) -> list[tuple[str, str]]:
    out = []
    for scope in scopes:
        m = SCOPE.match(scope)
        if m:
            out.append((m.group(2), V1.get(m.group(3), m.group(3))))
    return out


def allows(scopes: frozenset[str] | None, rtype: str, letter: str) -> bool:
    if scopes is None:
        return True
    return any(t in ("*", rtype) and letter in perms for t, perms in _grants(scopes))


def check_scope(scopes: frozenset[str] | None, rtype: str, letter: str) -> None:
    if not allows(scopes, rtype, letter):
        verb = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}[letter]
        raise forbidden(f"Your access token's scopes do not allow you to {verb} {rtype}")


def readable_types(scopes: frozenset[str] | None) -> set[str] | None:
    """Types the scopes may read (None: any)."""
    if scopes is None:
        return None
    grants = [(t, p) for t, p in _grants(scopes) if "r" in p or "s" in p]
    if any(t == "*" for t, _ in grants):
        return None
    return {t for t, _ in grants}


def narrow(requested: frozenset[str], role_default: frozenset[str] | None) -> frozenset[str]:
    """What a token gets: the requested scopes, but no wider than what the user may have."""
    if role_default is None:
        return requested
    return frozenset(s for s in requested if any(_covers(d, s) for d in role_default))


def _covers(wide: str, narrow_scope: str) -> bool:
    a, b = SCOPE.match(wide), SCOPE.match(narrow_scope)
    if not a or not b:
        return wide == narrow_scope
    return (
        a.group(1) == b.group(1)
        and a.group(2) in ("*", b.group(2))
        and set(V1.get(b.group(3), b.group(3))) <= set(V1.get(a.group(3), a.group(3)))
    )
