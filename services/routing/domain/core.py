"""What every routing use case shares: the entities it was given, lookups that refuse unknown ids,
capacity and presence bookkeeping across agents and items, offering queued work to free agents, and
the record of what changed and which events were caused."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from services.routing.domain.agent import Agent, Presence
from services.routing.domain.assignment import pick_agent
from services.routing.domain.errors import RoutingError
from services.routing.domain.queue import AssignmentMethod, QueueConfig
from services.routing.domain.work_item import ItemState, Offer, WorkItem
from shared.contracts.routing import events as ev


class RouterCore:
    """The state a use case works on and the steps every use case shares; the use cases are in the
    mixins that Router (router.py) combines.

    Applies routing use cases to the entities it is given, mutating them in place.

    Every public method either returns the events it caused, in order, or raises RoutingError
    having changed nothing (it validates before it mutates). The ids of the entities it changed
    are collected in changed_agents, changed_items, changed_queues and removed_queues so the
    caller knows what to save.
    """

    def __init__(self, queues: dict[str, QueueConfig], agents: dict[str, Agent], items: dict[str, WorkItem],
                 now: datetime, new_id: Callable[[], str]) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.queues = queues
        self.agents = agents
        self.items = items
        self.now = now
        self.new_id = new_id
        self.changed_agents: set[str] = set()
        self.changed_items: set[str] = set()
        self.changed_queues: set[str] = set()
        self.removed_queues: set[str] = set()
        self._events: list[ev.RoutingEvent] = []
        self._queues_to_dispatch: set[str] = set()

    # --- lookups (raise before anything changes) --------------------------------------------------

    def _queue(self, queue_id: str) -> QueueConfig:
        try:
            return self.queues[queue_id]
        except KeyError:
            raise RoutingError("unknown_queue", f"queue {queue_id} does not exist") from None

    def _agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise RoutingError("unknown_agent", f"agent {agent_id} does not exist") from None

    def _item(self, conversation_id: str) -> WorkItem:
        try:
            return self.items[conversation_id]
        except KeyError:
            raise RoutingError("unknown_conversation", f"conversation {conversation_id} is not in routing") from None

    def _assigned_item(self, conversation_id: str, agent_id: str) -> WorkItem:
        item = self._item(conversation_id)
        item.check_assigned_to(agent_id)
        return item

    def _invited_item(self, conversation_id: str, invitee_id: str) -> WorkItem:
        item = self._item(conversation_id)
        item.check_invited(invitee_id)
        return item

    def _overflow_at(self, item: WorkItem) -> datetime | None:
        queue = self.queues.get(item.queue_id)
        return queue.overflow_at(item) if queue is not None else None

    # --- capacity and presence across agents and items --------------------------------------------

    def _reserve(self, agent: Agent, channel: str) -> None:
        agent.reserve(channel)
        self.changed_agents.add(agent.agent_id)

    def _release(self, agent_id: str, channel: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None:
            # A caller that loaded too little, not a routing rule: carrying on would leak this capacity for good.
            raise LookupError(f"agent {agent_id} holds {channel} work but was not given to the Router")
        agent.release(channel)
        self.changed_agents.add(agent_id)
        self._lift_auto_busy(agent)
        self._dispatch_later_for(agent)

    def _release_all(self, agent_ids: Iterable[str], channel: str) -> None:
        for agent_id in agent_ids:
            self._release(agent_id, channel)

    def _change_presence(self, agent: Agent, presence: Presence, *, reason: str) -> None:
        """Routing's own (automatic) change."""
        self._presence_changed(agent, agent.change_presence(presence, automatic=True, reason=reason))

    def _presence_changed(self, agent: Agent, event: ev.PresenceChanged) -> None:
        self.changed_agents.add(agent.agent_id)
        self._emit(event)
        if agent.presence == Presence.AVAILABLE:
            self._dispatch_later_for(agent)

    def _auto_busy(self, agent: Agent, channel: str, queue: QueueConfig) -> None:
        if agent.goes_busy(channel, busy_when_at_capacity=queue.busy_when_at_capacity):
            self._change_presence(agent, Presence.BUSY, reason=f"{channel} at capacity")

    def _lift_auto_busy(self, agent: Agent) -> None:
        if agent.may_lift_busy():
            self._change_presence(agent, Presence.AVAILABLE, reason="below capacity")

    def _put_in_rona(self, agent_id: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or agent.presence == Presence.RONA:
            return
        self._change_presence(agent, Presence.RONA, reason="offer not answered")
        # An agent who does not answer will not answer their other offers either: send them on now.
        # Offers already past their time are left to expire_offers, so they count as time-outs.
        self._withdraw_offers_to(agent_id, reason="agent in RONA", still_open_only=True)

    # --- work item transitions that involve agents ------------------------------------------------

    def _announce_queued(self, item: WorkItem) -> None:
        self._emit(ev.ConversationQueued(conversation_id=item.conversation_id, queue_id=item.queue_id,
                                         channel=item.channel, priority=item.priority, skills=dict(item.skills),
                                         enqueued_at=item.enqueued_at))
        self._dispatch_later(item.queue_id)

    def _reopen(self, item: WorkItem, queue: QueueConfig) -> None:
        """The customer wrote to a waiting persistent chat: back to the same agent if they have room."""
        item.reopen(self.now)
        self._touch(item)
        agent = self.agents.get(item.last_agent_id) if item.last_agent_id else None
        if agent is not None and agent.presence != Presence.OFFLINE and agent.free(item.channel) > 0:
            self._reserve(agent, item.channel)
            self._assign(item, agent, queue, how="returned_from_waiting")
        else:
            self._announce_queued(item)  # last_agent_id stays, so the queue's last-agent preference applies

    def _offer(self, item: WorkItem, agent: Agent, queue: QueueConfig, *, named: bool = False) -> None:
        offer = Offer(self.new_id(), agent.agent_id, self.now, self.now + timedelta(seconds=queue.offer_timeout_s))
        self._reserve(agent, item.channel)
        item.offer_to(offer, named=named)
        self._touch(item)
        self._emit(ev.OfferMade(conversation_id=item.conversation_id, offer_id=offer.offer_id, agent_id=agent.agent_id,
                                queue_id=item.queue_id, channel=item.channel, customer_name=item.customer_name,
                                preview=item.preview, waited_s=(self.now - item.created_at).total_seconds(),
                                expires_at=offer.expires_at))

    def _assign(self, item: WorkItem, agent: Agent, queue: QueueConfig, how: str) -> None:
        """The agent now holds the item; its capacity is already reserved."""
        item.assign_to(agent.agent_id)
        self._touch(item)
        if how in ("offer", "manual_take"):  # it waited in the queue's line: the queue's pace (waiting.py)
            queue.record_assignment(self.now)
            self.changed_queues.add(queue.queue_id)
        agent.last_assigned_at = self.now
        self.changed_agents.add(agent.agent_id)
        self._emit(ev.ConversationAssigned(conversation_id=item.conversation_id, agent_id=agent.agent_id,
                                           queue_id=item.queue_id, channel=item.channel, how=how))
        self._auto_busy(agent, item.channel, queue)

    def _return_offer(self, item: WorkItem) -> None:
        """The offer is over without an answer that keeps it: the item waits in its queue again."""
        holders = item.return_to_queue()  # keeping its place in the queue
        self._touch(item)
        self._release_all(holders, item.channel)
        self._dispatch_later(item.queue_id)

    def _withdraw_offers_to(self, agent_id: str, reason: str, still_open_only: bool = False) -> None:
        offered = sorted((item for item in self.items.values()
                          if item.state == ItemState.OFFERED and item.offer.agent_id == agent_id
                          and not (still_open_only and item.offer.expires_at <= self.now)),
                         key=lambda item: item.conversation_id)
        for item in offered:
            self._emit(ev.OfferWithdrawn(conversation_id=item.conversation_id, offer_id=item.offer.offer_id,
                                         agent_id=agent_id, reason=reason))
            self._return_offer(item)  # not a decline: the agent did not turn this item down

    # --- bookkeeping ------------------------------------------------------------------------------

    def _touch(self, item: WorkItem) -> None:
        self.changed_items.add(item.conversation_id)

    def _emit(self, event: ev.RoutingEvent) -> None:
        self._events.append(event)

    def _dispatch_later(self, queue_id: str) -> None:
        self._queues_to_dispatch.add(queue_id)

    def _dispatch_later_for(self, agent: Agent) -> None:
        """The agent may be able to take more: look again at every queue they belong to."""
        self._queues_to_dispatch.update(q.queue_id for q in self.queues.values() if agent.agent_id in q.members)

    def _finish(self) -> list[ev.RoutingEvent]:
        """Close a use case: offer whatever it made routable, then hand over its events."""
        self._dispatch_pending()
        events, self._events = self._events, []
        return events

    def _dispatch_pending(self) -> None:
        # One pass is enough: offers only use capacity up, so an item skipped for lack of an
        # eligible agent cannot gain one from a later offer.
        queue_ids = {queue_id for queue_id in self._queues_to_dispatch if queue_id in self.queues}
        self._queues_to_dispatch.clear()
        queued = sorted((item for item in self.items.values()
                         if item.state == ItemState.QUEUED and item.queue_id in queue_ids), key=WorkItem.order)
        # A queue's channel where no member can take more stays so for the rest of the pass: its other items are
        # skipped without looking at every member again (a backlog of a thousand items behind 50 full agents was
        # 50,000 checks per command, most of routing's time once it fell behind).
        full: set[tuple[str, str]] = set()
        for item in queued:
            queue = self.queues[item.queue_id]
            if not item.target_agent_id and (item.queue_id, item.channel) in full:
                continue
            choice = pick_agent(item, queue, self.agents)
            if choice is None:
                if not item.target_agent_id and not any(
                        self.agents[a].can_take(item.channel) for a in queue.members if a in self.agents):
                    full.add((item.queue_id, item.channel))
                continue  # a later item may want another channel or agent
            if choice.rule == AssignmentMethod.ROUND_ROBIN:
                queue.rr_cursor = choice.agent_id
                self.changed_queues.add(queue.queue_id)
            self._offer(item, self.agents[choice.agent_id], queue)
