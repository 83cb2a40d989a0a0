"""Use cases of a conversation's way through routing: arrival, offers and answers, manual take and open,
transfer and escalation, persistent chat, ending, skills (R5-R9, R11)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from services.routing.domain.agent import Presence, check_skill_levels
from services.routing.domain.core import RouterCore
from services.routing.domain.errors import RoutingError
from services.routing.domain.work_item import ACTIVE_STATES, ItemState, WorkItem
from shared.contracts.routing import events as ev


class WorkUseCases(RouterCore):
    # --- work entering routing (R6, R8, R9, R11) --------------------------------------------------

    def enqueue(self, conversation_id: str, queue_id: str, channel: str = "chat", priority: int = 0,
                skills: Mapping[str, int] | None = None, customer_id: str | None = None,
                customer_name: str | None = None, preview: str = "", last_agent_id: str | None = None,
                responsible_agent_id: str | None = None) -> list[ev.RoutingEvent]:
        """Queue a conversation for an agent; a waiting persistent chat goes back to its agent if possible."""
        queue = self._queue(queue_id)
        if not channel:
            raise RoutingError("invalid_argument", "channel is empty")
        if skills is not None:
            check_skill_levels(skills, code="invalid_argument")
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
        item = WorkItem(conversation_id=conversation_id, channel=channel, queue_id=queue_id, priority=priority,
                        skills=dict(skills or {}), customer_id=customer_id, customer_name=customer_name,
                        preview=preview, enqueued_at=self.now, created_at=self.now, last_agent_id=last_agent_id,
                        responsible_agent_id=responsible_agent_id, version=existing.version if existing else 0)
        self.items[conversation_id] = item
        self._touch(item)
        self._announce_queued(item)
        return self._finish()

    def open_item(self, conversation_id: str, agent_id: str, queue_id: str, channel: str = "chat",
                  customer_id: str | None = None, customer_name: str | None = None) -> list[ev.RoutingEvent]:
        """Manual start (R8): the agent opens a conversation by hand and holds it at once."""
        queue = self._queue(queue_id)
        agent = self._agent(agent_id)
        existing = self.items.get(conversation_id)
        if existing is not None and existing.state != ItemState.ENDED:
            raise RoutingError("invalid_state", f"conversation {conversation_id} is already {existing.state}")
        queue.check_member(agent_id)
        agent.check_can_hold(channel)
        item = WorkItem(conversation_id=conversation_id, channel=channel, queue_id=queue_id, customer_id=customer_id,
                        customer_name=customer_name, enqueued_at=self.now, created_at=self.now,
                        version=existing.version if existing else 0)
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
        offer = item.live_offer(agent_id, offer_id, self.now)
        agent = self._agent(agent_id)
        queue = self._queue(item.queue_id)
        self._emit(ev.OfferAccepted(conversation_id=conversation_id, offer_id=offer.offer_id, agent_id=agent_id))
        # The offer already reserved the capacity the assignment now uses.
        self._assign(item, agent, queue, how="offer")
        return self._finish()

    def decline_offer(self, conversation_id: str, agent_id: str, offer_id: str,
                      reason: str = "") -> list[ev.RoutingEvent]:
        item = self._item(conversation_id)
        offer = item.live_offer(agent_id, offer_id, self.now)
        self._emit(ev.OfferDeclined(conversation_id=conversation_id, offer_id=offer.offer_id, agent_id=agent_id,
                                    reason=reason))
        item.count_decline(agent_id)
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
        queue.check_member(agent_id)
        agent.check_can_hold(item.channel)
        self._reserve(agent, item.channel)
        self._assign(item, agent, queue, how="manual_take")
        return self._finish()

    def transfer(self, conversation_id: str, by_agent_id: str, to_queue_id: str | None = None,
                 to_agent_id: str | None = None, reason: str = "") -> list[ev.RoutingEvent]:
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
            target.check_can_hold(item.channel)
        queue = self._queue(to_queue_id or item.queue_id)

        had_conference = item.has_conference()
        holders = item.transfer(by_agent_id, queue.queue_id, max_declines=queue.max_declines, now=self.now)
        self._touch(item)
        if had_conference:
            self._emit(ev.ConferenceEnded(conversation_id=conversation_id))
        self._emit(ev.ConversationTransferred(conversation_id=conversation_id, from_agent_id=by_agent_id,
                                              to_queue_id=to_queue_id, to_agent_id=to_agent_id, reason=reason))
        self._release_all(holders, item.channel)
        if to_agent_id is None:
            self._dispatch_later(queue.queue_id)
        else:
            self._offer(item, self.agents[to_agent_id], queue, named=True)
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
        holders = item.park_with(agent_id, until=self.now + timedelta(days=queue.persistent_waiting_days))
        self._touch(item)
        if had_conference:
            self._emit(ev.ConferenceEnded(conversation_id=conversation_id))
        self._emit(ev.ConversationWaiting(conversation_id=conversation_id, agent_id=agent_id,
                                          waiting_until=item.waiting_until))
        self._release_all(holders, item.channel)
        return self._finish()

    def end(self, conversation_id: str, reason: str = "") -> list[ev.RoutingEvent]:
        """End the conversation from any state; ending it again changes nothing."""
        item = self._item(conversation_id)
        if item.state == ItemState.ENDED:
            return self._finish()
        if item.offer is not None:
            # The offered agent's screen still shows the offer.
            self._emit(ev.OfferWithdrawn(conversation_id=conversation_id, offer_id=item.offer.offer_id,
                                         agent_id=item.offer.agent_id, reason="conversation ended"))
        holders = item.finish()
        self._touch(item)
        self._emit(ev.ConversationEnded(conversation_id=conversation_id, reason=reason))
        self._release_all(holders, item.channel)
        return self._finish()

    def change_conversation_skills(self, conversation_id: str, by_agent_id: str | None,
                                   add: Mapping[str, int] | None = None,
                                   remove: Iterable[str] = ()) -> list[ev.RoutingEvent]:
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
        check_skill_levels(add, code="invalid_argument")
        removed = set(remove)
        skills = {skill: level for skill, level in item.skills.items() if skill not in removed} | add
        if skills == item.skills:
            return self._finish()
        item.skills = skills
        self._touch(item)
        self._emit(ev.ConversationSkillsChanged(conversation_id=conversation_id, skills=dict(skills),
                                                by_agent_id=by_agent_id))
        if item.state == ItemState.QUEUED:
            self._dispatch_later(item.queue_id)
        return self._finish()
