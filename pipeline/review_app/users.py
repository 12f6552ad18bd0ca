"""Who may use the review app: a local user file of names, roles and salted password hashes.

The file is JSON, ``{"users": {NAME: {"role": ROLE, "password": HASH or null}}}``, written
atomically with permissions 0600 by ``buyer-abuse users add|remove``. Hashes are Argon2id
(argon2-cffi's defaults, the password-hashing competition's winner and OWASP's first choice),
each with its own random salt inside the hash string. A user without a password can only come
in through a trusted proxy (``--auth proxy``); in either mode the file gives the role.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipeline.errors import ConfigError, UsageError
from pipeline.files import write_json_atomic

ANALYST, VIEWER = "analyst", "viewer"
ROLES = (ANALYST, VIEWER)  # analysts claim and decide; viewers only read
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"  # shown in the history and exports: no spaces or markup
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verified against when the name is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def may_decide(self) -> bool:
        return self.role == ANALYST


def read_users(path: Path) -> dict[str, dict]:
    """NAME -> {"role", "password"} from the user file; an absent file holds no one."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        users = json.loads(path.read_text())["users"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"user file {path} is not a buyer-abuse user file ({exc})") from None
    return users


def add_user(path: Path, name: str, role: str, password: str | None) -> bool:
    """Add `name` with `role` and `password` (None: proxy sign-in only), or replace its entry;
    True when the name was new."""
    if not re.match(NAME_PATTERN, name):
        raise UsageError(
            f"user name {name!r}: 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    if role not in ROLES:
        raise UsageError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise UsageError(f"a password needs at least {MIN_PASSWORD} characters")
    users = read_users(path)
    new = name not in users
    users[name] = {"role": role, "password": None if password is None else _hasher.hash(password)}
    write_json_atomic({"users": users}, path, mode=0o600)
    return new


def remove_user(path: Path, name: str) -> None:
    users = read_users(path)
    if name not in users:
        raise UsageError(f"no user {name!r} in {path}")
    del users[name]
    write_json_atomic({"users": users}, path, mode=0o600)


def authenticate(path: Path, name: str, password: str) -> User | None:
    """The user when `password` is theirs, else None (an unknown name, a proxy-only user, a wrong password)."""
    entry = read_users(path).get(name)
    stored = entry.get("password") if entry else None
    try:
        _hasher.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(name, entry["role"]) if stored else None


def known_user(path: Path, name: str) -> User | None:
    """The user file's entry for `name` (any sign-in), or None."""
    entry = read_users(path).get(name)
    return None if entry is None or entry.get("role") not in ROLES else User(name, entry["role"])
