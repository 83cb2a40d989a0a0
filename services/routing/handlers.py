"""Routing use cases: each command (and each timer tick) runs the Router on the state slice it needs,
in one transaction with its outgoing events and its idempotency record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from services.routing.adapters.repository import ITEMS, QUEUES, RoutingRepository, Scope
from services.routing.domain.model import AssignmentMethod, ItemState, QueueConfig, RoutingError
from services.routing.domain.router import Router
from shared.contracts import routing as contract
from shared.contracts.catalogue import ROUTING_EVENTS
from shared.contracts.envelope import Envelope, wrap
from shared.logging import get_logger
from shared.mongo import MongoUnitOfWork, Transaction

log = get_logger(__name__)

Apply = Callable[[Router, Any], list[contract.RoutingEvent]]


@dataclass(frozen=True)
class UseCase:
    scope: Callable[[Any], Scope]
    apply: Apply


def _conv(*agent_fields: str, queue_fields: tuple[str, ...] = (), dispatch: bool = True) -> Callable[[Any], Scope]:
    def scope(cmd: Any) -> Scope:
        return Scope(conversations={cmd.conversation_id},
                     agents={v for f in agent_fields if (v := getattr(cmd, f))},
                     queues={v for f in queue_fields if (v := getattr(cmd, f))}, dispatch=dispatch)
    return scope


def _queue_config(cmd: contract.ConfigureQueue) -> QueueConfig:
    values = cmd.model_dump()
    values["method"] = AssignmentMethod(values["method"])
    return QueueConfig(**values)


USE_CASES: dict[type[contract.RoutingCommand], UseCase] = {
    contract.ConfigureQueue: UseCase(
        lambda c: Scope(queues={c.queue_id}, agents=set(c.members), all_queues=True),
        lambda r, c: r.configure_queue(_queue_config(c))),
    contract.RemoveQueue: UseCase(lambda c: Scope(queues={c.queue_id}, active_items_of_queues=True, all_queues=True),
                                  lambda r, c: r.remove_queue(c.queue_id)),
    contract.ConfigureAgent: UseCase(lambda c: Scope(agents={c.agent_id}),
                                     lambda r, c: r.configure_agent(c.agent_id, c.capacity, c.skills)),
    contract.SetPresence: UseCase(lambda c: Scope(agents={c.agent_id}, offers_to_agents=True),
                                  lambda r, c: r.set_presence(c.agent_id, c.presence)),
    contract.RouteConversation: UseCase(
        _conv("last_agent_id", "responsible_agent_id", queue_fields=("queue_id",)),
        lambda r, c: r.enqueue(c.conversation_id, c.queue_id, c.channel, c.priority, c.skills, c.customer_id,
                               c.customer_name, c.preview, c.last_agent_id, c.responsible_agent_id)),
    contract.AcceptOffer: UseCase(_conv("agent_id", dispatch=False),
                                  lambda r, c: r.accept_offer(c.conversation_id, c.agent_id, c.offer_id)),
    contract.DeclineOffer: UseCase(_conv("agent_id"),
                                   lambda r, c: r.decline_offer(c.conversation_id, c.agent_id, c.offer_id, c.reason)),
    contract.TakeConversation: UseCase(_conv("agent_id"), lambda r, c: r.take(c.conversation_id, c.agent_id)),
    contract.OpenConversation: UseCase(
        _conv("agent_id", queue_fields=("queue_id",)),
        lambda r, c: r.open_item(c.conversation_id, c.agent_id, c.queue_id, c.channel, c.customer_id,
                                 c.customer_name)),
    contract.TransferConversation: UseCase(
        _conv("agent_id", "to_agent_id", queue_fields=("to_queue_id",)),
        lambda r, c: r.transfer(c.conversation_id, c.agent_id, c.to_queue_id, c.to_agent_id, c.reason)),
    contract.EscalateConversation: UseCase(_conv("agent_id"),
                                           lambda r, c: r.escalate(c.conversation_id, c.agent_id, c.reason)),
    contract.InviteToConference: UseCase(_conv("agent_id", "invitee_id", dispatch=False),
                                         lambda r, c: r.invite(c.conversation_id, c.agent_id, c.invitee_id)),
    contract.AcceptConferenceInvite: UseCase(_conv("agent_id"),
                                             lambda r, c: r.accept_invite(c.conversation_id, c.agent_id)),
    contract.DeclineConferenceInvite: UseCase(_conv("agent_id", dispatch=False),
                                              lambda r, c: r.decline_invite(c.conversation_id, c.agent_id)),
    contract.LeaveConference: UseCase(_conv("agent_id"),
                                      lambda r, c: r.leave_conference(c.conversation_id, c.agent_id)),
    contract.EndConference: UseCase(_conv("agent_id"), lambda r, c: r.end_conference(c.conversation_id, c.agent_id)),
    contract.CloseToWaiting: UseCase(_conv("agent_id"),
                                     lambda r, c: r.close_to_waiting(c.conversation_id, c.agent_id)),
    contract.EndConversation: UseCase(_conv(), lambda r, c: r.end(c.conversation_id, c.reason)),
    contract.ChangeConversationSkills: UseCase(
        _conv("agent_id"),
        lambda r, c: r.change_conversation_skills(c.conversation_id, c.agent_id, c.add, c.remove)),
}


class RoutingHandlers:
    def __init__(self, uow: MongoUnitOfWork, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 new_id: Callable[[], str] = lambda: uuid4().hex, producer: str = "routing") -> None:
        self.uow = uow
        self.clock = clock
        self.new_id = new_id
        self.producer = producer

    async def handle_command(self, env: Envelope[contract.RoutingCommand]) -> None:
        """Carry out one command; answer it with CommandAccepted or CommandRejected."""
        cmd = env.payload
        use_case = USE_CASES[type(cmd)]

        async def work(tx: Transaction) -> None:
            answer = dict(command_id=env.event_id, command_type=env.type, command_key=env.key)
            try:
                events = await self._run(tx, env.tenant_id, use_case.scope(cmd), lambda r: use_case.apply(r, cmd))
            except RoutingError as err:
                log.info("command rejected", code=err.code, reason=err.reason)
                self._emit(tx, env.tenant_id, [contract.CommandRejected(**answer, code=err.code, reason=err.reason)],
                           env)
                return
            self._emit(tx, env.tenant_id, [*events, contract.CommandAccepted(**answer)], env)

        await self.uow.run(work, message_id=env.event_id)

    async def _run(self, tx: Transaction, tenant_id: str, scope: Scope,
                   apply: Callable[[Router], list[contract.RoutingEvent]]) -> list[contract.RoutingEvent]:
        repo = RoutingRepository(tx, tenant_id)
        snap = await repo.load(scope)
        router = Router(snap.queues, snap.agents, snap.items, now=self.clock(), new_id=self.new_id)
        events = apply(router)
        if events or router.changed_agents or router.changed_items or router.changed_queues or router.removed_queues:
            await repo.save(router, touch_queues=snap.dispatch_queues)
        return events

    def _emit(self, tx: Transaction, tenant_id: str, events: list[contract.RoutingEvent],
              cause: Envelope[Any] | None = None) -> None:
        for event in events:
            tx.emit(ROUTING_EVENTS.name, wrap(
                event, tenant_id=tenant_id, key=getattr(event, event.KEY), producer=self.producer,
                causation_id=cause.event_id if cause else None,
                correlation_id=(cause.correlation_id or cause.event_id) if cause else None))

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
        db, now, caused = self.uow.db, self.clock(), 0
        due_offers = db[ITEMS].find({"state": ItemState.OFFERED.value, "offer.expires_at": {"$lte": now}},
                                    {"tenant_id": 1, "conversation_id": 1, "offer.agent_id": 1}).limit(limit)
        async for doc in due_offers:
            # RONA withdraws the agent's other pending offers too, so those items are loaded as well.
            scope = Scope(conversations={doc["conversation_id"]}, agents={doc["offer"]["agent_id"]},
                          offers_to_agents=True)
            caused += await self.tick(doc["tenant_id"], scope, lambda r: r.expire_offers())
        due_waiting = db[ITEMS].find({"state": ItemState.WAITING.value, "waiting_until": {"$lte": now}},
                                     {"tenant_id": 1, "conversation_id": 1}).limit(limit)
        async for doc in due_waiting:
            caused += await self.tick(doc["tenant_id"], Scope(conversations={doc["conversation_id"]}),
                                      lambda r: r.expire_waiting())
        async for q in db[QUEUES].find({"overflow_queue_id": {"$ne": None}, "max_wait_s": {"$ne": None}}):
            overdue = db[ITEMS].find({"tenant_id": q["tenant_id"], "state": ItemState.QUEUED.value,
                                      "queue_id": q["queue_id"],
                                      "enqueued_at": {"$lte": now - timedelta(seconds=q["max_wait_s"])}},
                                     {"conversation_id": 1}).limit(limit)
            conversations = {d["conversation_id"] async for d in overdue}
            if conversations:
                caused += await self.tick(q["tenant_id"], Scope(conversations=conversations,
                                                                 queues={q["queue_id"], q["overflow_queue_id"]}),
                                          lambda r: r.overflow())
        return caused

    async def sweep_queues(self) -> int:
        """Dispatch every queue that has waiting work: a safety net, so that no queued item waits
        on an event that was lost to a crash outside a transaction."""
        caused = 0
        cursor = await self.uow.db[ITEMS].aggregate([
            {"$match": {"state": ItemState.QUEUED.value}},
            {"$group": {"_id": {"tenant_id": "$tenant_id", "queue_id": "$queue_id"}}}])
        pairs = await cursor.to_list()
        for pair in pairs:
            tenant_id, queue_id = pair["_id"]["tenant_id"], pair["_id"]["queue_id"]
            caused += await self.tick(tenant_id, Scope(queues={queue_id}), lambda r, q=queue_id: r.dispatch([q]))
        return caused
