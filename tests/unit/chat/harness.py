"""Chat's real handlers on in-memory fakes, a settable clock, and helpers to send commands and routing
events as the consumer does, and to read what chat published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from services.chat.handlers import ChatHandlers
from shared.contracts import chat as c
from shared.contracts import routing as r
from shared.contracts.answers import CommandAccepted, CommandRejected
from shared.contracts.catalogue import CHAT_EVENTS, ROUTING_COMMANDS
from shared.contracts.envelope import Actor, Envelope, wrap
from shared.mongo import consuming
from shared.testing.fakes import FakeUnitOfWork
from tests.unit.chat.fakes import in_memory_repositories

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SYSTEM = Actor()
ADMIN = Actor(user_id="admin-1", role="admin")


def customer(user_id: str = "cu1") -> Actor:
    return Actor(user_id=user_id, role="customer")


def agent(user_id: str) -> Actor:
    return Actor(user_id=user_id, role="agent")


class Chat:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.now = T0
        ids = count(1)
        self.handlers = ChatHandlers(self.uow, repositories=in_memory_repositories, clock=lambda: self.now,
                                     new_id=lambda: f"id-{next(ids)}")

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)

    async def send(self, command: c.ChatCommand, tenant: str = "t1") -> Envelope[Any]:
        env = wrap(command, tenant_id=tenant, key=getattr(command, command.KEY), producer="gateway")
        with consuming(env.event_id):  # what shared.consumer does around a handler
            await self.handlers.handle_command(env)
        return env

    async def routing_says(self, event: Any, tenant: str = "t1") -> Envelope[Any]:
        env = wrap(event, tenant_id=tenant, key=getattr(event, event.KEY), producer="routing")
        await self.redeliver(env)
        return env

    async def redeliver(self, env: Envelope[Any]) -> None:
        """Deliver a routing event (again)."""
        with consuming(env.event_id):
            await self.handlers.handle_routing_event(env)

    # --- what chat published ----------------------------------------------------------------------

    def events(self, type_: type | None = None, tenant: str = "t1") -> list[Any]:
        return [e.payload for e in self.uow.emitted(CHAT_EVENTS.name)
                if e.tenant_id == tenant and (type_ is None or isinstance(e.payload, type_))]

    def to_routing(self, type_: type | None = None, tenant: str = "t1") -> list[Any]:
        return [e.payload for e in self.uow.emitted(ROUTING_COMMANDS.name)
                if e.tenant_id == tenant and (type_ is None or isinstance(e.payload, type_))]

    def answer(self, env: Envelope[Any]) -> CommandAccepted | CommandRejected:
        found = [e for e in self.events(tenant=env.tenant_id) if isinstance(e, CommandAccepted | CommandRejected)
                 and e.command_id == env.event_id]
        assert found, f"no answer to {env.type}"
        return found[0]

    async def accepted(self, command: c.ChatCommand, tenant: str = "t1") -> CommandAccepted:
        answer = self.answer(await self.send(command, tenant))
        assert isinstance(answer, CommandAccepted), answer
        return answer

    async def rejected(self, command: c.ChatCommand, tenant: str = "t1") -> CommandRejected:
        answer = self.answer(await self.send(command, tenant))
        assert isinstance(answer, CommandRejected), answer
        return answer

    def states(self, conversation_id: str = "c1", tenant: str = "t1") -> list[tuple[str, list[str]]]:
        return [(e.state, e.agents) for e in self.events(c.ConversationStateChanged, tenant)
                if e.conversation_id == conversation_id]

    # --- getting a conversation to a state --------------------------------------------------------

    async def start(self, conversation_id: str = "c1", *, customer_id: str = "cu1", queue_id: str = "q1",
                    tenant: str = "t1", **fields: Any) -> None:
        fields.setdefault("first_message", "Hello, my card was charged twice")
        await self.accepted(c.StartConversation(
            conversation_id=conversation_id, queue_id=queue_id, actor=customer(customer_id),
            customer=c.Customer(customer_id=customer_id, name="Melissa"), **fields), tenant)

    async def assign(self, conversation_id: str = "c1", agent_id: str = "a1", *, queue_id: str = "q1",
                     tenant: str = "t1") -> None:
        """Routing queues it, offers it to the agent, who accepts."""
        await self.routing_says(r.ConversationQueued(conversation_id=conversation_id, queue_id=queue_id,
                                                     channel="chat", priority=0, skills={}, enqueued_at=self.now),
                                tenant)
        await self.routing_says(r.OfferMade(conversation_id=conversation_id, offer_id="o1", agent_id=agent_id,
                                            queue_id=queue_id, channel="chat", customer_name="Melissa", preview="",
                                            waited_s=1, expires_at=self.now + timedelta(seconds=30)), tenant)
        await self.routing_says(r.ConversationAssigned(conversation_id=conversation_id, agent_id=agent_id,
                                                       queue_id=queue_id, channel="chat", how="offer"), tenant)

    async def active(self, conversation_id: str = "c1", agent_id: str = "a1", **start: Any) -> None:
        await self.start(conversation_id, **start)
        await self.assign(conversation_id, agent_id)
