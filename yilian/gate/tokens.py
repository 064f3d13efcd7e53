"""Passwords (argon2id) and OAuth2 access tokens with SMART on FHIR v2 scopes.

`POST /auth/token` takes grant_type=password (username, password, scope) for people and
client_credentials (client_id, client_secret, scope) for member systems; it returns a bearer token that
expires after Settings.token_minutes. Tokens are stored as SHA-256 hashes and can be revoked.
"""

from __future__ import annotations

import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select, update

from yilian.fhir.outcomes import unauthorized
from yilian.gate import scopes as smart
from yilian.gate.tables import access_tokens
from yilian.gate.users import User, _user, token_hash
from yilian.store import dialect
from yilian.store.tables import users

U, T = users.c, access_tokens.c
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def set_password(engine: Engine, user_id: str, password: str) -> None:
    with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
        conn.execute(update(users).where(U.id == user_id).values(password_hash=hash_password(password)))


def check_password(engine: Engine, user_id: str, password: str) -> User:
    """The active user with this id and password, or a 401 that does not say which was wrong."""
    with engine.connect() as conn:
        row = conn.execute(select(users).where(U.id == user_id, U.active.is_(True))).first()
    try:
        if row is None or not row.password_hash or not _hasher.verify(row.password_hash, password):
            raise VerificationError
    except (VerificationError, InvalidHashError):
        raise unauthorized("The user name or the password is wrong") from None
    return _user(row)


def role_scopes(user: User) -> frozenset[str] | None:
    """The widest scopes a user may hold (None: unrestricted by scope; the roles decide)."""
    if user.roles & {"patient"}:
        return frozenset({smart.ROLE_SCOPES["patient"]})
    return None


def issue(engine: Engine, user: User, requested: str, minutes: float) -> tuple[str, frozenset[str], float]:
    wanted = (
        smart.parse(requested) if requested.strip() else (role_scopes(user) or frozenset({"user/*.cruds"}))
    )
    granted = smart.narrow(wanted, role_scopes(user))
    token = secrets.token_urlsafe(32)
    expires = time.time() + minutes * 60
    with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
        conn.execute(
            access_tokens.insert().values(
                token_hash=token_hash(token),
                user_id=user.id,
                scopes=" ".join(sorted(granted)),
                expires=expires,
                revoked=False,
            )
        )
    return token, granted, expires


def lookup(engine: Engine, token: str) -> tuple[User, frozenset[str]] | None:
    """The user and scopes behind an unexpired, unrevoked OAuth2 token."""
    with engine.connect() as conn:
        row = conn.execute(
            select(users, T.scopes.label("token_scopes"))
            .join_from(access_tokens, users, T.user_id == U.id)
            .where(
                T.token_hash == token_hash(token),
                T.revoked.is_(False),
                T.expires > time.time(),
                U.active.is_(True),
            )
        ).first()
    return (_user(row), frozenset(row.token_scopes.split())) if row else None


def revoke(engine: Engine, token: str) -> None:
    with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
        conn.execute(update(access_tokens).where(T.token_hash == token_hash(token)).values(revoked=True))
