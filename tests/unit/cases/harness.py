"""Drives the cases service's real handlers on the in-memory unit of work: commands as the gateway sends them,
other services' events as the consumer hands them over (each once, by envelope id, like the real consumer)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from services.cases.handlers import CasesHandlers
from shared.contracts import cases as c
from shared.contracts import chat
from shared.contracts.answers import CommandAccepted, CommandRejected
from shared.contracts.catalogue import CASES_EVENTS
from shared.contracts.envelope import Actor, Envelope, Event, wrap
from shared.mongo import AlreadyProcessed, consuming
from shared.testing.fakes import FakeUnitOfWork

AGENT = Actor(user_id="alice", role="agent")
T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


class Cases:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.now = T0
        self.handlers = CasesHandlers(self.uow, clock=lambda: self.now)

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)

    async def send(self, command: c.CasesCommand, tenant: str = "t1",
                   actor: Actor = AGENT) -> CommandAccepted | CommandRejected:
        command = command.model_copy(update={"actor": actor})
        env = wrap(command, tenant_id=tenant, key=getattr(command, command.KEY), producer="gateway")
        with consuming(env.event_id):
            await self.handlers.handle_command(env)
        return [e.payload for e in self.uow.emitted(CASES_EVENTS.name) if isinstance(
            e.payload, CommandAccepted | CommandRejected) and e.payload.request_id == command.request_id][-1]

    async def ok(self, command: c.CasesCommand, tenant: str = "t1", actor: Actor = AGENT) -> CommandAccepted:
        answer = await self.send(command, tenant, actor)
        assert isinstance(answer, CommandAccepted), answer
        return answer

    async def refused(self, command: c.CasesCommand, code: str, tenant: str = "t1") -> str:
        answer = await self.send(command, tenant)
        assert isinstance(answer, CommandRejected) and answer.code == code, answer
        return answer.reason

    async def feed(self, event: Event, tenant: str = "t1", producer: str = "chat",
                   occurred_at: datetime | None = None) -> Envelope[Any]:
        """Hand over another service's event (returns its envelope: feed_again() delivers it a second time)."""
        env = wrap(event, tenant_id=tenant, key=str(getattr(event, event.KEY)), producer=producer,
                   occurred_at=occurred_at)
        await self.feed_again(env)
        return env

    async def feed_again(self, env: Envelope[Any]) -> None:
        """Deliver an envelope (again): the unit of work refuses an id it recorded, like the real consumer."""
        with consuming(env.event_id), contextlib.suppress(AlreadyProcessed):
            await self.handlers.handle_event(env)

    def events(self, type_: type) -> list[Any]:
        return [e.payload for e in self.uow.emitted(CASES_EVENTS.name) if isinstance(e.payload, type_)]

    def stored(self, collection: str, record_id: str, tenant: str = "t1") -> dict[str, Any]:
        return self.uow.docs[collection][f"{tenant}|{record_id}"]


def started(conversation_id: str = "conv1", customer_id: str = "visitor-1", name: str = "Ann",
            offline: bool = False, at: datetime = T0) -> chat.ConversationStarted:
    return chat.ConversationStarted(conversation_id=conversation_id, queue_id="support",
                                    customer=chat.Customer(customer_id=customer_id, name=name),
                                    context=chat.Context(), proactive=False, started_at=at, offline=offline)


def posted(conversation_id: str = "conv1", text: str = "hello", seq: int = 1, kind: str = "customer",
           sender_id: str = "visitor-1", at: datetime = T0) -> chat.MessagePosted:
    return chat.MessagePosted(conversation_id=conversation_id, message_id=f"{conversation_id}-m{seq}", seq=seq,
                              client_message_id=None, sender=chat.Sender(kind=kind, id=sender_id), text=text,
                              private=False, customer_id="visitor-1", agents=["alice"], sent_at=at)
