"""Group commit through the dispatcher, on the in-memory unit of work: records of one partition that wait
together are committed in one transaction; a failing one is handled alone and the others are kept once."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from shared.commands import Done, Publisher, answer_command
from shared.consumer import MessageDispatcher, Outcome, Record, alone
from shared.contracts.answers import CommandAccepted, CommandRejected, Rejected
from shared.contracts.deadletter import MessageDeadLettered
from shared.contracts.envelope import Command, Envelope, Event, encode, wrap
from shared.testing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit


class Counted(Event):
    TYPE: ClassVar[str] = "test.unit.group.Counted"
    key: str
    poison: bool = False


class Reserve(Command):
    TYPE: ClassVar[str] = "test.unit.group.Reserve"
    KEY: ClassVar[str] = "item"
    item: str
    refuse: bool = False


class Counter:
    """A per-message handler: adds one to its key's count and emits it, in a unit of work; a poisoned message fails."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.calls = 0

    async def __call__(self, env: Envelope[Any]) -> None:
        self.calls += 1
        key, poison = env.payload.key, env.payload.poison

        async def work(tx: Any) -> None:
            counts = tx.collection("counts")
            counts[key] = {"_id": key, "n": counts.get(key, {"n": 0})["n"] + 1}
            tx.emit("test.out", env)
            if poison:
                raise ValueError("poisoned")
        await self.uow.run(work)


def dispatcher(uow: FakeUnitOfWork, handler: Any, letters: list, topic_type: type = Counted) -> MessageDispatcher:
    async def sink(env: Envelope[MessageDeadLettered]) -> None:
        letters.append(env)
    return MessageDispatcher(group="g", handlers={topic_type: handler}, dead_letter=sink, max_attempts=2,
                             retry_base_s=0, group_commit=uow)


def records(*envs: Envelope[Any]) -> list[Record]:
    return [Record("t", 0, n, env.key.encode(), encode(env)) for n, env in enumerate(envs)]


def counted(key: str, *, poison: bool = False) -> Envelope[Counted]:
    return wrap(Counted(key=key, poison=poison), tenant_id="t1", key=key, producer="test")


def counts(uow: FakeUnitOfWork) -> dict[str, int]:
    return {k: d["n"] for k, d in uow.docs.get("counts", {}).items()}


async def test_records_waiting_together_are_committed_in_one_transaction():
    uow, letters = FakeUnitOfWork(), []
    envs = [counted("a"), counted("b"), counted("a")]
    assert await dispatcher(uow, Counter(uow), letters).dispatch_batch(records(*envs)) == [Outcome.HANDLED] * 3
    assert counts(uow) == {"a": 2, "b": 1}
    assert uow.stats["committed"] == 1 and uow.stats["grouped"] == 3
    assert [e.event_id for e in uow.emitted()] == [e.event_id for e in envs]
    assert uow.processed == {e.event_id for e in envs}


async def test_a_poisoned_record_is_dead_lettered_alone_and_the_others_are_kept_once_in_order():
    uow, letters = FakeUnitOfWork(), []
    envs = [counted("a"), counted("b"), counted("p", poison=True), counted("c"), counted("d")]
    outcomes = await dispatcher(uow, Counter(uow), letters).dispatch_batch(records(*envs))
    assert outcomes == [Outcome.HANDLED, Outcome.HANDLED, Outcome.DEAD_LETTERED, Outcome.HANDLED, Outcome.HANDLED]
    assert counts(uow) == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert [e.payload.key for e in uow.emitted()] == ["a", "b", "c", "d"]
    assert [letter.payload.original_offset for letter in letters] == [2]


async def test_repeats_in_a_group_change_nothing_whether_seen_before_or_twice_in_it():
    uow, letters = FakeUnitOfWork(), []
    handler = Counter(uow)
    first = counted("a")
    await dispatcher(uow, handler, letters).dispatch_batch(records(first))
    again = [first, counted("b"), counted("c")]
    again.insert(2, again[1])  # b twice in one batch (a relay that published it twice)
    assert await dispatcher(uow, handler, letters).dispatch_batch(records(*again)) == [
        Outcome.DUPLICATE, Outcome.HANDLED, Outcome.DUPLICATE, Outcome.HANDLED]
    assert counts(uow) == {"a": 1, "b": 1, "c": 1}
    assert letters == []


async def test_a_rejected_command_in_a_group_is_answered_alone_and_the_others_are_accepted():
    uow, letters = FakeUnitOfWork(), []
    publisher = Publisher("test.events", "test")

    async def handle(env: Envelope[Any]) -> None:
        async def execute(tx: Any) -> Done:
            tx.collection("items")[env.payload.item] = {"_id": env.payload.item}
            if env.payload.refuse:
                raise Rejected("conflict", "taken")
            return Done([], env.payload.item)
        await answer_command(uow, env, execute, publisher=publisher)

    cmds = [wrap(Reserve(request_id=f"r{n}", item=f"i{n}", refuse=n == 1), tenant_id="t1", key=f"i{n}",
                 producer="test") for n in range(3)]
    assert await dispatcher(uow, handle, letters, Reserve).dispatch_batch(records(*cmds)) == [Outcome.HANDLED] * 3
    assert set(uow.docs["items"]) == {"i0", "i2"}  # what the rejected one wrote is not kept
    answers = [(type(e.payload), e.payload.request_id) for e in uow.emitted()]
    assert answers == [(CommandAccepted, "r0"), (CommandRejected, "r1"), (CommandAccepted, "r2")]


async def test_a_handler_marked_alone_commits_each_message_by_itself():
    uow, letters = FakeUnitOfWork(), []
    handler = alone(Counter(uow).__call__)
    assert await dispatcher(uow, handler, letters).dispatch_batch(records(counted("a"), counted("b"))) == [
        Outcome.HANDLED] * 2
    assert uow.stats["committed"] == 2 and uow.stats["grouped"] == 0


async def test_log_lines_written_in_a_group_carry_their_own_messages_ids():
    import structlog

    class Said(Event):
        TYPE: ClassVar[str] = "test.unit.group.Said"
        conversation_id: str

    uow, seen = FakeUnitOfWork(), []

    async def handle(env: Envelope[Any]) -> None:
        async def work(tx: Any) -> None:
            bound = structlog.contextvars.get_contextvars()
            seen.append((bound.get("conversation_id"), bound.get("event_id")))
        await uow.run(work)

    envs = [wrap(Said(conversation_id=f"c{n}"), tenant_id="t1", key=f"c{n}", producer="test") for n in range(3)]
    assert await dispatcher(uow, handle, [], Said).dispatch_batch(records(*envs)) == [Outcome.HANDLED] * 3
    assert seen == [(f"c{n}", envs[n].event_id) for n in range(3)] and uow.stats["grouped"] == 3
