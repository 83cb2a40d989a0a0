"""Carrying out a command and answering it, the same way in every service.

`answer_command` runs the use case in a unit of work and publishes, on the owner's events topic, what it
emitted followed by `CommandAccepted`; if the use case raises `Rejected`, nothing it did is kept and only
`CommandRejected` is published. The answer is stored under the command's request id, in the same
transaction: the same request id sent again (a redelivery, or a client's retry with a new envelope) changes
nothing and gets the first answer published again, so a sender waiting for it is not left without one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.contracts.answers import Answer, CommandAccepted, CommandRejected, Rejected
from shared.contracts.envelope import Command, Envelope, Event, Message, wrap
from shared.mongo import ANSWERS, AlreadyProcessed, DuplicateRecord


class Tx(Protocol):
    def emit(self, topic: str, env: Envelope[Any]) -> None: ...
    async def load(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    async def store(self, collection: str, doc: dict[str, Any]) -> None: ...
    async def store_many(self, collection: str, docs: Sequence[dict[str, Any]]) -> None: ...


class UnitOfWork(Protocol):
    async def run(self, work: Callable[[Any], Awaitable[Any]], **kwargs: Any) -> Any: ...


@dataclass
class Done:
    """What a use case returns: the events it caused, and the id of what it created, if anything."""
    events: Sequence[Event] = field(default_factory=list)
    result_id: str | None = None


def key_of(message: Message) -> str:
    return str(getattr(message, message.KEY))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Publisher:
    """Wraps what a service emits into envelopes on its events topic, caused by (and correlated with) `cause`."""
    topic: str
    producer: str

    def emit(self, tx: Tx, tenant_id: str, events: Sequence[Event], cause: Envelope[Any] | None = None) -> None:
        for event in events:
            tx.emit(self.topic, wrap(
                event, tenant_id=tenant_id, key=key_of(event), producer=self.producer,
                causation_id=cause.event_id if cause else None,
                correlation_id=(cause.correlation_id or cause.event_id) if cause else None))


def request_key(env: Envelope[Command]) -> str:
    """Where a command's answer is stored: its request id, within its tenant."""
    return f"{env.tenant_id}:{env.payload.request_id}"


def _about(env: Envelope[Command]) -> dict[str, Any]:
    return dict(request_id=env.payload.request_id, command_id=env.event_id, command_type=env.type,
                command_key=env.key)


def _answer_record(key: str, answer: Answer) -> dict[str, Any]:
    return {"_id": key, "type": answer.TYPE, "answer": answer.model_dump(mode="json"), "at": datetime.now(UTC)}


def _stored_answer(record: dict[str, Any]) -> Answer:
    answer_type = CommandAccepted if record["type"] == CommandAccepted.TYPE else CommandRejected
    return answer_type.model_validate(record["answer"])


async def answer_command(uow: UnitOfWork, env: Envelope[Command], execute: Callable[[Any], Awaitable[Done]], *,
                         publisher: Publisher) -> Answer:
    """Carry out `env`'s command with `execute(tx)` and answer it (see the module's text).

    The stored answer is the command's idempotency record (instead of the envelope id the consumer records for
    other messages): it is inserted last in the transaction, so a repeat (a redelivery or a client's retry) runs
    into it, the transaction is abandoned with whatever it did, and the first answer is published again. One
    insert per command, and no read before it."""
    key = request_key(env)

    async def finish(tx: Tx, answer: Answer, events: Sequence[Event] = ()) -> Answer:
        publisher.emit(tx, env.tenant_id, [*events, answer], env)
        await tx.store(ANSWERS, _answer_record(key, answer))
        return answer

    async def carry_out(tx: Tx) -> Answer:
        done = await execute(tx)
        return await finish(tx, CommandAccepted(**_about(env), result_id=done.result_id), done.events)

    async def repeat(tx: Tx) -> Answer:
        first = await tx.load(ANSWERS, key)
        if first is None:  # the answer expired (kept 7 days) while the same request came again
            raise AssertionError(f"answer {key} vanished between two reads")
        answer = _stored_answer(first)
        publisher.emit(tx, env.tenant_id, [answer], env)
        return answer

    try:
        try:
            return await uow.run(carry_out, message_id=None)
        except Rejected as refused:  # the transaction was abandoned: record the rejection alone
            rejected = CommandRejected(**_about(env), code=refused.code, reason=refused.reason)
            return await uow.run(lambda tx: finish(tx, rejected), message_id=None)
    except DuplicateRecord:  # answered before: nothing this attempt did is kept; the first answer again
        return await uow.run(repeat, message_id=None)


async def answer_failed(uow: UnitOfWork, env: Envelope[Command], *, publisher: Publisher) -> None:
    """A command dead-lettered (it failed every attempt): answered CommandRejected `failed`, so that its sender
    gets an answer (the gateway: a 500 with the reason) instead of waiting for one that never comes. It is not
    stored as the command's answer: a replay of the letter may still carry the command out, and then answers it
    again. Once per command (its record read again after its letter changes nothing)."""
    rejected = CommandRejected(**_about(env), code="failed", reason=f"{publisher.producer} could not carry out this "
                                                                     f"command and set it aside for its operators "
                                                                     f"(a dead letter)")

    async def work(tx: Tx) -> None:
        publisher.emit(tx, env.tenant_id, [rejected], env)

    with suppress(AlreadyProcessed):
        await uow.run(work, message_id=f"failed-command:{env.event_id}")


async def answer_commands(tx: Tx, batch: Sequence[Envelope[Command]], carry_out: Callable[[Envelope[Any]], Done],
                          *, publisher: Publisher, each: Callable[[Envelope[Any]], AbstractContextManager[Any]]
                          ) -> list[bool]:
    """Carry out and answer several commands, in order, inside the caller's transaction `tx` (a service's batch
    form of its command handler): the same answers, events and stored answers as answer_command gives each of
    them, the answers stored in one insert. `carry_out(env)` applies a command to state the caller loaded, and
    raises Rejected having changed nothing (so a rejection does not spoil the others). A request id seen earlier
    in the batch gets that answer again; returns which commands were such repeats. `each(env)` wraps each
    command's handling (its log context and span).

    As in answer_command, nothing is read first: a request answered before (a redelivery, a client's retry, a
    second instance) makes the insert raise DuplicateRecord. The caller's transaction is then abandoned with
    everything the batch did, and its commands are handled again one by one, each repeat answered as before."""
    answered: dict[str, Answer] = {}
    repeats: list[bool] = []
    for env in batch:
        key = request_key(env)
        with each(env):
            first = answered.get(key)
            if first is not None:
                publisher.emit(tx, env.tenant_id, [first], env)
                repeats.append(True)
                continue
            answer: Answer
            try:
                done = carry_out(env)
            except Rejected as refused:
                answer, events = CommandRejected(**_about(env), code=refused.code, reason=refused.reason), []
            else:
                answer, events = CommandAccepted(**_about(env), result_id=done.result_id), list(done.events)
            publisher.emit(tx, env.tenant_id, [*events, answer], env)
            answered[key] = answer
            repeats.append(False)
    await tx.store_many(ANSWERS, [_answer_record(key, answer) for key, answer in answered.items()])
    return repeats
