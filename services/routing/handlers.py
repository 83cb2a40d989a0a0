"""Runs routing's use cases: each command (and each timer tick) runs the Router on the state slice it
needs, in one transaction with its outgoing events and its idempotency record. The use cases themselves
are in use_cases.py; what is due for the clock comes from adapters/deadlines.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import uuid4

from services.routing.adapters.deadlines import RoutingDeadlines
from services.routing.adapters.repository import RoutingRepository, Scope, Snapshot
from services.routing.domain.router import Router
from services.routing.domain.waiting import Place, place_changes, places
from services.routing.use_cases import USE_CASES
from shared.commands import Done, Publisher, answer_command
from shared.contracts import routing as contract
from shared.contracts.answers import CommandRejected
from shared.contracts.catalogue import ROUTING_EVENTS
from shared.contracts.envelope import Envelope
from shared.logging import get_logger
from shared.mongo import MongoUnitOfWork, Transaction

if TYPE_CHECKING:
    from shared.testing.fakes import FakeUnitOfWork

log = get_logger(__name__)


class Repository(Protocol):
    """Loads a tenant's slice of routing state and saves what the Router changed (version-checked)."""

    async def load(self, scope: Scope) -> Snapshot: ...
    async def save(self, router: Router, *, touch_queues: set[str]) -> None: ...


class RoutingHandlers:
    """Wired by the bootstrap with MongoDB adapters; use-case tests hand it in-memory ones
    (shared/testing/fakes.py's FakeUnitOfWork and tests/unit/routing/fakes.py)."""

    def __init__(self, uow: MongoUnitOfWork | FakeUnitOfWork, deadlines: RoutingDeadlines, *,
                 repositories: Callable[[Any, str], Repository] = RoutingRepository,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 new_id: Callable[[], str] = lambda: uuid4().hex, producer: str = "routing") -> None:
        self.uow = uow
        self.deadlines = deadlines
        self.repositories = repositories
        self.clock = clock
        self.new_id = new_id
        self.publisher = Publisher(ROUTING_EVENTS.name, producer)

    async def handle_command(self, env: Envelope[contract.RoutingCommand]) -> None:
        """Carry out one command and answer it (shared.commands: CommandAccepted, or CommandRejected with the
        domain's RoutingError code; a repeated request id gets the first answer again)."""
        cmd = env.payload
        use_case = USE_CASES[type(cmd)]

        async def execute(tx: Transaction) -> Done:
            return Done(await self._run(tx, env.tenant_id, use_case.scope(cmd), lambda r: use_case.apply(r, cmd)))

        answer = await answer_command(self.uow, env, execute, publisher=self.publisher)
        if isinstance(answer, CommandRejected):
            log.info("command rejected", code=answer.code, reason=answer.reason)

    async def _run(self, tx: Transaction, tenant_id: str, scope: Scope,
                   apply: Callable[[Router], list[contract.RoutingEvent]]) -> list[contract.RoutingEvent]:
        repo = self.repositories(tx, tenant_id)
        snap = await repo.load(scope)
        router = Router(snap.queues, snap.agents, snap.items, now=self.clock(), new_id=self.new_id)

        def waiting_places() -> dict[str, Place]:  # of the queues whose waiting line was loaded (dispatch's)
            return places(snap.dispatch_queues, queues=router.queues, agents=router.agents,
                          items={**snap.bystanders, **router.items}, now=router.now, known_before=snap.known_before)

        before = waiting_places()
        events = apply(router)
        events += place_changes(before, waiting_places())  # whose place or estimate the use case changed
        if events or router.changed_agents or router.changed_items or router.changed_queues or router.removed_queues:
            await repo.save(router, touch_queues=snap.dispatch_queues)
        return events

    def _emit(self, tx: Transaction, tenant_id: str, events: list[contract.RoutingEvent]) -> None:
        self.publisher.emit(tx, tenant_id, events)

    # --- timers: offer time-outs, overflow, persistent-chat expiry, and a dispatch sweep ----------

    async def tick(self, tenant_id: str, scope: Scope, apply: Callable[[Router], list[contract.RoutingEvent]]
                   ) -> int:
        """Run a time-driven use case; a no-op if another instance already did it."""
        async def work(tx: Transaction) -> int:
            events = await self._run(tx, tenant_id, scope, apply)
            self._emit(tx, tenant_id, events)
            return len(events)
        return await self.uow.run(work)

    async def run_due_timers(self, *, limit: int = 200) -> int:
        """One pass over everything that is due now; returns the number of events it caused."""
        now, caused = self.clock(), 0
        for offer in await self.deadlines.expired_offers(now, limit=limit):
            # RONA withdraws the agent's other pending offers too, so those items are loaded as well.
            scope = Scope(conversations={offer.conversation_id}, agents={offer.agent_id}, offers_to_agents=True)
            caused += await self.tick(offer.tenant_id, scope, lambda r: r.expire_offers())
        for wait in await self.deadlines.expired_waits(now, limit=limit):
            caused += await self.tick(wait.tenant_id, Scope(conversations={wait.conversation_id}),
                                      lambda r: r.expire_waiting())
        for due in await self.deadlines.overdue(now, limit=limit):
            scope = Scope(conversations=set(due.conversation_ids), queues={due.queue_id, due.overflow_queue_id})
            caused += await self.tick(due.tenant_id, scope, lambda r: r.overflow())
        return caused

    async def sweep_queues(self) -> int:
        """Dispatch every queue that has waiting work: a safety net, so that no queued item waits
        on an event that was lost to a crash outside a transaction."""
        caused = 0
        for queue in await self.deadlines.queues_with_queued_work():
            caused += await self.tick(queue.tenant_id, Scope(queues={queue.queue_id}),
                                      lambda r, q=queue.queue_id: r.dispatch([q]))
        return caused
