"""Password hashing for staff sign-in: argon2id through argon2-cffi, with async variants that hash in a
worker thread so the event loop never waits ~0.3 s for one sign-in. Those threads are few (HASHING_THREADS):
each hash holds its memory cost (64 MiB by default) while it runs, and Python's default pool would run as many
as the machine has cores plus four, a shift's sign-ins at once past a container's memory limit; the rest wait
their turn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, NamedTuple, TypeVar

import argon2
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
HASHING_THREADS = 2  # hashes (or verifications) at once in a process: 128 MiB at argon2-cffi's default cost
_HASHING = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="argon2")
T = TypeVar("T")


class PasswordTooShort(ValueError):
    """A new password is shorter than MIN_PASSWORD_LENGTH characters."""

    def __init__(self, length: int) -> None:
        self.length = length
        super().__init__(f"a password needs at least {MIN_PASSWORD_LENGTH} characters (this one has {length})")


@dataclass(frozen=True)
class PasswordParams:
    """argon2id cost parameters; the defaults are argon2-cffi's (RFC 9106 low-memory profile).

    Tests use PasswordParams(time_cost=1, memory_cost=8192). Raising any of them makes existing hashes
    report `needs_rehash` at their owner's next sign-in.
    """

    time_cost: int = argon2.DEFAULT_TIME_COST
    memory_cost: int = argon2.DEFAULT_MEMORY_COST  # KiB
    parallelism: int = argon2.DEFAULT_PARALLELISM
    hash_len: int = argon2.DEFAULT_HASH_LENGTH
    salt_len: int = argon2.DEFAULT_RANDOM_SALT_LENGTH


DEFAULT_PARAMS = PasswordParams()


class PasswordCheck(NamedTuple):
    """The answer of check_password: whether it matched, and the hash to store instead when the stored
    one was made with other parameters (None when nothing is to be stored)."""

    ok: bool
    new_hash: str | None


@lru_cache(maxsize=8)
def _hasher(params: PasswordParams) -> PasswordHasher:
    return PasswordHasher(time_cost=params.time_cost, memory_cost=params.memory_cost,
                          parallelism=params.parallelism, hash_len=params.hash_len, salt_len=params.salt_len)


@lru_cache(maxsize=8)
def _dummy_hash(params: PasswordParams) -> str:
    # Verified against when the account does not exist, so an unknown login costs as much as a known one.
    return _hasher(params).hash("no account has this password")


def check_password_policy(password: str) -> None:
    """Raise PasswordTooShort when a new password is too short (only new passwords are checked)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(len(password))


def hash_password(password: str, *, params: PasswordParams = DEFAULT_PARAMS) -> str:
    """Hash a new password (argon2id, encoded with its parameters and salt); PasswordTooShort if too short."""
    check_password_policy(password)
    return _hasher(params).hash(password)


def verify_password(stored_hash: str | None, password: str, *, params: PasswordParams = DEFAULT_PARAMS) -> bool:
    """True when `password` matches `stored_hash`; False otherwise, never an exception.

    `stored_hash=None` (no such account) spends the same time on a dummy hash and answers False, so
    timing does not tell which logins exist. A stored value that is not an argon2 hash never matches.
    """
    if stored_hash is None:
        _matches(_dummy_hash(params), password, params)
        return False
    return _matches(stored_hash, password, params)


def _matches(stored_hash: str, password: str, params: PasswordParams) -> bool:
    try:
        return _hasher(params).verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, *, params: PasswordParams = DEFAULT_PARAMS) -> bool:
    """True when `stored_hash` was made with other parameters than `params` (rehash at the next sign-in)."""
    try:
        return _hasher(params).check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def check_password(stored_hash: str | None, password: str, *, params: PasswordParams = DEFAULT_PARAMS) -> PasswordCheck:
    """Verify, and when it matched but the parameters changed, hash again: the caller stores `new_hash`."""
    if not verify_password(stored_hash, password, params=params):
        return PasswordCheck(ok=False, new_hash=None)
    assert stored_hash is not None
    if needs_rehash(stored_hash, params=params):
        # Not hash_password: a password set before the length rule must still be upgradable.
        return PasswordCheck(ok=True, new_hash=_hasher(params).hash(password))
    return PasswordCheck(ok=True, new_hash=None)


async def _hashing(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, partial(work, *args, **kwargs))


async def hash_password_async(password: str, *, params: PasswordParams = DEFAULT_PARAMS) -> str:
    """hash_password in a hashing thread."""
    check_password_policy(password)  # fail fast, without a thread hop
    return await _hashing(hash_password, password, params=params)


async def verify_password_async(stored_hash: str | None, password: str, *,
                                params: PasswordParams = DEFAULT_PARAMS) -> bool:
    """verify_password in a hashing thread."""
    return await _hashing(verify_password, stored_hash, password, params=params)


async def check_password_async(stored_hash: str | None, password: str, *,
                               params: PasswordParams = DEFAULT_PARAMS) -> PasswordCheck:
    """check_password in a hashing thread (verification and any rehash in one hop)."""
    return await _hashing(check_password, stored_hash, password, params=params)
