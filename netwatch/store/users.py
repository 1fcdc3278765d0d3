"""Workbench accounts: analysts bound to regions and admins, with argon2id password hashes (argon2-cffi)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from netwatch.domain.clock import utcnow
from netwatch.domain.vocab import ROLES
from netwatch.store.schema import StoreError
from netwatch.store.workbench_models import User

_HASHER = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("netwatch: no such user")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    regions: tuple[str, ...]

    @property
    def scope(self) -> tuple[str, ...] | None:
        """The regions whose leads this account sees and changes; None: all (an admin)."""
        return None if self.role == "admin" else self.regions


def _reading(engine: sa.Engine) -> sa.Connection:
    """A read-only connection: on SQLite it takes no write lock (a login must not wait for a crawl's batch)."""
    return engine.connect().execution_options(netwatch_readonly=True)


def _account(row: User | sa.Row) -> Account:
    return Account(row.name, row.role, tuple(part for part in row.regions.split(",") if part))


def add_user(engine: sa.Engine, name: str, password: str, role: str, regions: Sequence[str] = ()) -> Account:
    """Create or update (password, role, regions) the account `name`."""
    name = name.strip()
    if not name:
        raise StoreError("a user needs a name")
    if role not in ROLES:
        raise StoreError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise StoreError(f"a password needs at least {MIN_PASSWORD} characters")
    regions = tuple(dict.fromkeys(region.strip() for region in regions if region.strip()))
    if role == "analyst" and not regions:
        raise StoreError("an analyst needs at least one --region (the leads they see and change)")
    if any("," in region for region in regions):
        raise StoreError("a region name cannot hold a comma")
    values = {"password_hash": _HASHER.hash(password), "role": role, "regions": "," + "".join(f"{r}," for r in regions),
              "active": True}
    with engine.begin() as conn:
        if conn.scalar(sa.select(User.id).where(User.name == name)) is None:
            conn.execute(sa.insert(User).values(name=name, created_at=utcnow(), **values))
        else:
            conn.execute(sa.update(User).where(User.name == name).values(**values))
    return Account(name, role, regions)


def authenticate(engine: sa.Engine, name: str, password: str) -> Account | None:
    """The account when the password is right (and the account active), else None."""
    with _reading(engine) as conn:
        row = conn.execute(sa.select(User).where(User.name == name, User.active.is_(True))).one_or_none()
    try:
        _HASHER.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return _account(row) if row else None


def get_user(engine: sa.Engine, name: str) -> Account | None:
    with _reading(engine) as conn:
        row = conn.execute(sa.select(User).where(User.name == name, User.active.is_(True))).one_or_none()
    return _account(row) if row else None


def list_users(engine: sa.Engine) -> list[Account]:
    with _reading(engine) as conn:
        return [_account(row) for row in conn.execute(sa.select(User).order_by(User.name))]
