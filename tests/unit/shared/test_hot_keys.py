"""The in-process key locks behind shared.mongo.hot: handed over in order, never two holders, a cancelled wait
leaves nothing behind, and units of work that wait for keys in sorted order cannot wait for each other."""

from __future__ import annotations

import asyncio

import pytest

from shared.mongo import HotKeyConflict, _Attempt, _KeyLocks


async def test_a_held_key_is_refused_to_a_try_and_handed_to_waiters_in_order():
    locks = _KeyLocks()
    assert locks.try_acquire("a")
    assert not locks.try_acquire("a")
    order: list[int] = []

    async def waiter(n: int) -> None:
        await locks.acquire("a")
        order.append(n)
        await asyncio.sleep(0)
        locks.release("a")

    tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
    await asyncio.sleep(0.01)
    assert order == []
    locks.release("a")
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert locks.held() == set()


async def test_a_cancelled_wait_leaves_the_key_usable():
    locks = _KeyLocks()
    assert locks.try_acquire("k")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(locks.acquire("k"), 0.05)
    locks.release("k")
    assert locks.held() == set()
    assert locks.try_acquire("k")


async def test_naming_a_key_another_unit_holds_starts_over_then_waits_for_it():
    locks = _KeyLocks()
    first, second = _Attempt(locks), _Attempt(locks)
    first.name("agent:1")
    with pytest.raises(HotKeyConflict):
        second.name("agent:1")
    waiting = asyncio.create_task(second.start(wait_s=5))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # waits for the holder, before its first operation
    first.release()
    await asyncio.wait_for(waiting, 1)
    assert second.held == ["agent:1"]
    second.name("agent:1")  # its own key: nothing to do
    second.release()
    assert locks.held() == set()


async def test_units_naming_keys_in_opposite_orders_both_finish():
    locks = _KeyLocks()
    done: list[str] = []

    async def unit(name: str, keys: list[str]) -> None:
        attempt = _Attempt(locks)
        for _ in range(50):
            try:
                await attempt.start(wait_s=5)
                for key in keys:
                    attempt.name(key)
                    await asyncio.sleep(0.001)
                done.append(name)
                return
            except HotKeyConflict:
                continue
            finally:
                attempt.release()
        raise AssertionError(f"{name} never finished")

    await asyncio.wait_for(asyncio.gather(*(unit(f"u{n}", ["a", "b", "c"][:: 1 if n % 2 else -1])
                                            for n in range(20))), 10)
    assert sorted(done) == sorted(f"u{n}" for n in range(20))
    assert locks.held() == set()


async def test_a_key_whose_wait_timed_out_is_written_without_its_lock_not_retried_forever():
    locks = _KeyLocks()
    holder, waiter = _Attempt(locks), _Attempt(locks)
    holder.name("agent:1")  # held for longer than the waiter waits (a stuck transaction)
    with pytest.raises(HotKeyConflict):
        waiter.name("agent:1")
    await waiter.start(wait_s=0.05)
    assert waiter.held == []
    waiter.name("agent:1")  # goes on unlocked: MongoDB's own conflict detection still guards the write
    waiter.release()
    holder.release()
    assert locks.held() == set()
