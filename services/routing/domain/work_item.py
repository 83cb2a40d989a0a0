"""The work-item aggregate: one conversation's way through routing (queued, offered, assigned, waiting,
ended), with the checks and transitions that keep its state, its offer and its holders consistent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from services.routing.domain.errors import RoutingError


class ItemState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    WAITING = "waiting"  # persistent chat parked with its agent until the customer writes again
    ENDED = "ended"


ACTIVE_STATES = (ItemState.QUEUED, ItemState.OFFERED, ItemState.ASSIGNED)


@dataclass(frozen=True)
class Offer:
    offer_id: str
    agent_id: str
    offered_at: datetime
    expires_at: datetime


@dataclass(kw_only=True)
class WorkItem:
    conversation_id: str
    channel: str = "chat"
    queue_id: str
    priority: int = 0  # higher = more urgent
    skills: dict[str, int] = field(default_factory=dict)  # required skill -> minimum level
    customer_id: str | None = None
    customer_name: str | None = None
    preview: str = ""
    # Queue order uses the time the item entered its current queue; the customer's wait
    # (shown in offers) is measured from created_at, which survives overflow.
    enqueued_at: datetime
    created_at: datetime
    state: ItemState = ItemState.QUEUED
    offer: Offer | None = None
    assigned_agent_id: str | None = None
    declines: dict[str, int] = field(default_factory=dict)  # agent -> declines + time-outs
    last_agent_id: str | None = None
    responsible_agent_id: str | None = None
    participants: set[str] = field(default_factory=set)  # conference members besides the assignee
    invites: dict[str, str] = field(default_factory=dict)  # invitee -> inviter, not yet answered
    waiting_until: datetime | None = None
    target_agent_id: str | None = None  # transfer to a named agent: offered to nobody else
    version: int = 0

    def capacity_holders(self) -> list[str]:
        """Agents whose load on this item's channel includes this item."""
        holders = [self.offer.agent_id] if self.offer else []
        if self.assigned_agent_id:
            holders.append(self.assigned_agent_id)
        return holders + sorted(self.participants)

    def has_conference(self) -> bool:
        return bool(self.participants or self.invites)

    def order(self) -> tuple:
        """Queue order: most urgent first, then longest in the queue; the id keeps ties deterministic."""
        return (-self.priority, self.enqueued_at, self.conversation_id)

    # --- checks (raise before anything changes) ----------------------------------------------------

    def check_assigned_to(self, agent_id: str) -> None:
        if self.state != ItemState.ASSIGNED or self.assigned_agent_id != agent_id:
            raise RoutingError("invalid_state",
                               f"conversation {self.conversation_id} is not assigned to agent {agent_id}")

    def check_invited(self, agent_id: str) -> None:
        if agent_id not in self.invites:
            raise RoutingError("invalid_state",
                               f"agent {agent_id} has no invite to conversation {self.conversation_id}")

    def check_can_invite(self, inviter_id: str, invitee_id: str) -> None:
        self.check_assigned_to(inviter_id)
        if invitee_id == inviter_id or invitee_id in self.participants or invitee_id in self.invites:
            raise RoutingError("invalid_state", f"agent {invitee_id} is already in conversation {self.conversation_id}")

    def live_offer(self, agent_id: str, offer_id: str, now: datetime) -> Offer:
        """The open offer of this item to this agent, or the reason there is none."""
        offer = self.offer
        if offer is None or offer.agent_id != agent_id:
            raise RoutingError("not_offered_to_agent",
                               f"conversation {self.conversation_id} is not offered to agent {agent_id}")
        if offer.offer_id != offer_id or offer.expires_at <= now:
            raise RoutingError("offer_expired", f"offer {offer_id} for conversation {self.conversation_id} "
                                                "is no longer open")
        return offer

    def _check_state(self, *allowed: ItemState, action: str) -> None:
        if self.state not in allowed:
            raise RoutingError("invalid_state", f"conversation {self.conversation_id} is {self.state}: cannot {action}")

    # --- transitions: each checks its state first, so a refused one changes nothing ------------------
    # Those that detach agents return whose capacity the caller must release (capacity_holders before).

    def offer_to(self, offer: Offer, *, named: bool = False) -> None:
        """One offer at a time, of a queued item; a named target (transfer to an agent) gets only this offer."""
        self._check_state(ItemState.QUEUED, action="be offered")
        self.state = ItemState.OFFERED
        self.offer = offer
        self.target_agent_id = offer.agent_id if named else None

    def assign_to(self, agent_id: str) -> None:
        """A queued item (taken, opened, returned from waiting) or one offered to this agent (accepted)."""
        if not (self.state == ItemState.QUEUED
                or self.state == ItemState.OFFERED and self.offer is not None and self.offer.agent_id == agent_id):
            raise RoutingError("invalid_state",
                               f"conversation {self.conversation_id} is {self.state}: cannot go to agent {agent_id}")
        self.state = ItemState.ASSIGNED
        self.offer = None
        self.assigned_agent_id = self.last_agent_id = agent_id
        self.target_agent_id = None

    def return_to_queue(self) -> list[str]:
        """The offer is over without an answer that keeps it; enqueued_at is kept, so the item keeps its place."""
        self._check_state(ItemState.OFFERED, action="go back to its queue")
        holders = self._clear_holders()
        self.state = ItemState.QUEUED
        return holders

    def count_decline(self, agent_id: str) -> None:
        self.declines[agent_id] = self.declines.get(agent_id, 0) + 1

    def transfer(self, by_agent_id: str, to_queue_id: str, *, max_declines: int, now: datetime) -> list[str]:
        """The assignee hands it on: queued again with a new wait, and the agent who handed it over counts as
        having declined it max_declines times, so the new routing round skips them ("not me")."""
        self.check_assigned_to(by_agent_id)
        holders = self._clear_holders()
        self.queue_id = to_queue_id
        self.last_agent_id = by_agent_id
        self.declines = {by_agent_id: max_declines}
        self._restart_wait(now)
        return holders

    def park_with(self, agent_id: str, until: datetime) -> list[str]:
        """Persistent chat: waiting with its agent, holding nobody's capacity, until the customer writes again."""
        self.check_assigned_to(agent_id)
        holders = self._clear_holders()
        self.state = ItemState.WAITING
        self.last_agent_id = agent_id
        self.waiting_until = until
        return holders

    def reopen(self, now: datetime) -> None:
        """The customer wrote to a waiting chat: queued again with a new wait (last_agent_id stays)."""
        self._check_state(ItemState.WAITING, action="reopen")
        self.waiting_until = None
        self.declines = {}
        self._restart_wait(now)

    def finish(self) -> list[str]:
        """Ended, from any state but ended."""
        self._check_state(ItemState.QUEUED, ItemState.OFFERED, ItemState.ASSIGNED, ItemState.WAITING, action="end")
        holders = self._clear_holders()
        self.state = ItemState.ENDED
        self.waiting_until = None
        return holders

    def waiting_expired(self, now: datetime) -> bool:
        return self.state == ItemState.WAITING and self.waiting_until is not None and self.waiting_until <= now

    def move_to(self, queue_id: str, now: datetime) -> float:
        """Overflow: a queued item goes to the back of another queue; returns how long it waited in this one."""
        self._check_state(ItemState.QUEUED, action="overflow")
        waited_s = (now - self.enqueued_at).total_seconds()
        self.queue_id = queue_id
        self.enqueued_at = now  # created_at keeps the customer's whole wait
        self.declines = {}
        return waited_s

    def overflow_deadline(self, max_wait_s: int) -> datetime:
        return self.enqueued_at + timedelta(seconds=max_wait_s)

    # --- conference: invites and participants, only around an assignee ------------------------------

    def invite(self, inviter_id: str, invitee_id: str) -> None:
        """No capacity is held for an invite: an unanswered one must not block work."""
        self.check_can_invite(inviter_id, invitee_id)
        self.invites[invitee_id] = inviter_id

    def accept_invite(self, invitee_id: str) -> None:
        self.check_invited(invitee_id)
        del self.invites[invitee_id]
        self.participants.add(invitee_id)

    def decline_invite(self, invitee_id: str) -> None:
        self.check_invited(invitee_id)
        del self.invites[invitee_id]

    def leave(self, agent_id: str) -> None:
        if agent_id not in self.participants:
            raise RoutingError("invalid_state",
                               f"agent {agent_id} is not in the conference of {self.conversation_id}")
        self.participants.discard(agent_id)

    def end_conference(self, by_agent_id: str) -> list[str]:
        """The assignee removes every participant (returned, sorted) and pending invite."""
        self.check_assigned_to(by_agent_id)
        participants = sorted(self.participants)
        self.participants, self.invites = set(), {}
        return participants

    # --- internal steps of the transitions above ------------------------------------------------------

    def _clear_holders(self) -> list[str]:
        """Detach every agent (offer, assignee, conference); return whose capacity to release."""
        holders = self.capacity_holders()
        self.offer = None
        self.assigned_agent_id = None
        self.target_agent_id = None  # a named target gets one offer; after that normal routing resumes
        self.participants = set()
        self.invites = {}
        return holders

    def _restart_wait(self, now: datetime) -> None:
        """A new wait for an agent begins (transfer, reopening): it counts from now in every sense."""
        self.state = ItemState.QUEUED
        self.enqueued_at = self.created_at = now
