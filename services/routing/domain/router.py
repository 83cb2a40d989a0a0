"""The Router domain service: every routing use case (R1-R11) applied to queues, agents and
work items held in memory, returning the domain events it caused."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from services.routing.domain.assignment import pick_agent
from services.routing.domain.model import (
    Agent,
    AssignmentMethod,
    ItemState,
    Offer,
    Presence,
    QueueConfig,
    RoutingError,
    WorkItem,
)
from shared.contracts.routing import events as ev

MAX_CAPACITY = 50
SKILL_LEVELS = range(1, 11)
ACTIVE_STATES = (ItemState.QUEUED, ItemState.OFFERED, ItemState.ASSIGNED)


def queue_order(item: WorkItem) -> tuple:
    """Most urgent first, then longest in the queue; the id keeps ties deterministic."""
    return (-item.priority, item.enqueued_at, item.conversation_id)


class Router:
    """Applies routing use cases to the entities it is given, mutating them in place.

    Every public method either returns the events it caused, in order, or raises RoutingError
    having changed nothing (it validates before it mutates). The ids of the entities it changed
    are collected in changed_agents, changed_items, changed_queues and removed_queues so the
    caller knows what to save.
    """

    def __init__(
        self,
        queues: dict[str, QueueConfig],
        agents: dict[str, Agent],
        items: dict[str, WorkItem],
        now: datetime,
        new_id: Callable[[], str],
    ) -> None:
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

    # --- queues (R1, R6, R10) ---------------------------------------------------------------------

    def configure_queue(self, config: QueueConfig) -> list[ev.RoutingEvent]:
        config = self._validated_queue(config)
        previous = self.queues.get(config.queue_id)
        if previous is not None:
            # The round-robin position and the stored version belong to routing, not to the admin's form.
            config = replace(config, rr_cursor=previous.rr_cursor, version=previous.version)
        self.queues[config.queue_id] = config
        self.changed_queues.add(config.queue_id)
        self.removed_queues.discard(config.queue_id)
        self._emit(_queue_configured(config))
        self._dispatch_later(config.queue_id)
        return self._finish()

    def remove_queue(self, queue_id: str) -> list[ev.RoutingEvent]:
        self._queue(queue_id)
        if any(item.queue_id == queue_id and item.state in ACTIVE_STATES for item in self.items.values()):
            raise RoutingError("invalid_state", f"queue {queue_id} still has queued, offered or assigned work")
        referrers = sorted(
            other.queue_id
            for other in self.queues.values()
            if queue_id in (other.overflow_queue_id, other.second_level_queue_id) and other.queue_id != queue_id
        )
        if referrers:
            raise RoutingError(
                "invalid_config", f"queue {queue_id} is the overflow or second line of {', '.join(referrers)}"
            )
        del self.queues[queue_id]
        self.changed_queues.discard(queue_id)
        self.removed_queues.add(queue_id)
        self._emit(ev.QueueRemoved(queue_id=queue_id))
        return self._finish()

    # --- agents (R2, R3) --------------------------------------------------------------------------

    def configure_agent(
        self, agent_id: str, capacity: Mapping[str, int] | None = None, skills: Mapping[str, int] | None = None
    ) -> list[ev.RoutingEvent]:
        """Create the agent (offline) if new; set the listed channels' capacity and/or replace the skills."""
        if not agent_id:
            raise RoutingError("invalid_argument", "agent id is empty")
        for channel, limit in (capacity or {}).items():
            if not channel or not _is_int(limit) or not 0 <= limit <= MAX_CAPACITY:
                raise RoutingError(
                    "invalid_config", f"capacity for {channel!r} must be 0..{MAX_CAPACITY}, got {limit!r}"
                )
        if skills is not None:
            _check_skill_levels(skills, code="invalid_config")

        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = Agent(agent_id)
            self.changed_agents.add(agent_id)
        for channel, limit in sorted((capacity or {}).items()):
            if agent.capacity.get(channel, 0) == limit:
                continue
            raised = limit > agent.capacity.get(channel, 0)
            agent.capacity[channel] = limit
            self.changed_agents.add(agent_id)
            # A cut below the current load takes nothing away; the agent just gets no new work until it drains.
            self._emit(ev.CapacityChanged(
                agent_id=agent_id, channel=channel, capacity=limit, load=agent.load.get(channel, 0)))
            if raised:
                self._dispatch_later_for(agent)
        if skills is not None and dict(skills) != agent.skills:
            agent.skills = dict(skills)
            self.changed_agents.add(agent_id)
            self._emit(ev.AgentSkillsChanged(agent_id=agent_id, skills=dict(skills)))
        self._lift_auto_busy(agent)
        return self._finish()

    def set_presence(self, agent_id: str, presence: Presence | str) -> list[ev.RoutingEvent]:
        """The agent's own presence change; the only way out of RONA."""
        agent = self._agent(agent_id)
        try:
            presence = Presence(presence)
        except ValueError:
            raise RoutingError("invalid_argument", f"unknown presence {presence!r}") from None
        if presence == Presence.RONA:
            raise RoutingError("invalid_argument", "RONA is set by routing when an offer is not answered")
        if presence == agent.presence:
            if agent.auto_busy:
                # Same BUSY, but now the agent's own: routing must no longer lift it.
                agent.auto_busy = False
                self.changed_agents.add(agent_id)
            return self._finish()
        self._change_presence(agent, presence, automatic=False, reason="set by agent")
        if presence != Presence.AVAILABLE:
            self._withdraw_offers_to(agent_id, reason=f"agent is {presence}")
        return self._finish()

    # --- work entering routing (R6, R8, R9, R11) --------------------------------------------------

    def enqueue(
        self,
        conversation_id: str,
        queue_id: str,
        channel: str = "chat",
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        customer_id: str | None = None,
        customer_name: str | None = None,
        preview: str = "",
        last_agent_id: str | None = None,
        responsible_agent_id: str | None = None,
    ) -> list[ev.RoutingEvent]:
        """Queue a conversation for an agent; a waiting persistent chat goes back to its agent if possible."""
        queue = self._queue(queue_id)
        if not channel:
            raise RoutingError("invalid_argument", "channel is empty")
        if skills is not None:
            _check_skill_levels(skills, code="invalid_argument")
        existing = self.items.get(conversation_id)
        if existing is not None and existing.state in ACTIVE_STATES:
            return self._finish()  # the customer wrote again while being routed or served
        if existing is not None and existing.state == ItemState.WAITING:
            existing.queue_id, existing.channel, existing.priority = queue_id, channel, priority
            if skills is not None:
                existing.skills = dict(skills)
            existing.customer_id = customer_id or existing.customer_id
            existing.customer_name = customer_name or existing.customer_name
            existing.responsible_agent_id = responsible_agent_id or existing.responsible_agent_id
            existing.last_agent_id = existing.last_agent_id or last_agent_id
            existing.preview = preview
            self._reopen(existing, queue)
            return self._finish()

        # New, or ended before: an ended conversation starts fresh, with no stickiness from the old one.
        item = WorkItem(
            conversation_id=conversation_id,
            channel=channel,
            queue_id=queue_id,
            priority=priority,
            skills=dict(skills or {}),
            customer_id=customer_id,
            customer_name=customer_name,
            preview=preview,
            enqueued_at=self.now,
            created_at=self.now,
            last_agent_id=last_agent_id,
            responsible_agent_id=responsible_agent_id,
            version=existing.version if existing else 0,
        )
        self.items[conversation_id] = item
        self._touch(item)
        self._announce_queued(item)
        return self._finish()

    def open_item(
        self,
        conversation_id: str,
        agent_id: str,
        queue_id: str,
        channel: str = "chat",
        customer_id: str | None = None,
        customer_name: str | None = None,
    ) -> list[ev.RoutingEvent]:
        """Manual start (R8): the agent opens a conversation by hand and holds it at once."""
        queue = self._queue(queue_id)
        agent = self._agent(agent_id)
        existing = self.items.get(conversation_id)
        if existing is not None and existing.state != ItemState.ENDED:
            raise RoutingError("invalid_state", f"conversation {conversation_id} is already {existing.state}")
        self._check_member(queue, agent_id)
        self._check_can_hold(agent, channel)
        item = WorkItem(
            conversation_id=conversation_id,
            channel=channel,
            queue_id=queue_id,
            customer_id=customer_id,
            customer_name=customer_name,
            enqueued_at=self.now,
            created_at=self.now,
            version=existing.version if existing else 0,
        )
        self.items[conversation_id] = item
        self._reserve(agent, channel)
        self._assign(item, agent, queue, how="manual_open")
        return self._finish()

    # --- offers (R5, R6) --------------------------------------------------------------------------

    def dispatch(self, queue_ids: Iterable[str] | None = None) -> list[ev.RoutingEvent]:
        """Offer queued items of these queues (all if None) to free eligible agents."""
        queue_ids = list(self.queues) if queue_ids is None else list(queue_ids)
        for queue_id in queue_ids:
            self._queue(queue_id)
        self._queues_to_dispatch.update(queue_ids)
        return self._finish()

    def accept_offer(self, conversation_id: str, agent_id: str, offer_id: str) -> list[ev.RoutingEvent]:
        item = self._item(conversation_id)
        offer = self._live_offer(item, agent_id, offer_id)
        agent = self._agent(agent_id)
        queue = self._queue(item.queue_id)
        self._emit(ev.OfferAccepted(conversation_id=conversation_id, offer_id=offer.offer_id, agent_id=agent_id))
        # The offer already reserved the capacity the assignment now uses.
        self._assign(item, agent, queue, how="offer")
        return self._finish()

    def decline_offer(
        self, conversation_id: str, agent_id: str, offer_id: str, reason: str = ""
    ) -> list[ev.RoutingEvent]:
        item = self._item(conversation_id)
        offer = self._live_offer(item, agent_id, offer_id)
        self._emit(ev.OfferDeclined(
            conversation_id=conversation_id, offer_id=offer.offer_id, agent_id=agent_id, reason=reason))
        self._count_decline(item, agent_id)
        self._return_offer(item)
        return self._finish()

    def expire_offers(self) -> list[ev.RoutingEvent]:
        """Offers not answered in time: the agent goes to RONA and the item to the next agent."""
        expired = sorted(
            (item for item in self.items.values() if item.offer is not None and item.offer.expires_at <= self.now),
            key=lambda item: (item.offer.expires_at, item.conversation_id),
        )
        for item in expired:
            offer = item.offer
            self._emit(ev.OfferExpired(
                conversation_id=item.conversation_id, offer_id=offer.offer_id, agent_id=offer.agent_id))
            self._count_decline(item, offer.agent_id)
            self._put_in_rona(offer.agent_id)
            self._return_offer(item)
        return self._finish()

    # --- agents working a conversation (R7, R8, R9, R11) ------------------------------------------

    def take(self, conversation_id: str, agent_id: str) -> list[ev.RoutingEvent]:
        """Manual take (R8) of an open item from the queue."""
        item = self._item(conversation_id)
        agent = self._agent(agent_id)
        if item.offer is not None and item.offer.agent_id == agent_id:
            return self.accept_offer(conversation_id, agent_id, item.offer.offer_id)
        if item.state != ItemState.QUEUED:
            raise RoutingError("invalid_state", f"conversation {conversation_id} is {item.state}, not open to take")
        queue = self._queue(item.queue_id)
        self._check_member(queue, agent_id)
        self._check_can_hold(agent, item.channel)
        self._reserve(agent, item.channel)
        self._assign(item, agent, queue, how="manual_take")
        return self._finish()

    def transfer(
        self,
        conversation_id: str,
        by_agent_id: str,
        to_queue_id: str | None = None,
        to_agent_id: str | None = None,
        reason: str = "",
    ) -> list[ev.RoutingEvent]:
        """Hand an assigned conversation to another queue or to a named agent (R7)."""
        item = self._assigned_item(conversation_id, by_agent_id)
        if (to_queue_id is None) == (to_agent_id is None):
            raise RoutingError("invalid_argument", "transfer needs exactly one target: a queue or an agent")
        if to_agent_id is not None:
            target = self._agent(to_agent_id)
            if to_agent_id == by_agent_id:
                raise RoutingError("invalid_argument", f"agent {by_agent_id} cannot transfer to themselves")
            if target.presence != Presence.AVAILABLE:
                raise RoutingError("agent_unavailable", f"agent {to_agent_id} is {target.presence}")
            self._check_can_hold(target, item.channel)
        queue = self._queue(to_queue_id or item.queue_id)

        had_conference = item.has_conference()
        holders = self._clear_holders(item)
        item.queue_id = queue.queue_id
        item.last_agent_id = by_agent_id
        # Transferring says "not me": the new routing round skips the agent who handed it over.
        item.declines = {by_agent_id: queue.max_declines}
        self._restart_wait(item)
        if had_conference:
            self._emit(ev.ConferenceEnded(conversation_id=conversation_id))
        self._emit(ev.ConversationTransferred(
            conversation_id=conversation_id, from_agent_id=by_agent_id, to_queue_id=to_queue_id,
            to_agent_id=to_agent_id, reason=reason))
        self._release_all(holders, item.channel)
        if to_agent_id is None:
            self._dispatch_later(queue.queue_id)
        else:
            item.target_agent_id = to_agent_id
            self._offer(item, self.agents[to_agent_id], queue)
        return self._finish()

    def escalate(self, conversation_id: str, by_agent_id: str, reason: str = "") -> list[ev.RoutingEvent]:
        """Transfer to the queue's second line (R10)."""
        item = self._assigned_item(conversation_id, by_agent_id)
        second_line = self._queue(item.queue_id).second_level_queue_id
        if second_line is None:
            raise RoutingError("invalid_config", f"queue {item.queue_id} has no second-level queue")
        return self.transfer(conversation_id, by_agent_id, to_queue_id=second_line, reason=reason)

    def close_to_waiting(self, conversation_id: str, agent_id: str) -> list[ev.RoutingEvent]:
        """Persistent chat (R9): park the conversation with its agent instead of ending it."""
        item = self._assigned_item(conversation_id, agent_id)
        queue = self._queue(item.queue_id)
        had_conference = item.has_conference()
        holders = self._clear_holders(item)
        item.state = ItemState.WAITING
        item.last_agent_id = agent_id
        item.waiting_until = self.now + timedelta(days=queue.persistent_waiting_days)
        if had_conference:
            self._emit(ev.ConferenceEnded(conversation_id=conversation_id))
        self._emit(ev.ConversationWaiting(
            conversation_id=conversation_id, agent_id=agent_id, waiting_until=item.waiting_until))
        self._release_all(holders, item.channel)
        return self._finish()

    def end(self, conversation_id: str, reason: str = "") -> list[ev.RoutingEvent]:
        """End the conversation from any state; ending it again changes nothing."""
        item = self._item(conversation_id)
        if item.state == ItemState.ENDED:
            return self._finish()
        if item.offer is not None:
            # The offered agent's screen still shows the offer.
            offer = item.offer
            self._emit(ev.OfferWithdrawn(
                conversation_id=conversation_id, offer_id=offer.offer_id, agent_id=offer.agent_id,
                reason="conversation ended"))
        holders = self._clear_holders(item)
        item.state = ItemState.ENDED
        item.waiting_until = None
        self._emit(ev.ConversationEnded(conversation_id=conversation_id, reason=reason))
        self._release_all(holders, item.channel)
        return self._finish()

    def change_conversation_skills(
        self,
        conversation_id: str,
        by_agent_id: str | None,
        add: Mapping[str, int] | None = None,
        remove: Iterable[str] = (),
    ) -> list[ev.RoutingEvent]:
        """Add or remove required skills (R11); agents only where the queue allows, the system (None) always."""
        item = self._item(conversation_id)
        if item.state == ItemState.ENDED:
            raise RoutingError("invalid_state", f"conversation {conversation_id} has ended")
        if by_agent_id is not None:
            queue = self.queues.get(item.queue_id)
            if queue is None or not queue.allow_agent_skill_edit:
                raise RoutingError("not_allowed", f"queue {item.queue_id} does not let agents edit skills")
            if by_agent_id != item.assigned_agent_id and by_agent_id not in item.participants:
                raise RoutingError("not_allowed", f"agent {by_agent_id} is not working conversation {conversation_id}")
        add = dict(add or {})
        _check_skill_levels(add, code="invalid_argument")
        removed = set(remove)
        skills = {skill: level for skill, level in item.skills.items() if skill not in removed} | add
        if skills == item.skills:
            return self._finish()
        item.skills = skills
        self._touch(item)
        self._emit(ev.ConversationSkillsChanged(
            conversation_id=conversation_id, skills=dict(skills), by_agent_id=by_agent_id))
        if item.state == ItemState.QUEUED:
            self._dispatch_later(item.queue_id)
        return self._finish()

    # --- conference (R7) --------------------------------------------------------------------------

    def invite(self, conversation_id: str, inviter_id: str, invitee_id: str) -> list[ev.RoutingEvent]:
        item = self._assigned_item(conversation_id, inviter_id)
        invitee = self._agent(invitee_id)
        if invitee_id == inviter_id or invitee_id in item.participants or invitee_id in item.invites:
            raise RoutingError("invalid_state", f"agent {invitee_id} is already in conversation {conversation_id}")
        self._check_can_hold(invitee, item.channel)
        # Capacity is reserved only when the invitee accepts: an unanswered invite must not block work.
        item.invites[invitee_id] = inviter_id
        self._touch(item)
        self._emit(ev.ConferenceInviteSent(
            conversation_id=conversation_id, inviter_id=inviter_id, invitee_id=invitee_id))
        return self._finish()

    def accept_invite(self, conversation_id: str, invitee_id: str) -> list[ev.RoutingEvent]:
        item = self._invited_item(conversation_id, invitee_id)
        invitee = self._agent(invitee_id)
        queue = self._queue(item.queue_id)
        if invitee.free(item.channel) == 0:
            raise RoutingError("no_capacity", f"agent {invitee_id} has no free {item.channel} capacity")
        del item.invites[invitee_id]
        item.participants.add(invitee_id)
        self._touch(item)
        self._reserve(invitee, item.channel)
        self._emit(ev.ConferenceInviteAccepted(conversation_id=conversation_id, invitee_id=invitee_id))
        self._auto_busy(invitee, item.channel, queue)
        return self._finish()

    def decline_invite(self, conversation_id: str, invitee_id: str) -> list[ev.RoutingEvent]:
        item = self._invited_item(conversation_id, invitee_id)
        del item.invites[invitee_id]
        self._touch(item)
        self._emit(ev.ConferenceInviteDeclined(conversation_id=conversation_id, invitee_id=invitee_id))
        return self._finish()

    def leave_conference(self, conversation_id: str, agent_id: str) -> list[ev.RoutingEvent]:
        item = self._item(conversation_id)
        if agent_id not in item.participants:
            raise RoutingError("invalid_state", f"agent {agent_id} is not in the conference of {conversation_id}")
        item.participants.discard(agent_id)
        self._touch(item)
        self._emit(ev.ConferenceLeft(conversation_id=conversation_id, agent_id=agent_id))
        self._release(agent_id, item.channel)
        return self._finish()

    def end_conference(self, conversation_id: str, by_agent_id: str) -> list[ev.RoutingEvent]:
        """The assignee removes every participant and pending invite; without a conference, nothing happens."""
        item = self._assigned_item(conversation_id, by_agent_id)
        if not item.has_conference():
            return self._finish()
        participants = sorted(item.participants)
        item.participants, item.invites = set(), {}
        self._touch(item)
        self._emit(ev.ConferenceEnded(conversation_id=conversation_id))
        self._release_all(participants, item.channel)
        return self._finish()

    # --- timers (R5, R6, R9) ----------------------------------------------------------------------

    def overflow(self) -> list[ev.RoutingEvent]:
        """Move items that waited too long in a queue to its overflow queue."""
        for item in sorted(self.items.values(), key=queue_order):
            deadline = self._overflow_at(item)
            if deadline is None or deadline > self.now:
                continue
            from_queue_id, waited_s = item.queue_id, (self.now - item.enqueued_at).total_seconds()
            item.queue_id = self.queues[from_queue_id].overflow_queue_id
            item.enqueued_at = self.now  # created_at keeps the customer's whole wait
            item.declines = {}
            self._touch(item)
            self._emit(ev.ConversationOverflowed(
                conversation_id=item.conversation_id, from_queue_id=from_queue_id, to_queue_id=item.queue_id,
                waited_s=waited_s))
            self._dispatch_later(item.queue_id)
        return self._finish()

    def expire_waiting(self) -> list[ev.RoutingEvent]:
        """Persistent chats parked past their waiting period end."""
        for item in sorted(self.items.values(), key=lambda item: item.conversation_id):
            if item.state == ItemState.WAITING and item.waiting_until is not None and item.waiting_until <= self.now:
                item.state = ItemState.ENDED
                item.waiting_until = None
                self._touch(item)
                self._emit(ev.ConversationEnded(conversation_id=item.conversation_id, reason="waiting period expired"))
        return self._finish()

    def next_deadline(self) -> datetime | None:
        """The earliest moment a timer use case (expire_offers, overflow, expire_waiting) has work."""
        deadlines = []
        for item in self.items.values():
            if item.state == ItemState.OFFERED:
                deadlines.append(item.offer.expires_at)
            elif item.state == ItemState.WAITING and item.waiting_until is not None:
                deadlines.append(item.waiting_until)
            elif (overflow_at := self._overflow_at(item)) is not None:
                deadlines.append(overflow_at)
        return min(deadlines, default=None)

    # --- lookups and checks (raise before anything changes) ---------------------------------------

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
        if item.state != ItemState.ASSIGNED or item.assigned_agent_id != agent_id:
            raise RoutingError("invalid_state", f"conversation {conversation_id} is not assigned to agent {agent_id}")
        return item

    def _invited_item(self, conversation_id: str, invitee_id: str) -> WorkItem:
        item = self._item(conversation_id)
        if invitee_id not in item.invites:
            raise RoutingError("invalid_state", f"agent {invitee_id} has no invite to conversation {conversation_id}")
        return item

    def _live_offer(self, item: WorkItem, agent_id: str, offer_id: str) -> Offer:
        offer = item.offer
        if offer is None or offer.agent_id != agent_id:
            raise RoutingError(
                "not_offered_to_agent", f"conversation {item.conversation_id} is not offered to agent {agent_id}"
            )
        if offer.offer_id != offer_id or offer.expires_at <= self.now:
            raise RoutingError(
                "offer_expired", f"offer {offer_id} for conversation {item.conversation_id} is no longer open"
            )
        return offer

    @staticmethod
    def _check_member(queue: QueueConfig, agent_id: str) -> None:
        if agent_id not in queue.members:
            raise RoutingError("not_member", f"agent {agent_id} is not a member of queue {queue.queue_id}")

    @staticmethod
    def _check_can_hold(agent: Agent, channel: str) -> None:
        """For work an agent starts or is handed by name: any presence but offline, and room on the channel."""
        if agent.presence == Presence.OFFLINE:
            raise RoutingError("agent_unavailable", f"agent {agent.agent_id} is offline")
        if agent.free(channel) == 0:
            raise RoutingError("no_capacity", f"agent {agent.agent_id} has no free {channel} capacity")

    def _validated_queue(self, config: QueueConfig) -> QueueConfig:
        def invalid(reason: str) -> RoutingError:
            return RoutingError("invalid_config", f"queue {config.queue_id}: {reason}")

        if not config.queue_id:
            raise RoutingError("invalid_config", "queue id is empty")
        try:
            method = AssignmentMethod(config.method)
        except ValueError:
            raise invalid(f"unknown assignment method {config.method!r}") from None
        if config.level not in (1, 2):
            raise invalid("level must be 1 (first line) or 2 (second line)")
        if any(not _is_int(priority) or priority < 1 for priority in config.members.values()):
            raise invalid("member priorities must be 1 or more")
        if config.offer_timeout_s <= 0 or config.persistent_waiting_days <= 0:
            raise invalid("offer timeout and waiting period must be positive")
        if config.max_declines < 1:
            raise invalid("max_declines must be 1 or more")
        if config.max_wait_s is not None and config.max_wait_s <= 0:
            raise invalid("max_wait_s must be positive")
        for role, target in (("overflow", config.overflow_queue_id), ("second-level", config.second_level_queue_id)):
            if target == config.queue_id:
                raise invalid(f"the {role} queue cannot be the queue itself")
            if target is not None and target not in self.queues:
                raise invalid(f"{role} queue {target} does not exist")
        # Copies, so the caller's object and dicts never alias routing's state.
        return replace(config, method=method, members=dict(config.members))

    # --- capacity and presence --------------------------------------------------------------------

    def _reserve(self, agent: Agent, channel: str) -> None:
        # Callers have checked free capacity: this is the one place load grows.
        agent.load[channel] = agent.load.get(channel, 0) + 1
        self.changed_agents.add(agent.agent_id)

    def _release(self, agent_id: str, channel: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None:
            # A caller that loaded too little, not a routing rule: carrying on would leak this capacity for good.
            raise LookupError(f"agent {agent_id} holds {channel} work but was not given to the Router")
        agent.load[channel] = max(0, agent.load.get(channel, 0) - 1)
        self.changed_agents.add(agent_id)
        self._lift_auto_busy(agent)
        self._dispatch_later_for(agent)

    def _release_all(self, agent_ids: Iterable[str], channel: str) -> None:
        for agent_id in agent_ids:
            self._release(agent_id, channel)

    def _change_presence(self, agent: Agent, presence: Presence, *, automatic: bool, reason: str) -> None:
        previous = agent.presence
        agent.presence = presence
        agent.auto_busy = automatic and presence == Presence.BUSY
        self.changed_agents.add(agent.agent_id)
        self._emit(ev.PresenceChanged(
            agent_id=agent.agent_id, previous=previous, presence=presence, automatic=automatic, reason=reason))
        if presence == Presence.AVAILABLE:
            self._dispatch_later_for(agent)

    def _auto_busy(self, agent: Agent, channel: str, queue: QueueConfig) -> None:
        """Work from a busy-when-at-capacity queue just filled the channel: the agent goes BUSY by itself."""
        if queue.busy_when_at_capacity and agent.presence == Presence.AVAILABLE and agent.free(channel) == 0:
            self._change_presence(agent, Presence.BUSY, automatic=True, reason=f"{channel} at capacity")

    def _lift_auto_busy(self, agent: Agent) -> None:
        """Undo an automatic BUSY once no channel is full; a BUSY the agent chose stays."""
        if agent.auto_busy and agent.presence == Presence.BUSY and not agent.is_full_somewhere():
            self._change_presence(agent, Presence.AVAILABLE, automatic=True, reason="below capacity")

    def _put_in_rona(self, agent_id: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or agent.presence == Presence.RONA:
            return
        self._change_presence(agent, Presence.RONA, automatic=True, reason="offer not answered")
        # An agent who does not answer will not answer their other offers either: send them on now.
        # Offers already past their time are left to expire_offers, so they count as time-outs.
        self._withdraw_offers_to(agent_id, reason="agent in RONA", still_open_only=True)

    # --- work item transitions --------------------------------------------------------------------

    def _announce_queued(self, item: WorkItem) -> None:
        self._emit(
            ev.ConversationQueued(
                conversation_id=item.conversation_id, queue_id=item.queue_id, channel=item.channel,
                priority=item.priority, skills=dict(item.skills), enqueued_at=item.enqueued_at)
        )
        self._dispatch_later(item.queue_id)

    def _reopen(self, item: WorkItem, queue: QueueConfig) -> None:
        """The customer wrote to a waiting persistent chat: back to the same agent if they have room."""
        item.waiting_until = None
        item.declines = {}
        self._restart_wait(item)
        agent = self.agents.get(item.last_agent_id) if item.last_agent_id else None
        if agent is not None and agent.presence != Presence.OFFLINE and agent.free(item.channel) > 0:
            self._reserve(agent, item.channel)
            self._assign(item, agent, queue, how="returned_from_waiting")
        else:
            self._announce_queued(item)  # last_agent_id stays, so the queue's last-agent preference applies

    def _restart_wait(self, item: WorkItem) -> None:
        """A new wait for an agent begins (transfer, reopening): it counts from now in every sense."""
        item.state = ItemState.QUEUED
        item.enqueued_at = item.created_at = self.now
        self._touch(item)

    def _offer(self, item: WorkItem, agent: Agent, queue: QueueConfig) -> None:
        offer = Offer(self.new_id(), agent.agent_id, self.now, self.now + timedelta(seconds=queue.offer_timeout_s))
        self._reserve(agent, item.channel)
        item.state = ItemState.OFFERED
        item.offer = offer
        self._touch(item)
        self._emit(
            ev.OfferMade(
                conversation_id=item.conversation_id, offer_id=offer.offer_id, agent_id=agent.agent_id,
                queue_id=item.queue_id, channel=item.channel, customer_name=item.customer_name,
                preview=item.preview, waited_s=(self.now - item.created_at).total_seconds(),
                expires_at=offer.expires_at)
        )

    def _assign(self, item: WorkItem, agent: Agent, queue: QueueConfig, how: str) -> None:
        """The agent now holds the item; its capacity is already reserved."""
        item.state = ItemState.ASSIGNED
        item.offer = None
        item.assigned_agent_id = item.last_agent_id = agent.agent_id
        item.target_agent_id = None
        self._touch(item)
        agent.last_assigned_at = self.now
        self.changed_agents.add(agent.agent_id)
        self._emit(ev.ConversationAssigned(
            conversation_id=item.conversation_id, agent_id=agent.agent_id, queue_id=item.queue_id,
            channel=item.channel, how=how))
        self._auto_busy(agent, item.channel, queue)

    def _count_decline(self, item: WorkItem, agent_id: str) -> None:
        item.declines[agent_id] = item.declines.get(agent_id, 0) + 1
        self._touch(item)

    def _return_offer(self, item: WorkItem) -> None:
        """The offer is over without an answer that keeps it: the item waits in its queue again."""
        holders = self._clear_holders(item)
        item.state = ItemState.QUEUED  # enqueued_at is kept, so the item keeps its place
        self._release_all(holders, item.channel)
        self._dispatch_later(item.queue_id)

    def _withdraw_offers_to(self, agent_id: str, reason: str, still_open_only: bool = False) -> None:
        offered = sorted(
            (
                item
                for item in self.items.values()
                if item.state == ItemState.OFFERED
                and item.offer.agent_id == agent_id
                and not (still_open_only and item.offer.expires_at <= self.now)
            ),
            key=lambda item: item.conversation_id,
        )
        for item in offered:
            self._emit(ev.OfferWithdrawn(
                conversation_id=item.conversation_id, offer_id=item.offer.offer_id, agent_id=agent_id,
                reason=reason))
            self._return_offer(item)  # not a decline: the agent did not turn this item down

    def _clear_holders(self, item: WorkItem) -> list[str]:
        """Detach every agent from the item (offer, assignee, conference); return whose capacity to release."""
        holders = item.capacity_holders()
        item.offer = None
        item.assigned_agent_id = None
        item.target_agent_id = None  # a named target gets one offer; after that normal routing resumes
        item.participants = set()
        item.invites = {}
        self._touch(item)
        return holders

    def _overflow_at(self, item: WorkItem) -> datetime | None:
        queue = self.queues.get(item.queue_id)
        if item.state != ItemState.QUEUED or queue is None or None in (queue.overflow_queue_id, queue.max_wait_s):
            return None
        return item.enqueued_at + timedelta(seconds=queue.max_wait_s)

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
        queued = sorted(
            (item for item in self.items.values() if item.state == ItemState.QUEUED and item.queue_id in queue_ids),
            key=queue_order,
        )
        for item in queued:
            queue = self.queues[item.queue_id]
            choice = pick_agent(item, queue, self.agents)
            if choice is None:
                continue  # a later item may want another channel or agent
            if choice.rule == AssignmentMethod.ROUND_ROBIN:
                queue.rr_cursor = choice.agent_id
                self.changed_queues.add(queue.queue_id)
            self._offer(item, self.agents[choice.agent_id], queue)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_skill_levels(skills: Mapping[str, int], code: str) -> None:
    for skill, level in skills.items():
        if not skill or not _is_int(level) or level not in SKILL_LEVELS:
            raise RoutingError(code, f"skill {skill!r} needs a level 1..10, got {level!r}")


def _queue_configured(queue: QueueConfig) -> ev.QueueConfigured:
    settings = {f: getattr(queue, f) for f in ev.QueueConfigured.model_fields}
    return ev.QueueConfigured(**{**settings, "members": dict(queue.members)})
