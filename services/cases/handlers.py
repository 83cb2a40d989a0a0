"""Runs cases' use cases: each command in one transaction with its state, its events (cases.events, through
the outbox) and its answer (shared.commands: a repeated request id gets the first answer); each followed event
of chat and customer in one transaction with what it changes and the events it causes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.cases.use_cases import USE_CASES, Context, follow_own, run_followers
from shared.commands import Done, Publisher, answer_command
from shared.contracts.catalogue import CASES_EVENTS
from shared.contracts.envelope import Actor, Envelope
from shared.mongo import millisecond_clock


class CasesHandlers:
    """Wired by the bootstrap with the MongoDB unit of work; use-case tests hand in FakeUnitOfWork."""

    def __init__(self, uow: Any, *, clock: Callable[[], datetime] = millisecond_clock,
                 producer: str = "cases") -> None:
        self.uow = uow
        self.clock = clock
        self.events = Publisher(CASES_EVENTS.name, producer)

    async def handle_command(self, env: Envelope[Any]) -> None:
        cmd = env.payload

        async def execute(tx: Any) -> Done:
            ctx = Context(tx, env.tenant_id, cmd.actor, self.clock())
            result_id = await USE_CASES[type(cmd)](ctx, cmd)
            await follow_own(ctx)  # what follows cases' own events (the timeline), in the same transaction
            return Done(ctx.events, result_id)

        await answer_command(self.uow, env, execute, publisher=self.events)

    async def handle_event(self, env: Envelope[Any]) -> None:
        """Follow another service's event (its id recorded with the change by the consumer: once only)."""
        async def work(tx: Any) -> None:
            ctx = Context(tx, env.tenant_id, Actor(), self.clock(), event_id=env.event_id,
                          occurred_at=env.occurred_at)
            await run_followers(ctx, env.payload)
            self.events.emit(tx, env.tenant_id, ctx.events, env)

        await self.uow.run(work)
