"""Password hashing: argon2id round trip, wrong passwords, the length rule, rehash detection, async variants."""

import asyncio
import threading
import time

import pytest

from services.gateway.auth.passwords import (
    DEFAULT_PARAMS,
    MIN_PASSWORD_LENGTH,
    PasswordParams,
    PasswordTooShort,
    check_password,
    check_password_async,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)

pytestmark = pytest.mark.unit

CHEAP = PasswordParams(time_cost=1, memory_cost=8192)
CHEAPER = PasswordParams(time_cost=1, memory_cost=8192, parallelism=1)
PASSWORD = "correct horse battery"


def test_defaults_are_argon2_cffi_defaults():
    from argon2 import PasswordHasher

    ph = PasswordHasher()
    assert (DEFAULT_PARAMS.time_cost, DEFAULT_PARAMS.memory_cost, DEFAULT_PARAMS.parallelism,
            DEFAULT_PARAMS.hash_len, DEFAULT_PARAMS.salt_len) == (
        ph.time_cost, ph.memory_cost, ph.parallelism, ph.hash_len, ph.salt_len)


def test_round_trip_is_argon2id_with_a_fresh_salt():
    first, second = hash_password(PASSWORD, params=CHEAP), hash_password(PASSWORD, params=CHEAP)
    assert first.startswith("$argon2id$") and "m=8192,t=1" in first
    assert first != second
    assert verify_password(first, PASSWORD, params=CHEAP)
    assert verify_password(second, PASSWORD, params=CHEAP)


@pytest.mark.parametrize("attempt", ["correct horse battery ", "Correct horse battery", "", "x" * 200])
def test_wrong_password_is_false_not_an_exception(attempt):
    assert verify_password(hash_password(PASSWORD, params=CHEAP), attempt, params=CHEAP) is False


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=8192,t=1,p=4$AAAA$BBBB", "$2b$12$bcrypt..."])
def test_a_stored_value_that_is_no_argon2_hash_never_matches(stored):
    assert verify_password(stored, PASSWORD, params=CHEAP) is False


def test_unknown_account_is_false_after_the_same_work():
    assert verify_password(None, PASSWORD, params=CHEAP) is False
    assert verify_password(None, "no account has this password", params=CHEAP) is False  # the dummy's own text
    assert check_password(None, PASSWORD, params=CHEAP) == (False, None)


def test_too_short_password_is_refused_with_a_clear_error():
    with pytest.raises(PasswordTooShort, match=f"at least {MIN_PASSWORD_LENGTH} characters \\(this one has 9\\)"):
        hash_password("123456789", params=CHEAP)
    assert hash_password("1234567890", params=CHEAP)  # exactly the minimum
    with pytest.raises(ValueError):  # a ValueError, for callers that map those to 422
        hash_password("", params=CHEAP)


def test_rehash_detected_when_parameters_change():
    stored = hash_password(PASSWORD, params=CHEAP)
    assert needs_rehash(stored, params=CHEAP) is False
    assert needs_rehash(stored, params=CHEAPER) is True
    assert needs_rehash(stored, params=DEFAULT_PARAMS) is True
    assert needs_rehash("not a hash", params=CHEAP) is True


def test_check_password_hands_back_an_upgraded_hash_only_when_it_matched():
    stored = hash_password(PASSWORD, params=CHEAP)
    assert check_password(stored, PASSWORD, params=CHEAP) == (True, None)
    assert check_password(stored, "wrong password!", params=CHEAPER) == (False, None)
    ok, new_hash = check_password(stored, PASSWORD, params=CHEAPER)
    assert ok and new_hash is not None and "p=1" in new_hash
    assert verify_password(new_hash, PASSWORD, params=CHEAPER)
    assert not needs_rehash(new_hash, params=CHEAPER)


async def test_async_variants_do_not_block_the_event_loop():
    slow = PasswordParams(time_cost=3, memory_cost=32768)  # ~tens of ms: long enough to see ticks
    ticks = 0
    stop = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    stored = await hash_password_async(PASSWORD, params=slow)
    assert await verify_password_async(stored, PASSWORD, params=slow)
    assert not await verify_password_async(stored, "wrong password!", params=slow)
    assert await check_password_async(stored, PASSWORD, params=slow) == (True, None)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    # The loop kept running while argon2 worked: a blocking call would leave the ticker at ~1.
    assert ticks >= 5, (ticks, elapsed)


async def test_async_hash_refuses_a_short_password_too():
    with pytest.raises(PasswordTooShort):
        await hash_password_async("short", params=CHEAP)


async def test_sign_ins_at_once_hash_at_most_hashing_threads_at_a_time(monkeypatch):
    """Each argon2 hash holds its memory cost while it runs: twelve sign-ins at once must not hash twelve at once
    (Python's default pool would run cores + 4), and every one of them still gets its answer."""
    from services.gateway.auth import passwords

    running, most, lock, release = [0], [0], threading.Lock(), threading.Event()

    def slow_check(stored_hash, password, *, params):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(timeout=5)  # held until all twelve are submitted, so any pool would fill up
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return passwords.PasswordCheck(ok=True, new_hash=None)

    monkeypatch.setattr(passwords, "check_password", slow_check)
    calls = [asyncio.ensure_future(passwords.check_password_async("h", f"password-{n}")) for n in range(12)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*calls)
    assert all(r.ok for r in results)
    assert most[0] == passwords.HASHING_THREADS == 2
