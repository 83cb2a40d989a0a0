"""Runs routing's use cases: each command (and each timer tick) runs the Router on the state slice it
needs, in one transaction with its outgoing events and its idempotency record. The use cases themselves
are in use_cases.py; what is due for the clock comes from adapters/deadlines.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import uuid4

from services.routing.adapters.deadlines import RoutingDeadlines
from services.routing.adapters.repository import RoutingRepository, Scope, Snapshot
from services.routing.domain.router import Router
from services.routing.domain.waiting import Place, place_changes, places
from services.routing.use_cases import USE_CASES
from shared.commands import Done, Publisher, answer_command, answer_commands
from shared.contracts import routing as contract
from shared.contracts.answers import CommandRejected
from shared.contracts.catalogue import ROUTING_EVENTS
from shared.consumer import Batched, BatchFailedAt, Each
from shared.contracts.envelope import Envelope
from shared.logging import get_logger
from shared.mongo import MongoUnitOfWork, Transaction

if TYPE_CHECKING:
    from shared.testing.fakes import FakeUnitOfWork

log = get_logger(__name__)


class Repository(Protocol):
    """Claims a tenant (the first write of its transactions), loads a slice of its routing state and saves what
    the Router changed (version-checked)."""

    async def claim(self) -> None: ...
    async def load(self, scope: Scope) -> Snapshot: ...
    async def save(self, router: Router, *, touch_queues: set[str]) -> None: ...


BATCH_ATTEMPTS = 3  # tries of a batch's transaction before it is split in halves


class BatchConflicted(Exception):
    """A batch's transaction conflicted BATCH_ATTEMPTS times (not a ConcurrencyConflict: not retried again)."""


class _Loaded:
    """A tenant's state slice loaded into a Router for one or more use cases, and the waiting customers' places
    before them."""

    def __init__(self, repo: Repository, snap: Snapshot, router: Router) -> None:
        self.repo, self.snap, self.router = repo, snap, router
        self.before = self._places()

    def _places(self) -> dict[str, Place]:  # of the queues whose waiting line was loaded (dispatch's)
        snap, router = self.snap, self.router
        return places(snap.dispatch_queues, queues=router.queues, agents=router.agents,
                      items={**snap.bystanders, **router.items}, now=router.now, known_before=snap.known_before)

    async def close(self, events: list[contract.RoutingEvent]) -> list[contract.RoutingEvent]:
        """The use cases' events, and a QueuePositionChanged for each customer whose place or estimate they
        changed; what changed is saved (the loaded dispatch queues bumped, see repository.py)."""
        router = self.router
        events = events + place_changes(self.before, self._places())
        if events or router.changed_agents or router.changed_items or router.changed_queues or router.removed_queues:
            await self.repo.save(router, touch_queues=self.snap.dispatch_queues)
        return events


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
        # Commands of different partitions (consumer workers) and timer ticks load the same queues, and every
        # transaction that may dispatch in a queue bumps it: run at once, they conflict and start again (a whole
        # batch of commands with them). One at a time in this process, they don't.
        self._one_at_a_time = asyncio.Lock()
        self.conflicted_batches = 0  # batches split in halves after conflicting BATCH_ATTEMPTS times

    @property
    def commands(self) -> Batched:
        """What the consumer of routing.commands calls: one command at a time, or a run of them at once."""
        return Batched(self.handle_command, self.handle_commands)

    async def handle_command(self, env: Envelope[contract.RoutingCommand]) -> None:
        """Carry out one command and answer it (shared.commands: CommandAccepted, or CommandRejected with the
        domain's RoutingError code; a repeated request id gets the first answer again)."""
        cmd = env.payload
        use_case = USE_CASES[type(cmd)]

        async def execute(tx: Transaction) -> Done:
            return Done(await self._run(tx, env.tenant_id, use_case.scope(cmd), lambda r: use_case.apply(r, cmd)))

        async with self._one_at_a_time:
            answer = await answer_command(self.uow, env, execute, publisher=self.publisher)
        if isinstance(answer, CommandRejected):
            log.info("command rejected", code=answer.code, reason=answer.reason)

    async def handle_commands(self, batch: Sequence[Envelope[contract.RoutingCommand]], each: Each) -> list[bool]:
        """Carry out several commands (of every partition the consumer holds, each partition's in order), in
        order, in one transaction: per tenant, the union of their scopes is loaded once, each command is applied
        to one Router and answered as handle_command answers it (a rejected one changed nothing, so the others go
        on), waiting customers' places are compared once, and what changed is saved once. Returns which commands
        were repeats.

        A batch that keeps conflicting (another instance commits to the same queues while it runs) is split in
        two halves, each carried out the same way, down to single commands (handle_command): a big transaction
        retried against busy documents would only conflict again, and starve. Anything else that goes wrong (a
        request answered before, a command that needed more than its scope says) raises, after the halves
        already committed (BatchFailedAt says how many), and the consumer handles the rest one by one."""
        batch = list(batch)
        try:
            return await self._batch(batch, each)
        except BatchConflicted:
            self.conflicted_batches += 1
        if len(batch) == 1:
            with each(batch[0]):
                await self.handle_command(batch[0])
            return [False]
        half = len(batch) // 2
        log.info("batch kept conflicting; its halves one after the other", size=len(batch))
        first = await self.handle_commands(batch[:half], each)
        try:
            return first + await self.handle_commands(batch[half:], each)
        except BatchFailedAt as failed:
            raise BatchFailedAt(half + failed.index, failed.error, first + failed.repeats) from failed.error
        except Exception as exc:
            raise BatchFailedAt(half, exc, first) from exc

    async def _batch(self, batch: list[Envelope[contract.RoutingCommand]], each: Each) -> list[bool]:
        tenants: dict[str, list[Envelope[contract.RoutingCommand]]] = {}
        for env in batch:
            tenants.setdefault(env.tenant_id, []).append(env)
        attempts = 0

        async def work(tx: Transaction) -> list[bool]:
            nonlocal attempts
            repos = {tenant_id: self.repositories(tx, tenant_id) for tenant_id in sorted(tenants)}
            for repo in repos.values():  # waiting for another instance's transaction is not a conflict
                await repo.claim()
            attempts += 1  # PyMongo runs this again after a write conflict (for up to 2 minutes), and so do we
            if attempts > BATCH_ATTEMPTS:
                raise BatchConflicted(f"{len(batch)} commands conflicted {BATCH_ATTEMPTS} times")
            states = {tenant_id: await self._load(repos[tenant_id], Scope.union(
                USE_CASES[type(env.payload)].scope(env.payload) for env in envs)) for tenant_id, envs in tenants.items()}

            def carry_out(env: Envelope[contract.RoutingCommand]) -> Done:
                return Done(USE_CASES[type(env.payload)].apply(states[env.tenant_id].router, env.payload))

            repeats = await answer_commands(tx, batch, carry_out, publisher=self.publisher, each=each)
            for tenant_id, state in states.items():  # places changed, after the tenant's last command
                self.publisher.emit(tx, tenant_id, await state.close([]), tenants[tenant_id][-1])
            return repeats

        async with self._one_at_a_time:
            return await self.uow.run(work, message_id=None)

    async def _run(self, tx: Transaction, tenant_id: str, scope: Scope,
                   apply: Callable[[Router], list[contract.RoutingEvent]]) -> list[contract.RoutingEvent]:
        state = await self._open(tx, tenant_id, scope)
        return await state.close(apply(state.router))

    async def _open(self, tx: Transaction, tenant_id: str, scope: Scope) -> _Loaded:
        repo = self.repositories(tx, tenant_id)
        await repo.claim()
        return await self._load(repo, scope)

    async def _load(self, repo: Repository, scope: Scope) -> _Loaded:
        snap = await repo.load(scope)
        return _Loaded(repo, snap, Router(snap.queues, snap.agents, snap.items, now=self.clock(), new_id=self.new_id))

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
        async with self._one_at_a_time:
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
