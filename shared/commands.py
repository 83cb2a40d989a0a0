"""Carrying out a command and answering it, the same way in every service.

`answer_command` runs the use case in a unit of work and publishes, on the owner's events topic, what it
emitted followed by `CommandAccepted`; if the use case raises `Rejected`, nothing it did is kept and only
`CommandRejected` is published. The answer is stored under the command's request id, in the same
transaction: the same request id sent again (a redelivery, or a client's retry with a new envelope) changes
nothing and gets the first answer published again, so a sender waiting for it is not left without one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.contracts.answers import Answer, CommandAccepted, CommandRejected, Rejected
from shared.contracts.envelope import Command, Envelope, Event, Message, wrap
from shared.mongo import ANSWERS, DuplicateRecord


class Tx(Protocol):
    def emit(self, topic: str, env: Envelope[Any]) -> None: ...
    async def load(self, collection: str, doc_id: str) -> dict[str, Any] | None: ...
    async def store(self, collection: str, doc: dict[str, Any]) -> None: ...


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


async def answer_command(uow: UnitOfWork, env: Envelope[Command], execute: Callable[[Any], Awaitable[Done]], *,
                         publisher: Publisher) -> Answer:
    """Carry out `env`'s command with `execute(tx)` and answer it (see the module's text).

    The stored answer is the command's idempotency record (instead of the envelope id the consumer records for
    other messages): it is inserted last in the transaction, so a repeat (a redelivery or a client's retry) runs
    into it, the transaction is abandoned with whatever it did, and the first answer is published again. One
    insert per command, and no read before it."""
    cmd = env.payload
    request_key = f"{env.tenant_id}:{cmd.request_id}"
    about = dict(request_id=cmd.request_id, command_id=env.event_id, command_type=env.type, command_key=env.key)

    async def finish(tx: Tx, answer: Answer, events: Sequence[Event] = ()) -> Answer:
        publisher.emit(tx, env.tenant_id, [*events, answer], env)
        await tx.store(ANSWERS, {"_id": request_key, "type": answer.TYPE, "answer": answer.model_dump(mode="json"),
                                 "at": datetime.now(UTC)})
        return answer

    async def carry_out(tx: Tx) -> Answer:
        done = await execute(tx)
        return await finish(tx, CommandAccepted(**about, result_id=done.result_id), done.events)

    async def repeat(tx: Tx) -> Answer:
        first = await tx.load(ANSWERS, request_key)
        if first is None:  # the answer expired (kept 7 days) while the same request came again
            raise AssertionError(f"answer {request_key} vanished between two reads")
        answer_type = CommandAccepted if first["type"] == CommandAccepted.TYPE else CommandRejected
        answer = answer_type.model_validate(first["answer"])
        publisher.emit(tx, env.tenant_id, [answer], env)
        return answer

    try:
        try:
            return await uow.run(carry_out, message_id=None)
        except Rejected as refused:  # the transaction was abandoned: record the rejection alone
            rejected = CommandRejected(**about, code=refused.code, reason=refused.reason)
            return await uow.run(lambda tx: finish(tx, rejected), message_id=None)
    except DuplicateRecord:  # answered before: nothing this attempt did is kept; the first answer again
        return await uow.run(repeat, message_id=None)
