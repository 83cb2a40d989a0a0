"""The conversation aggregate (C1, C7, C8): its state, who works it (the assignee first, then conference
members), its context, and the lifecycle moves driven by chat's commands and routing's events.

Every method checks before it changes anything (a refused move raises Rejected and leaves the
conversation as it was) and returns what it caused: chat events, and routing commands for routing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.chat.domain.access import SYSTEM
from services.chat.domain.groups import Grouping
from services.chat.domain.lifecycle import CONFERENCE, NOT_TAKEN, State, check_state, check_transition
from services.chat.domain.messages import Message, Messaging
from services.chat.domain.settings import QueueChatSettings, check_wrap_up_reason
from shared.contracts.answers import Rejected
from shared.contracts.chat import events as ev
from shared.contracts.chat.common import Context, Customer, Sender, WrapUpReason
from shared.contracts.envelope import Command, Event
from shared.contracts.routing import commands as rc

Outcome = list[Event | Command]
_KEEP: object = object()  # "leave this field as it is" in _change

END_TEXT = {"customer": "Customer ended the conversation", "agent": "The agent ended the conversation",
            "system": "The conversation was ended"}


@dataclass
class Conversation(Messaging, Grouping):
    conversation_id: str
    queue_id: str
    customer: Customer
    started_at: datetime
    contact_id: str | None = None  # U5: the contact the customer service linked the customer to (identity_cases.py)
    context: Context = field(default_factory=Context)
    skills: dict[str, int] = field(default_factory=dict)
    priority: int = 0
    proactive: bool = False
    offline: bool = False  # an offline message: closed at once, never routed
    state: State = State.REQUESTED
    assignee: str | None = None  # holds it (active, wrap-up, waiting); kept when closed, for "closed by"
    members: list[str] = field(default_factory=list)  # conference members, in the order they joined
    group: bool = False  # U6: started with colleagues (domain/groups.py)
    colleagues: list[str] = field(default_factory=list)  # a group's colleagues still in it, as named at the start
    topic: str | None = None  # what a group conversation is about
    offered_to: str | None = None
    last_agent_id: str | None = None
    first_assigned_at: datetime | None = None
    waiting_until: datetime | None = None
    # Persistent chat (R9): close-to-waiting asked of routing and not yet done, and what the customer wrote
    # meanwhile (the preview of their last message), which brings the conversation back as soon as it is parked.
    parking: bool = False
    wrote_while_parking: str | None = None
    ended_by: str | None = None  # customer, agent or system
    wrap_up_reason: str | None = None
    wrap_up_note: str = ""
    closed_at: datetime | None = None
    seq: int = 0  # the last message's sequence number
    message_count: int = 0  # messages of customers, agents and bots (notes and system messages not counted)
    customer_read: int = 0
    customer_unread: int = 0
    agent_read: dict[str, int] = field(default_factory=dict)  # every agent who ever read, by position
    unread: dict[str, int] = field(default_factory=dict)  # current agents only
    survey_invited_at: datetime | None = None  # the customer was asked to rate it (domain/survey.py)
    survey_rating: int | None = None  # the customer's rating, 1-5, once submitted
    survey_comment: str = ""
    survey_submitted_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0
    new_messages: list[Message] = field(default_factory=list)  # posted since loaded, for the repository

    @property
    def agents(self) -> list[str]:
        """Who may work it now: the assignee first, then conference members, then a group's colleagues (nobody
        while nobody holds it, nor once closed)."""
        if self.assignee is None or self.state == State.CLOSED:
            return []
        return list(dict.fromkeys([self.assignee, *self.members, *self.colleagues]))

    def _change(self, *, why: str, now: datetime, state: State | None = None, queue_id: str | None = None,
                assignee: object = _KEEP, members: list[str] | None = None,
                colleagues: list[str] | None = None) -> Outcome:
        """Apply a lifecycle move; announce it if the state, the agents or the queue changed."""
        if state is not None:
            check_transition(self.state, state)
        before_state, before_agents, before_queue = self.state, self.agents, self.queue_id
        self.state = state or self.state
        self.queue_id = queue_id or self.queue_id
        if assignee is not _KEEP:
            self.assignee = assignee  # type: ignore[assignment]
        if members is not None:
            self.members = members
        if colleagues is not None:
            self.colleagues = colleagues
        self.updated_at = now
        agents = self.agents
        self.unread = {a: n for a, n in self.unread.items() if a in agents}
        if (self.state, agents, self.queue_id) == (before_state, before_agents, before_queue):
            return []
        return [ev.ConversationStateChanged(
            conversation_id=self.conversation_id, state=self.state.value, previous=before_state.value,
            queue_id=self.queue_id, agents=agents, customer_id=self.customer.customer_id, why=why, at=now,
            removed_agents=[a for a in before_agents if a not in agents])]

    def _closed(self, *, agent_id: str | None, now: datetime) -> ev.ConversationClosed:
        self.closed_at = now
        return ev.ConversationClosed(
            conversation_id=self.conversation_id, queue_id=self.queue_id, customer_id=self.customer.customer_id,
            agent_id=agent_id, ended_by=self.ended_by or "system", wrap_up_reason=self.wrap_up_reason,
            messages=self.message_count, started_at=self.started_at, closed_at=now)

    # --- starting (C1, C8) ------------------------------------------------------------------------

    def start(self, *, first_message: str | None, by: Sender, message_id: str) -> Outcome:
        """Announce the new conversation, post its first message, and ask routing for an agent: routed by
        queue and skills, or (proactive) held at once by the agent who opened it."""
        outcome: Outcome = [ev.ConversationStarted(
            conversation_id=self.conversation_id, queue_id=self.queue_id, customer=self.customer,
            context=self.context, proactive=self.proactive, started_at=self.started_at,
            colleagues=list(self.colleagues), topic=self.topic)]
        if first_message is not None:  # the agent who opens a proactive chat writes before it holds it
            outcome += self.post(sender=by, text=first_message, message_id=message_id, now=self.started_at,
                                 opening=True)
        if self.proactive:
            outcome.append(rc.OpenConversation(
                conversation_id=self.conversation_id, agent_id=by.id, queue_id=self.queue_id,
                channel=self.context.channel, customer_id=self.customer.customer_id, customer_name=self.customer.name))
        else:
            outcome.append(self.route_command(preview_text=first_message))
        return outcome

    def leave_offline(self, *, text: str, message_id: str) -> Outcome:
        """An offline message: the conversation is announced, holds the customer's message and is closed at
        once, by the customer, without asking routing (nobody is offered it; queue members find it closed)."""
        self.offline = True
        by = self.customer_sender
        outcome: Outcome = [ev.ConversationStarted(
            conversation_id=self.conversation_id, queue_id=self.queue_id, customer=self.customer,
            context=self.context, proactive=False, started_at=self.started_at, offline=True)]
        outcome += self.post(sender=by, text=text, message_id=message_id, now=self.started_at, opening=True)
        self.ended_by = "customer"
        outcome += self._change(state=State.CLOSED, why="offline message", now=self.started_at)
        outcome.append(self._closed(agent_id=None, now=self.started_at))
        return outcome

    # --- routing's decisions (R5-R9) --------------------------------------------------------------

    def queued(self, *, queue_id: str, now: datetime) -> Outcome:
        self.offered_to = None
        return self._change(state=State.QUEUED, queue_id=queue_id, assignee=None, members=[], now=now,
                            why=f"waiting in queue {queue_id}")

    def offered(self, *, agent_id: str, queue_id: str, now: datetime) -> Outcome:
        check_transition(self.state, State.OFFERED)
        self.offered_to = agent_id
        return self._change(state=State.OFFERED, queue_id=queue_id, now=now, why=f"offered to {agent_id}")

    def offer_ended(self, *, agent_id: str, why: str, now: datetime) -> Outcome:
        """The offer was declined, expired or withdrawn: back in the queue."""
        if self.state != State.OFFERED or self.offered_to != agent_id:
            raise Rejected("invalid_state", f"no offer to {agent_id} is open on {self.conversation_id}")
        self.offered_to = None
        return self._change(state=State.QUEUED, now=now, why=why)

    def assigned(self, *, agent_id: str, queue_id: str, unread: int, how: str, now: datetime) -> Outcome:
        """`unread`: the agent's unread messages (from others, after its read position)."""
        check_transition(self.state, State.ACTIVE)
        self.offered_to, self.waiting_until, self.last_agent_id = None, None, agent_id
        self.first_assigned_at = self.first_assigned_at or now
        outcome = self._change(state=State.ACTIVE, queue_id=queue_id, assignee=agent_id, members=[], now=now,
                               why=f"assigned to {agent_id} ({how.replace('_', ' ')})")
        self.unread[agent_id] = unread
        return outcome

    def transferred(self, *, from_agent_id: str | None, to_queue_id: str | None, to_agent_id: str | None,
                    reason: str, now: datetime) -> Outcome:
        """Handed to another queue (queued) or to a named agent (offered to that agent)."""
        state = State.OFFERED if to_agent_id else State.QUEUED
        check_state(self.state, frozenset({State.ACTIVE}), action="transfer")
        self.last_agent_id = from_agent_id or self.last_agent_id
        self.offered_to = to_agent_id
        target = to_agent_id or to_queue_id or self.queue_id
        return self._change(state=state, queue_id=to_queue_id, assignee=None, members=[], now=now,
                            why=f"transferred to {target}" + (f": {reason}" if reason else ""))

    def overflowed(self, *, to_queue_id: str, now: datetime) -> Outcome:
        check_state(self.state, NOT_TAKEN, action="overflow")
        return self._change(queue_id=to_queue_id, now=now, why=f"waited too long: moved to queue {to_queue_id}")

    def parked(self, *, agent_id: str, until: datetime, now: datetime) -> Outcome:
        """Persistent chat (R9): waiting with its agent until the customer writes again."""
        check_transition(self.state, State.WAITING)
        self.waiting_until = until
        outcome = self._change(state=State.WAITING, assignee=agent_id, members=[], now=now,
                               why=f"waiting for the customer with {agent_id}")
        wrote, self.parking, self.wrote_while_parking = self.wrote_while_parking, False, None
        if wrote is not None:  # the customer wrote after the agent asked to park it: back to routing at once
            outcome.append(self.route_command(preview_text=wrote, last_agent_id=agent_id))
        return outcome

    # --- conference (R7) --------------------------------------------------------------------------

    def conference_joined(self, *, agent_id: str, unread: int, now: datetime) -> Outcome:
        check_state(self.state, CONFERENCE, action="join the conference")
        if agent_id in self.agents:
            return []
        outcome = self._change(members=[*self.members, agent_id], now=now, why=f"{agent_id} joined the conference")
        self.unread[agent_id] = unread
        return outcome

    def conference_left(self, *, agent_id: str, now: datetime) -> Outcome:
        check_state(self.state, CONFERENCE, action="leave the conference")
        return self._change(members=[m for m in self.members if m != agent_id], now=now,
                            why=f"{agent_id} left the conference")

    def conference_ended(self, *, now: datetime) -> Outcome:
        if self.state == State.CLOSED:
            raise Rejected("invalid_state", "the conversation is closed")
        return self._change(members=[], now=now, why="conference ended")

    # --- ending, wrap-up, persistent chat (C1, R9) ------------------------------------------------

    def end(self, *, by: Sender, message_id: str, now: datetime) -> Outcome:
        """Active: to wrap-up, with a system message, the agent keeping it (and its capacity) until the
        wrap-up. Not taken yet, or waiting: closed at once, and routing told to let go of it."""
        ended_by = "system" if by.kind == "bot" else by.kind
        text = END_TEXT[ended_by]
        if self.state == State.ACTIVE:
            self.ended_by = ended_by
            outcome = self._change(state=State.WRAP_UP, now=now, why=text)
            return outcome + self.post(sender=SYSTEM, text=text, message_id=message_id, now=now)
        check_state(self.state, NOT_TAKEN | {State.WAITING}, action="end the conversation")
        agent_id = self.assignee
        self.ended_by, self.offered_to = ended_by, None
        outcome = self._change(state=State.CLOSED, now=now, why=text)
        return [*outcome, self._closed(agent_id=agent_id, now=now),
                rc.EndConversation(conversation_id=self.conversation_id, reason=text)]

    def wrap_up(self, *, reason_code: str | None, note: str, settings: QueueChatSettings,
                reasons: Sequence[WrapUpReason], now: datetime) -> Outcome:
        """The assignee's wrap-up closes the conversation; only now does routing free the agent."""
        check_state(self.state, frozenset({State.ACTIVE, State.WRAP_UP}), action="wrap up")
        check_wrap_up_reason(reason_code, settings=settings, reasons=reasons)
        agent_id = self.assignee
        self.wrap_up_reason, self.wrap_up_note = reason_code, note
        self.ended_by = self.ended_by or "agent"
        why = "wrapped up" + (f": {reason_code}" if reason_code else "")
        outcome = self._change(state=State.CLOSED, now=now, why=why)
        return [*outcome, self._closed(agent_id=agent_id, now=now),
                rc.EndConversation(conversation_id=self.conversation_id, reason=why)]

    def close_to_waiting(self, *, settings: QueueChatSettings) -> Outcome:
        """Ask routing to park it (R9); the state changes when routing says ConversationWaiting."""
        check_state(self.state, frozenset({State.ACTIVE}), action="close to waiting")
        if not settings.persistent:
            raise Rejected("not_allowed", f"queue {self.queue_id} does not keep persistent chats")
        self.parking, self.wrote_while_parking = True, None
        return [rc.CloseToWaiting(conversation_id=self.conversation_id, agent_id=self.assignee)]

    def ended_by_routing(self, *, reason: str, now: datetime) -> Outcome:
        """Routing let go of it without chat asking (a waiting period ran out, an operator ended it)."""
        check_transition(self.state, State.CLOSED)
        agent_id = self.assignee
        self.ended_by, self.offered_to = self.ended_by or "system", None
        outcome = self._change(state=State.CLOSED, now=now, why=reason or "ended by routing")
        return [*outcome, self._closed(agent_id=agent_id, now=now)]

    def refused_by_routing(self, *, reason: str, now: datetime) -> Outcome:
        """Routing refused to take it (an unknown queue, an agent who cannot open it): it cannot go on."""
        check_state(self.state, frozenset({State.REQUESTED}), action="give up routing")
        return self.ended_by_routing(reason=f"routing refused it: {reason}", now=now)
