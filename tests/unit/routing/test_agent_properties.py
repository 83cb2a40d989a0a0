"""The Agent aggregate on its own: any sequence of its operations keeps load and capacity, presence and
RONA rules (the Agent's share of the invariants test_invariants_property.py checks across the Router)."""

import copy
from collections import Counter

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from services.routing.domain.agent import MAX_CAPACITY, Agent, Presence
from services.routing.domain.errors import RoutingError
from shared.contracts.routing import events as ev

pytestmark = pytest.mark.unit

CHANNELS = ("chat", "voice")
REFUSED = object()

channels = st.sampled_from(CHANNELS)
presences = st.sampled_from(list(Presence))
limits = st.integers(0, 3) | st.sampled_from([-1, MAX_CAPACITY, MAX_CAPACITY + 1])
skill_sets = st.dictionaries(st.sampled_from(["billing", "tech"]), st.integers(1, 10), max_size=2)


class AgentMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.agent = Agent("a1")
        self.held = Counter()  # what callers reserved and released: the load the agent must show

    def apply(self, operation, *args, by_agent=False, **kwargs):
        """Run one operation; a refused one changes nothing, an accepted one keeps the step rules."""
        before = copy.deepcopy(self.agent)
        try:
            result = getattr(self.agent, operation)(*args, **kwargs)
        except RoutingError:
            assert self.agent == before, operation
            return REFUSED
        for channel, load in self.agent.load.items():
            # Load never grows on a channel at (or cut below) its capacity.
            assert load <= max(self.agent.capacity.get(channel, 0), before.load.get(channel, 0)), (before, channel)
        if before.presence == Presence.RONA and self.agent.presence != Presence.RONA:
            assert by_agent, "only the agent takes themselves out of RONA"
        if isinstance(result, ev.PresenceChanged):
            # The event alone tells the transition, so a consumer of events knows the presence exactly.
            assert (result.previous, result.presence) == (before.presence, self.agent.presence)
            assert result.automatic is not by_agent
        elif operation in ("choose_presence", "change_presence"):
            assert self.agent.presence == before.presence
        return result

    # --- what callers do ------------------------------------------------------------------------------

    @rule(channel=channels)
    def reserve(self, channel):
        room = self.agent.free(channel) > 0
        if self.apply("reserve", channel) is REFUSED:
            assert not room
        else:
            assert room
            self.held[channel] += 1

    @rule(channel=channels)
    def reserve_as_the_router_does(self, channel):
        # The Router checks first (offers: can_take; work handed by name: check_can_hold), then reserves.
        if self.agent.can_take(channel) or self.apply("check_can_hold", channel) is not REFUSED:
            assert self.apply("reserve", channel) is not REFUSED
            self.held[channel] += 1

    @rule(channel=channels)
    def release(self, channel):
        self.apply("release", channel)
        self.held[channel] = max(0, self.held[channel] - 1)

    @rule(channel=channels, limit=limits)
    def set_capacity(self, channel, limit):
        before = self.agent.capacity.get(channel, 0)
        changed = self.apply("set_capacity", channel, limit)
        if changed is REFUSED:
            assert not 0 <= limit <= MAX_CAPACITY
        elif changed is None:
            assert limit == before
        else:
            assert (changed.capacity, changed.load) == (limit, self.agent.load.get(channel, 0))

    @rule(skills=skill_sets)
    def set_skills(self, skills):
        before = dict(self.agent.skills)
        changed = self.apply("set_skills", skills)
        assert self.agent.skills == skills and (changed is None) == (skills == before)

    @rule(presence=presences)
    def agent_chooses(self, presence):
        was = copy.deepcopy(self.agent)
        changed = self.apply("choose_presence", presence, by_agent=True)
        if presence == Presence.RONA:
            assert changed is REFUSED  # RONA is routing's to set
        elif presence == was.presence:
            assert changed is None and not self.agent.auto_busy  # an automatic BUSY becomes the agent's own
        else:
            assert self.agent.presence == presence

    @rule()
    def routing_puts_in_rona(self):
        self.apply("change_presence", Presence.RONA, automatic=True, reason="offer not answered")
        assert self.agent.presence == Presence.RONA

    @rule(channel=channels, busy_when_at_capacity=st.booleans())
    def routing_busies_a_full_agent(self, channel, busy_when_at_capacity):
        if self.agent.goes_busy(channel, busy_when_at_capacity=busy_when_at_capacity):
            assert busy_when_at_capacity and self.agent.presence == Presence.AVAILABLE
            assert self.agent.free(channel) == 0
            self.apply("change_presence", Presence.BUSY, automatic=True, reason="at capacity")
            assert self.agent.auto_busy

    @rule()
    def routing_lifts_busy(self):
        if self.agent.may_lift_busy():
            self.apply("change_presence", Presence.AVAILABLE, automatic=True, reason="below capacity")

    @rule(presence=presences)
    def routing_changes_presence_anyhow(self, presence):
        was = self.agent.presence
        refused = self.apply("change_presence", presence, automatic=True, reason="test") is REFUSED
        assert refused == (was == Presence.RONA and presence != Presence.RONA)

    # --- what always holds ----------------------------------------------------------------------------

    @invariant()
    def load_is_what_callers_hold_and_never_negative(self):
        for channel in CHANNELS:
            assert self.agent.load.get(channel, 0) == self.held[channel] >= 0

    @invariant()
    def capacity_stays_in_range(self):
        assert all(0 <= limit <= MAX_CAPACITY for limit in self.agent.capacity.values())

    @invariant()
    def offers_and_named_work_need_presence_and_room(self):
        agent = self.agent
        for channel in CHANNELS:
            room = agent.capacity.get(channel, 0) - agent.load.get(channel, 0) > 0
            assert agent.free(channel) == max(0, agent.capacity.get(channel, 0) - agent.load.get(channel, 0))
            assert agent.can_take(channel) == (agent.presence == Presence.AVAILABLE and room)
            refused = self.apply("check_can_hold", channel) is REFUSED
            assert refused == (agent.presence == Presence.OFFLINE or not room)

    @invariant()
    def automatic_busy_is_busy_and_lifted_only_when_nothing_is_full(self):
        agent = self.agent
        assert not agent.auto_busy or agent.presence == Presence.BUSY
        if agent.may_lift_busy():
            assert agent.auto_busy and not agent.is_full_somewhere()
        if agent.presence == Presence.RONA:  # no automatic rule applies in RONA
            assert not agent.may_lift_busy()
            assert not any(agent.goes_busy(c, busy_when_at_capacity=True) for c in CHANNELS)


AgentMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
test_agent_properties = AgentMachine.TestCase
