"""The WorkItem aggregate on its own: any sequence of its transitions, right or wrong, keeps one owner at a
time, the offer rules, the legal state changes and its holders (the WorkItem's share of the invariants
test_invariants_property.py checks across the Router)."""

import copy
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from services.routing.domain.errors import RoutingError
from services.routing.domain.work_item import ItemState, Offer, WorkItem

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
Q, O, A, W, E = ItemState.QUEUED, ItemState.OFFERED, ItemState.ASSIGNED, ItemState.WAITING, ItemState.ENDED
LEGAL = {(Q, O), (Q, A), (O, A), (O, Q), (A, Q), (A, W), (W, Q), (Q, E), (O, E), (A, E), (W, E)}
REFUSED = object()

agent_ids = st.sampled_from(("a1", "a2", "a3", "a4"))
queue_ids = st.sampled_from(("q1", "q2"))
mostly_true = st.integers(0, 3).map(bool)


class WorkItemMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.item = WorkItem(conversation_id="c1", queue_id="q1", enqueued_at=T0, created_at=T0)
        self.now = T0
        self.ids = itertools.count(1)
        self.held = Counter()  # seats callers reserved for this item and have not yet released

    def apply(self, transition, *args, **kwargs):
        """Run one transition; a refused one changes nothing, an accepted one makes a legal state change."""
        before = copy.deepcopy(self.item)
        try:
            result = getattr(self.item, transition)(*args, **kwargs)
        except RoutingError as refused:
            assert self.item == before, transition
            return REFUSED, refused.code
        if self.item.state != before.state:
            assert (before.state, self.item.state) in LEGAL, (transition, before.state, self.item.state)
        if isinstance(result, list):  # agents detached: exactly those who held a seat, released by the caller
            assert Counter(result) == Counter(before.capacity_holders()) - Counter(self.item.capacity_holders())
            self.held -= Counter(result)
        return result, None

    def in_state(*states):
        return precondition(lambda self: self.item.state in states)

    # Rules with a precondition make the legal moves, so that sequences get deep; try_anything calls any
    # transition in any state with any agent, so that the wrong moves are in the mix too.

    # --- offers --------------------------------------------------------------------------------------

    @rule(agent=agent_ids, named=st.booleans(), timeout=st.sampled_from([10, 30]))
    def offer(self, agent, named, timeout):
        was = self.item.state
        offer = Offer(f"o{next(self.ids)}", agent, self.now, self.now + timedelta(seconds=timeout))
        result, _ = self.apply("offer_to", offer, named=named)
        assert (result is REFUSED) == (was != Q)  # one offer at a time, of queued work only
        if result is not REFUSED:
            self.held[agent] += 1

    @in_state(O)
    @rule(agent=agent_ids, right_agent=mostly_true, right_id=mostly_true, accept=mostly_true)
    def answer_offer(self, agent, right_agent, right_id, accept):
        offer = self.item.offer
        agent = offer.agent_id if right_agent else agent
        offer_id = offer.offer_id if right_id else "o0"
        live, code = self.apply("live_offer", agent, offer_id, self.now)
        if offer.agent_id != agent:
            assert code == "not_offered_to_agent"
        elif offer_id != offer.offer_id or offer.expires_at <= self.now:
            assert code == "offer_expired"
        elif accept:
            assert live == offer
            assert self.apply("assign_to", agent)[0] is not REFUSED  # the offer's seat is now the assignment
        else:
            self.apply("count_decline", agent)
            self.offer_ends_unaccepted()

    @in_state(O)
    @rule()
    def offer_ends_unaccepted(self):
        was = copy.deepcopy(self.item)
        assert self.apply("return_to_queue")[0] is not REFUSED
        assert self.item.enqueued_at == was.enqueued_at  # it keeps its place in the queue

    @rule(seconds=st.sampled_from([1, 10, 30, 3600]))
    def time_passes(self, seconds):
        self.now += timedelta(seconds=seconds)

    # --- holding the item ------------------------------------------------------------------------------

    @rule(agent=agent_ids)
    def assign(self, agent):
        was = copy.deepcopy(self.item)
        result, _ = self.apply("assign_to", agent)
        allowed = was.state == Q or (was.state == O and was.offer.agent_id == agent)
        assert (result is not REFUSED) == allowed
        if result is not REFUSED and was.state == Q:
            self.held[agent] += 1  # taken or opened by hand: the caller reserves

    @in_state(A)
    @rule(queue=queue_ids, max_declines=st.integers(1, 3))
    def transfer(self, queue, max_declines):
        by = self.item.assigned_agent_id
        assert self.apply("transfer", by, queue, max_declines=max_declines, now=self.now)[0] is not REFUSED
        assert self.item.declines == {by: max_declines} and self.item.last_agent_id == by
        assert self.item.enqueued_at == self.item.created_at == self.now  # a new wait

    @in_state(A)
    @rule()
    def close_to_waiting(self):
        agent = self.item.assigned_agent_id
        assert self.apply("park_with", agent, self.now + timedelta(days=1))[0] is not REFUSED
        assert self.item.last_agent_id == agent

    @in_state(W)
    @rule()
    def customer_writes_again(self):
        assert self.apply("reopen", self.now)[0] is not REFUSED
        assert self.item.enqueued_at == self.item.created_at == self.now and not self.item.declines

    @in_state(Q, O, A, W)
    @rule(enqueued_again=mostly_true)
    def end(self, enqueued_again):
        assert self.apply("finish")[0] is not REFUSED
        if enqueued_again:
            self.customer_writes_after_the_end()

    @in_state(E)
    @rule()
    def customer_writes_after_the_end(self):
        # What the Router does: a new item in place of the ended one.
        self.item = WorkItem(conversation_id="c1", queue_id="q1", enqueued_at=self.now, created_at=self.now,
                             version=self.item.version)

    @rule(queue=queue_ids)
    def overflow(self, queue):
        was = copy.deepcopy(self.item)
        if self.apply("move_to", queue, self.now)[0] is REFUSED:
            assert was.state != Q
        else:
            assert self.item.enqueued_at == self.now and self.item.created_at == was.created_at
            assert not self.item.declines

    # --- conference ------------------------------------------------------------------------------------

    @in_state(A)
    @rule(invitee=agent_ids, then=st.sampled_from([None, "accept", "accept", "decline"]))
    def invite(self, invitee, then):
        item = self.item
        expected_refusal = invitee == item.assigned_agent_id or invitee in item.participants or invitee in item.invites
        assert (self.apply("invite", item.assigned_agent_id, invitee)[0] is REFUSED) == expected_refusal
        if then and not expected_refusal:
            self.answer_invite(invitee, accept=then == "accept")

    @precondition(lambda self: self.item.invites)
    @rule(accept=st.booleans())
    def answer_oldest_invite(self, accept):
        self.answer_invite(min(self.item.invites), accept)

    def answer_invite(self, invitee, accept):
        assert self.apply("accept_invite" if accept else "decline_invite", invitee)[0] is not REFUSED
        if accept:
            self.held[invitee] += 1

    @precondition(lambda self: self.item.participants)
    @rule()
    def leave(self):
        agent = min(self.item.participants)
        assert self.apply("leave", agent)[0] is not REFUSED
        self.held[agent] -= 1  # the caller releases the participant's seat

    @in_state(A)
    @rule()
    def end_conference(self):
        assert self.apply("end_conference", self.item.assigned_agent_id)[0] is not REFUSED

    # --- any transition, in any state, by anyone -------------------------------------------------------

    @rule(transition=st.sampled_from(["transfer", "park_with", "reopen", "return_to_queue", "finish", "invite",
                                      "accept_invite", "decline_invite", "leave", "end_conference"]),
          agent=agent_ids, other=agent_ids)
    def try_anything(self, transition, agent, other):
        args = {"transfer": (agent, "q2"), "park_with": (agent, self.now), "reopen": (self.now,),
                "return_to_queue": (), "finish": (), "invite": (agent, other)}.get(transition, (agent,))
        kwargs = {"max_declines": 1, "now": self.now} if transition == "transfer" else {}
        was = copy.deepcopy(self.item)
        result, _ = self.apply(transition, *args, **kwargs)
        if result is not REFUSED and transition == "accept_invite":
            self.held[agent] += 1
        elif result is not REFUSED and transition == "leave":
            self.held[agent] -= 1
        if transition in ("transfer", "park_with", "end_conference") and result is not REFUSED:
            assert was.state == A and was.assigned_agent_id == agent  # only the assignee hands it on
        if transition == "finish":
            assert (result is REFUSED) == (was.state == E)  # ended is final

    # --- what always holds ----------------------------------------------------------------------------

    @invariant()
    def one_owner_at_most(self):
        item = self.item
        if item.state == O:
            assert item.offer is not None and item.assigned_agent_id is None
        elif item.state == A:
            assert item.assigned_agent_id is not None and item.offer is None
            assert item.assigned_agent_id not in item.participants
            assert not item.participants & set(item.invites)
        else:
            assert item.offer is None and item.assigned_agent_id is None
            assert not item.participants and not item.invites

    @invariant()
    def a_named_target_only_while_offered_to_it(self):
        if self.item.target_agent_id is not None:
            assert self.item.state == O and self.item.offer.agent_id == self.item.target_agent_id

    @invariant()
    def holders_are_exactly_the_seats_held(self):
        holders = Counter(self.item.capacity_holders())
        assert all(n == 1 for n in holders.values())  # nobody holds one item twice
        assert holders == +self.held

    @invariant()
    def waiting_has_a_deadline_and_nothing_else_does(self):
        assert (self.item.waiting_until is not None) == (self.item.state == W)


WorkItemMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
test_work_item_properties = WorkItemMachine.TestCase
