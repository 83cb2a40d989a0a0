"""Runs customer's use cases: each command in one transaction with its state, its events (customer.events,
through the outbox) and its answer (shared.commands: a repeated request id gets the first answer)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.customer.adapters.lines import LineRecords
from services.customer.adapters.links import LinkRecords
from services.customer.adapters.store import Profiles
from services.customer.lines_cases import FOLLOWED
from services.customer.use_cases import USE_CASES, Context
from shared.commands import Done, Publisher, answer_command
from shared.contracts.catalogue import CUSTOMER_EVENTS
from shared.contracts.envelope import Actor, Envelope
from shared.mongo import millisecond_clock



class CustomerHandlers:
    """Wired by the bootstrap with the MongoDB unit of work; use-case tests hand in FakeUnitOfWork."""

    def __init__(self, uow: Any, *, clock: Callable[[], datetime] = millisecond_clock,
                 producer: str = "customer") -> None:
        self.uow = uow
        self.clock = clock
        self.events = Publisher(CUSTOMER_EVENTS.name, producer)

    async def handle_command(self, env: Envelope[Any]) -> None:
        cmd = env.payload

        async def execute(tx: Any) -> Done:
            ctx = self._context(tx, env.tenant_id, cmd.actor)
            result_id = await USE_CASES[type(cmd)](ctx, cmd)
            return Done(ctx.events, result_id)

        await answer_command(self.uow, env, execute, publisher=self.events)

    async def handle_chat_event(self, env: Envelope[Any]) -> None:
        """Follow one of chat's events into the line lists (its id recorded with the change: once only)."""
        async def work(tx: Any) -> None:
            ctx = self._context(tx, env.tenant_id, Actor())
            await FOLLOWED[type(env.payload)](ctx, env.payload)
            self.events.emit(tx, env.tenant_id, ctx.events, env)

        await self.uow.run(work)

    def _context(self, tx: Any, tenant_id: str, actor: Actor) -> Context:
        return Context(Profiles(tx, tenant_id), LineRecords(tx, tenant_id), LinkRecords(tx, tenant_id), actor=actor,
                       now=self.clock())
