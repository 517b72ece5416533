"""API keys: scoped to one store and to read or write, stored hashed.

A key looks like `wk_<prefix>_<secret>`. The prefix finds the row; the secret is compared
by its SHA-256 in constant time. The secret is 32 random bytes, so a slow password hash
would add latency to every request without adding safety.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str
    secret_hash: str
    token: str  # shown once, never stored


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key of one store, with its scope."""

    store_id: int
    scope: Scope
    key_prefix: str

    def may(self, needed: Scope) -> bool:
        return self.scope is Scope.WRITE or needed is Scope.READ


def new_key() -> NewKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(prefix, hash_secret(secret), f"wk_{prefix}_{secret}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "wk" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
