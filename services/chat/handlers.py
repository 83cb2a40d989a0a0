"""Runs chat's use cases: each chat command, and each routing event chat follows, in one transaction
with its state, the events it caused (chat.events), the commands it sends routing (routing.commands) and
the consumed message's id (recorded by default, so a redelivery changes nothing). The use cases are in
use_cases.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from services.chat.adapters.repositories import mongo_repositories
from services.chat.context import ChatRepositories, UseCaseContext
from services.chat.domain.conversation import Outcome
from services.chat.identity_cases import CUSTOMER_EVENTS_FOLLOWED
from services.chat.masking_cases import keep_originals, masked_on_entry
from services.chat.use_cases import USE_CASES
from shared.commands import Done, Publisher, answer_command
from shared.contracts.answers import CommandRejected, Rejected
from shared.contracts.catalogue import CHAT_EVENTS, ROUTING_COMMANDS
from shared.contracts.envelope import Actor, Command, Envelope, Event
from shared.logging import get_logger
from shared.mongo import MongoUnitOfWork, millisecond_clock

if TYPE_CHECKING:
    from shared.testing.fakes import FakeUnitOfWork

log = get_logger(__name__)
ROUTING = Actor()  # routing's decisions are the system's



class ChatHandlers:
    """Wired by the bootstrap with MongoDB repositories; use-case tests hand in in-memory ones
    (shared/testing/fakes.py's FakeUnitOfWork and tests/unit/chat/fakes.py)."""

    def __init__(self, uow: MongoUnitOfWork | FakeUnitOfWork, *,
                 repositories: Callable[[Any, str], ChatRepositories] = mongo_repositories,
                 clock: Callable[[], datetime] = millisecond_clock,
                 new_id: Callable[[], str] = lambda: uuid4().hex, producer: str = "chat") -> None:
        self.uow = uow
        self.repositories = repositories
        self.clock = clock
        self.new_id = new_id
        self.events = Publisher(CHAT_EVENTS.name, producer)
        self.routing = Publisher(ROUTING_COMMANDS.name, producer)

    def _context(self, tx: Any, tenant_id: str, actor: Actor) -> UseCaseContext:
        return UseCaseContext(self.repositories(tx, tenant_id), actor=actor, now=self.clock(), new_id=self.new_id)

    def _send_to_routing(self, tx: Any, env: Envelope[Any], outcome: Outcome) -> list[Event]:
        """Emit the routing commands of `outcome`; return its chat events."""
        self.routing.emit(tx, env.tenant_id, [m for m in outcome if isinstance(m, Command)], env)  # type: ignore[misc]
        return [m for m in outcome if isinstance(m, Event)]

    async def handle_command(self, env: Envelope[Any]) -> None:
        """Carry out one chat command and answer it (shared.commands: CommandAccepted with the id of what it
        created, or CommandRejected with the domain's code; a repeated request id gets the first answer)."""
        cmd = env.payload
        use_case = USE_CASES[type(cmd)]

        async def execute(tx: Any) -> Done:
            ctx = self._context(tx, env.tenant_id, cmd.actor)
            entering = await masked_on_entry(ctx, cmd)  # C4: the use case sees masked text only
            result_id = await use_case(ctx, entering.command)
            await keep_originals(ctx, entering)
            return Done(self._send_to_routing(tx, env, ctx.outcome), result_id)

        answer = await answer_command(self.uow, env, execute, publisher=self.events)
        if isinstance(answer, CommandRejected):
            log.info("command rejected", code=answer.code, reason=answer.reason, actor=cmd.actor.user_id)

    async def handle_routing_event(self, env: Envelope[Any]) -> None:
        """Follow one of routing's decisions. A decision that no longer fits the conversation (it closed
        meanwhile, say) changes nothing; its id is recorded all the same."""
        reaction = USE_CASES[type(env.payload)]

        async def work(tx: Any) -> None:
            ctx = self._context(tx, env.tenant_id, ROUTING)
            try:
                await reaction(ctx, env.payload)
            except Rejected as stale:  # raised before anything was saved
                log.info("routing event does not apply", reason=stale.reason)
                return
            self.events.emit(tx, env.tenant_id, self._send_to_routing(tx, env, ctx.outcome), env)

        await self.uow.run(work)

    async def handle_customer_event(self, env: Envelope[Any]) -> None:
        """Follow one of the customer service's events (identity_cases.py: a customer linked to a contact)."""
        follow = CUSTOMER_EVENTS_FOLLOWED[type(env.payload)]

        async def work(tx: Any) -> None:
            ctx = self._context(tx, env.tenant_id, Actor())  # the system's
            await follow(ctx, env.payload)
            self.events.emit(tx, env.tenant_id, self._send_to_routing(tx, env, ctx.outcome), env)

        await self.uow.run(work)
