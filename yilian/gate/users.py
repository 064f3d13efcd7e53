"""Users and their bearer tokens. Tokens are stored only as SHA-256 hashes; the plain token is shown once.

The governance issue adds passwords (argon2), SMART scopes and expiring sessions on top of this.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select

from yilian.fhir.outcomes import bad_request, unauthorized
from yilian.gate.caller import PURPOSES, ROLES, Caller
from yilian.store import dialect
from yilian.store.tables import users

U = users.c


@dataclass(frozen=True)
class User:
    id: str
    name: str
    organization: str | None
    roles: frozenset[str]
    patient_id: str | None = None
    scopes: frozenset[str] | None = None

    def caller(self, purpose: str | None = None, scopes: frozenset[str] | None = None) -> Caller:
        from yilian.gate.policy import default_purpose

        purpose = purpose or default_purpose(self.roles)
        return Caller(
            self.id,
            self.name,
            self.organization,
            self.roles,
            purpose,
            self.patient_id,
            scopes if scopes is not None else self.scopes,
        )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    engine: Engine,
    user_id: str,
    name: str,
    organization: str | None,
    roles: list[str],
    token: str | None = None,
) -> str:
    """Create or replace a user; returns their bearer token (a new random one unless given)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise bad_request(f"Unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    token = token or secrets.token_urlsafe(24)
    row = {
        "id": user_id,
        "name": name,
        "organization": organization,
        "roles": " ".join(sorted(roles)),
        "token_hash": token_hash(token),
        "active": True,
    }
    with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
        conn.execute(users.delete().where(U.id == user_id))
        conn.execute(users.insert().values(**row))
    return token


def _user(row) -> User:  # noqa: ANN001 - a Row
    roles = frozenset(row.roles.split())
    # A patient user's id is "patient:<Patient id>": their record is that Patient's compartment.
    patient_id = row.id.split(":", 1)[1] if row.id.startswith("patient:") else None
    scopes = frozenset(row.scopes.split()) if getattr(row, "scopes", None) else None
    return User(row.id, row.name, row.organization, roles, patient_id, scopes)


def user_by_token(engine: Engine, token: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(U.token_hash == token_hash(token), U.active.is_(True))).first()
    return _user(row) if row else None


def user_by_id(engine: Engine, user_id: str) -> User | None:
    """An active user by id (a deactivated user's sessions stop working at once)."""
    with engine.connect() as conn:
        row = conn.execute(select(users).where(U.id == user_id, U.active.is_(True))).first()
    return _user(row) if row else None


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(U.id))]


def authenticate(engine: Engine, authorization: str | None, purpose: str | None) -> Caller:
    """The Caller behind an `Authorization: Bearer <token>` header, or a 401."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise unauthorized("Sign in first: send 'Authorization: Bearer <token>'")
    from yilian.gate import tokens

    token = authorization[7:].strip()
    found = tokens.lookup(engine, token)
    user, scopes = found if found else (user_by_token(engine, token), None)
    if user is None:
        raise unauthorized("The access token is not valid (unknown, expired or revoked)")
    purpose = (purpose or user.caller().purpose).upper()
    if purpose not in PURPOSES:
        raise bad_request(f"Unknown purpose of use '{purpose}'; use one of {', '.join(PURPOSES)}")
    return user.caller(purpose, scopes)
