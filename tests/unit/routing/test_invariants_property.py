"""Random sequences of routing use cases never break capacity, offer, RONA or rejection invariants.

This machine tests the orchestration: the Router over many agents, items and queues at once. Each invariant
that belongs to one aggregate is also asserted on that aggregate alone, where it is enforced (the comments
name the test): test_agent_properties.py, test_work_item_properties.py, test_queue_properties.py."""

import copy
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from shared.contracts.routing import events as ev
from services.routing.domain.assignment import choose_agent
from services.routing.domain.model import AssignmentMethod, ItemState, Presence, QueueConfig, RoutingError
from services.routing.domain.router import Router

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
AGENTS = ("a1", "a2", "a3", "a4", "a5")
QUEUES = ("q1", "q2", "q3")
CONVERSATIONS = tuple(f"c{n}" for n in range(1, 9))
SKILLS = ("billing", "english", "tech")

agent_ids = st.sampled_from(AGENTS)
queue_ids = st.sampled_from(QUEUES)
conversations = st.sampled_from(CONVERSATIONS)
channels = st.sampled_from(("chat", "chat", "voice"))
skill_names = st.sampled_from(SKILLS)
skill_sets = st.dictionaries(skill_names, st.integers(1, 10), max_size=2)
methods = st.sampled_from(list(AssignmentMethod))
mostly_available = st.sampled_from([Presence.AVAILABLE] * 3 + [Presence.AWAY, Presence.OFFLINE])
mostly_true = st.integers(0, 3).map(bool)
member_sets = st.dictionaries(agent_ids, st.integers(1, 3), min_size=1, max_size=5)


class RoutingMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.queues, self.agents, self.items = {}, {}, {}
        self.now = T0
        self.ids = itertools.count(1)
        # What a consumer of the event stream alone would believe.
        self.seen_presence: dict[str, Presence] = {}
        self.seen_offers: dict[str, str] = {}

    # --- running one use case and checking what it did -------------------------------------------------

    def run(self, use_case, *args, **kwargs):
        before = copy.deepcopy((self.queues, self.agents, self.items))
        router = Router(self.queues, self.agents, self.items, self.now, lambda: f"o{next(self.ids)}")
        try:
            events = getattr(router, use_case)(*args, **kwargs)
        except RoutingError:
            # 7. A rejected command changes nothing (each aggregate: a refused operation changes nothing), and
            # leaves the Router with no event or dispatch pending: the batch form (handlers.handle_commands) runs
            # the next command on the same Router.
            assert (self.queues, self.agents, self.items) == before
            assert router._events == [] and router._queues_to_dispatch == set()
            return None
        self.check_changes_are_reported(before, router)
        self.check_capacity_only_grows_within_limits(before)
        self.check_rona_is_left_only_by_hand(before, use_case)
        self.replay(events)
        self.check_work_conserving()
        return events

    def check_changes_are_reported(self, before, router):
        queues, agents, items = before
        assert {q for q in self.queues if self.queues[q] != queues.get(q)} <= router.changed_queues
        assert set(queues) - set(self.queues) == router.removed_queues
        assert {a for a in self.agents if self.agents[a] != agents.get(a)} <= router.changed_agents
        assert {c for c in self.items if self.items[c] != items.get(c)} <= router.changed_items

    def check_capacity_only_grows_within_limits(self, before):
        # 2. Load never grows on a channel that is at (or was cut below) capacity (AgentMachine.apply).
        _, agents, _ = before
        for agent in self.agents.values():
            for channel, load in agent.load.items():
                load_before = agents[agent.agent_id].load.get(channel, 0) if agent.agent_id in agents else 0
                assert load <= max(agent.capacity.get(channel, 0), load_before), (agent, channel)

    def check_rona_is_left_only_by_hand(self, before, use_case):
        # 6. Only set_presence takes an agent out of RONA (AgentMachine.apply and routing_changes_presence_anyhow).
        _, agents, _ = before
        for agent_id, agent in agents.items():
            if agent.presence == Presence.RONA and self.agents[agent_id].presence != Presence.RONA:
                assert use_case == "set_presence"

    def replay(self, events):
        for event in events:
            if isinstance(event, ev.PresenceChanged):
                assert self.seen_presence.get(event.agent_id, Presence.OFFLINE) == event.previous
                # 6. Only the agent takes themselves out of RONA, even within one use case.
                assert event.previous != Presence.RONA or not event.automatic, event
                self.seen_presence[event.agent_id] = event.presence
            elif isinstance(event, ev.OfferMade):
                # 4. Offers only go to agents available at that moment (Agent.can_take: AgentMachine; the
                # queue's choice among members: test_work_goes_only_to_a_member_who_can_take_it...).
                assert self.seen_presence.get(event.agent_id) == Presence.AVAILABLE, event
                assert event.conversation_id not in self.seen_offers  # one at a time: WorkItemMachine.offer
                self.seen_offers[event.conversation_id] = event.offer_id
            elif isinstance(event, ev.OfferAccepted | ev.OfferDeclined | ev.OfferExpired | ev.OfferWithdrawn):
                assert self.seen_offers.pop(event.conversation_id) == event.offer_id
        # The event stream alone tells presence and open offers exactly (PresenceChanged: AgentMachine.apply).
        assert {a: p for a, p in self.seen_presence.items() if p != Presence.OFFLINE} == {
            a.agent_id: a.presence for a in self.agents.values() if a.presence != Presence.OFFLINE
        }
        assert self.seen_offers == {i.conversation_id: i.offer.offer_id for i in self.items.values() if i.offer}

    def check_work_conserving(self):
        # 5. After every use case, no queued item has an agent who could be offered it (one queue and item:
        # test_work_goes_only_to_a_member_who_can_take_it_and_always_when_one_can).
        for item in self.items.values():
            if item.state == ItemState.QUEUED and item.queue_id in self.queues:
                assert choose_agent(item, self.queues[item.queue_id], self.agents) is None, item

    @invariant()
    def load_matches_the_work_held(self):
        # 1. Load is exactly the offers, assignments and conference seats an agent holds (each side alone:
        # AgentMachine.load_is_what_callers_hold..., WorkItemMachine.holders_are_exactly_the_seats_held).
        held = Counter()
        for item in self.items.values():
            if item.state not in (ItemState.ENDED, ItemState.WAITING):
                for agent_id in item.capacity_holders():
                    held[agent_id, item.channel] += 1
        for agent in self.agents.values():
            for channel in set(agent.load) | {c for a, c in held if a == agent.agent_id}:
                assert agent.load.get(channel, 0) == held[agent.agent_id, channel], (agent, channel)

    @invariant()
    def each_item_has_one_owner_at_most(self):
        # 3. Offered: one offer, no assignee; assigned: one assignee, no offer; otherwise neither
        # (WorkItemMachine.one_owner_at_most, a_named_target_only_while_offered_to_it).
        for item in self.items.values():
            if item.state == ItemState.OFFERED:
                assert item.offer is not None and item.assigned_agent_id is None
            elif item.state == ItemState.ASSIGNED:
                assert item.assigned_agent_id is not None and item.offer is None
                assert item.assigned_agent_id not in item.participants
                assert not item.participants & set(item.invites)
            else:
                assert item.offer is None and item.assigned_agent_id is None
                assert not item.participants and not item.invites
            if item.state != ItemState.OFFERED:
                assert item.target_agent_id is None
            if item.offer is not None:
                assert self.agents[item.offer.agent_id].presence != Presence.RONA or item.offer.expires_at <= self.now

    # --- set-up -----------------------------------------------------------------------------------------

    @initialize(
        capacities=st.lists(st.tuples(st.integers(1, 3), st.integers(0, 1)), min_size=5, max_size=5),
        agent_skills=st.lists(skill_sets, min_size=5, max_size=5),
        presences=st.lists(mostly_available, min_size=5, max_size=5),
        queue_methods=st.lists(methods, min_size=3, max_size=3),
        queue_members=st.lists(member_sets, min_size=3, max_size=3),
        max_declines=st.lists(st.integers(1, 3), min_size=3, max_size=3),
        busy_at_capacity=st.lists(st.booleans(), min_size=3, max_size=3),
        skill_edit=st.booleans(),
        first_contacts=st.lists(st.tuples(queue_ids, channels, skill_sets), max_size=5),
    )
    def build(self, capacities, agent_skills, presences, queue_methods, queue_members, max_declines, busy_at_capacity,
              skill_edit, first_contacts):
        for agent_id, (chat, voice), skills in zip(AGENTS, capacities, agent_skills, strict=True):
            self.run("configure_agent", agent_id, {"chat": chat, "voice": voice}, skills)
        # q3 is the second line of q1; q1 and q2 overflow into each other.
        lines = (("q3", None, None), ("q2", None, None), ("q1", "q2", "q3"), ("q2", "q1", None))
        for queue_id, overflow, second_line in lines:
            n = QUEUES.index(queue_id)
            config = QueueConfig(
                queue_id,
                queue_id.upper(),
                level=2 if queue_id == "q3" else 1,
                method=queue_methods[n],
                members=queue_members[n],
                offer_timeout_s=30,
                max_declines=max_declines[n],
                overflow_queue_id=overflow,
                max_wait_s=60 * (n + 1) if overflow else None,
                second_level_queue_id=second_line,
                busy_when_at_capacity=busy_at_capacity[n],
                allow_agent_skill_edit=skill_edit,
                persistent_waiting_days=1,
            )
            assert self.run("configure_queue", config) is not None
        for agent_id, presence in zip(AGENTS, presences, strict=True):
            self.run("set_presence", agent_id, presence)
        for conversation, (queue, channel, skills) in zip(CONVERSATIONS, first_contacts):
            assert self.run("enqueue", conversation, queue, channel, skills=skills) is not None
        for conversation in sorted(self.items):
            if offer := self.items[conversation].offer:  # start with work in hand
                assert self.run("accept_offer", conversation, offer.agent_id, offer.offer_id) is not None

    # --- rules ------------------------------------------------------------------------------------------
    # Most rules aim at an item in the state the use case needs (by index into those items), so that
    # sequences get deep; the conversation and agent drawn alongside keep wrong calls in the mix too.

    def pick(self, state, index, fallback, having=lambda item: True):
        candidates = sorted(c for c, item in self.items.items() if item.state == state and having(item))
        return candidates[index % len(candidates)] if candidates else fallback

    def assignee_or(self, conversation_id, agent_id):
        item = self.items.get(conversation_id)
        return item.assigned_agent_id if item and item.assigned_agent_id else agent_id

    @rule(conversation=conversations, queue=queue_ids, channel=channels, priority=st.integers(0, 2),
          skills=skill_sets, last=st.none() | agent_ids, responsible=st.none() | agent_ids)
    def enqueue(self, conversation, queue, channel, priority, skills, last, responsible):
        self.run("enqueue", conversation, queue, channel, priority, skills,
                 last_agent_id=last, responsible_agent_id=responsible)

    @rule(index=st.integers(0, 7), queue=queue_ids, channel=channels)
    def customer_writes_to_a_waiting_chat(self, index, queue, channel):
        waiting = self.pick(ItemState.WAITING, index, None)
        if waiting:
            self.run("enqueue", waiting, queue, channel, preview="again")

    @rule(index=st.integers(0, 7), honest=mostly_true, agent=agent_ids, accept=mostly_true)
    def answer_offer(self, index, honest, agent, accept):
        conversation = self.pick(ItemState.OFFERED, index, "c1")
        offer = self.items[conversation].offer if conversation in self.items else None
        agent_id, offer_id = (offer.agent_id, offer.offer_id) if honest and offer else (agent, "o0")
        if accept:
            self.run("accept_offer", conversation, agent_id, offer_id)
        else:
            self.run("decline_offer", conversation, agent_id, offer_id, "not now")

    @rule(index=st.integers(0, 7))
    def agent_accepts_an_offer(self, index):
        # Accepting is what most offers end in; a rule of its own keeps assigned work around.
        conversation = self.pick(ItemState.OFFERED, index, None)
        if conversation:
            offer = self.items[conversation].offer
            self.run("accept_offer", conversation, offer.agent_id, offer.offer_id)

    @rule(seconds=st.sampled_from([1, 5, 10, 29, 30, 61, 150, 3600, 86400]))
    def time_passes(self, seconds):
        self.now += timedelta(seconds=seconds)
        self.run("expire_offers")
        self.run("overflow")
        self.run("expire_waiting")

    @rule(agent=agent_ids, presence=mostly_available | st.sampled_from([Presence.BUSY, Presence.RONA]))
    def set_presence(self, agent, presence):
        self.run("set_presence", agent, presence)

    @rule(index=st.integers(0, 7), agent=agent_ids)
    def take(self, index, agent):
        self.run("take", self.pick(ItemState.QUEUED, index, "c1"), agent)

    @rule(conversation=conversations, agent=agent_ids, queue=queue_ids, channel=channels)
    def open_item(self, conversation, agent, queue, channel):
        self.run("open_item", conversation, agent, queue, channel)

    @rule(index=st.integers(0, 7), queue=queue_ids)
    def transfer_to_queue(self, index, queue):
        conversation = self.pick(ItemState.ASSIGNED, index, "c1")
        self.run("transfer", conversation, self.assignee_or(conversation, "a1"), to_queue_id=queue, reason="r")

    @rule(index=st.integers(0, 7), to=agent_ids)
    def transfer_to_agent(self, index, to):
        conversation = self.pick(ItemState.ASSIGNED, index, "c1")
        self.run("transfer", conversation, self.assignee_or(conversation, "a1"), to_agent_id=to)

    @rule(index=st.integers(0, 7))
    def escalate(self, index):
        conversation = self.pick(ItemState.ASSIGNED, index, "c1")
        self.run("escalate", conversation, self.assignee_or(conversation, "a1"))

    @rule(index=st.integers(0, 7), by=agent_ids, invitee=agent_ids, likely=st.booleans(), then_accept=st.booleans())
    def invite(self, index, by, invitee, likely, then_accept):
        conversation = self.pick(ItemState.ASSIGNED, index, "c1")
        item = self.items.get(conversation)
        if likely and item is not None:
            online_with_room = [
                a.agent_id
                for a in self.agents.values()
                if a.presence != Presence.OFFLINE and a.free(item.channel) and a.agent_id != item.assigned_agent_id
            ]
            invitee = online_with_room[index % len(online_with_room)] if online_with_room else invitee
        if self.run("invite", conversation, self.assignee_or(conversation, by), invitee) and then_accept:
            self.run("accept_invite", conversation, invitee)

    @rule(index=st.integers(0, 7), agent=agent_ids, accept=st.booleans())
    def answer_invite(self, index, agent, accept):
        conversation = self.pick(ItemState.ASSIGNED, index, "c1", having=lambda item: item.invites)
        invitees = sorted(self.items[conversation].invites) if conversation in self.items else []
        invitee = invitees[0] if invitees else agent
        self.run("accept_invite" if accept else "decline_invite", conversation, invitee)

    @rule(index=st.integers(0, 7), agent=agent_ids)
    def leave_conference(self, index, agent):
        conversation = self.pick(ItemState.ASSIGNED, index, "c1", having=lambda item: item.participants)
        participants = sorted(self.items[conversation].participants) if conversation in self.items else []
        self.run("leave_conference", conversation, participants[0] if participants else agent)

    @rule(index=st.integers(0, 7), by=agent_ids)
    def end_conference(self, index, by):
        conversation = self.pick(ItemState.ASSIGNED, index, "c1")
        self.run("end_conference", conversation, self.assignee_or(conversation, by))

    @rule(index=st.integers(0, 7), by=agent_ids)
    def close_to_waiting(self, index, by):
        conversation = self.pick(ItemState.ASSIGNED, index, "c1")
        self.run("close_to_waiting", conversation, self.assignee_or(conversation, by))

    @rule(conversation=conversations)
    def end(self, conversation):
        self.run("end", conversation, "done")

    @rule(agent=agent_ids, channel=channels, capacity=st.integers(0, 4))
    def change_capacity(self, agent, channel, capacity):
        self.run("configure_agent", agent, {channel: capacity})

    @rule(conversation=conversations, by=st.none() | agent_ids, add=skill_sets, remove=st.lists(skill_names))
    def change_skills(self, conversation, by, add, remove):
        self.run("change_conversation_skills", conversation, by and self.assignee_or(conversation, by), add, remove)

    @rule(queue=st.sampled_from(["q2", "q3"]), method=methods, members=member_sets, max_declines=st.integers(1, 3))
    def reconfigure_queue(self, queue, method, members, max_declines):
        current = self.queues[queue]
        self.run("configure_queue", QueueConfig(
            queue, current.name, level=current.level, method=method, members=members, max_declines=max_declines,
            overflow_queue_id=current.overflow_queue_id, max_wait_s=current.max_wait_s, persistent_waiting_days=1,
        ))


RoutingMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_routing_invariants = RoutingMachine.TestCase
