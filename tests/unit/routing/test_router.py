"""The Router's use cases, one behaviour per test, driven the way the service layer drives them."""

import copy
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.routing.domain.model import (
    AssignmentMethod,
    ItemState,
    Presence,
    QueueConfig,
    RoutingError,
)
from services.routing.domain.router import Router
from shared.contracts.routing import events as ev

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


class World:
    """Entities as a repository would hold them; each use case gets a fresh Router at the current time."""

    def __init__(self):
        self.queues, self.agents, self.items = {}, {}, {}
        self.now = T0
        self._ids = itertools.count(1)
        self.last = None

    @property
    def router(self) -> Router:
        self.last = Router(self.queues, self.agents, self.items, self.now, lambda: f"o{next(self._ids)}")
        return self.last

    def agent(self, agent_id, presence=Presence.AVAILABLE, skills=None, **capacity):
        self.router.configure_agent(agent_id, capacity or {"chat": 2}, skills)
        if presence != Presence.OFFLINE:
            self.router.set_presence(agent_id, presence)
        return self.agents[agent_id]

    def queue(self, queue_id="q1", members=("a1",), **settings):
        members = members if isinstance(members, dict) else {agent_id: 1 for agent_id in members}
        self.router.configure_queue(QueueConfig(queue_id, queue_id.upper(), members=members, **settings))
        return self.queues[queue_id]

    def later(self, seconds):
        self.now += timedelta(seconds=seconds)

    def offer_of(self, conversation_id):
        return self.items[conversation_id].offer

    def accept(self, conversation_id):
        offer = self.offer_of(conversation_id)
        return self.router.accept_offer(conversation_id, offer.agent_id, offer.offer_id)

    def snapshot(self):
        return copy.deepcopy((self.queues, self.agents, self.items))


def kinds(events):
    return [type(event).__name__ for event in events]


def only(events, event_type):
    found = [event for event in events if isinstance(event, event_type)]
    assert len(found) == 1, kinds(events)
    return found[0]


def rejected(world, code, use_case, *args, **kwargs):
    """Run a use case that must fail, and check that it changed nothing."""
    before = world.snapshot()
    with pytest.raises(RoutingError) as error:
        getattr(world.router, use_case)(*args, **kwargs)
    assert error.value.code == code, error.value.reason
    assert world.snapshot() == before
    return error.value


@pytest.fixture
def world():
    return World()


# --- queues -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"members": {"a1": 0}}, "priorities"),
        ({"offer_timeout_s": 0}, "timeout"),
        ({"max_declines": 0}, "max_declines"),
        ({"overflow_queue_id": "nowhere"}, "overflow queue nowhere"),
        ({"overflow_queue_id": "q1"}, "itself"),
        ({"second_level_queue_id": "nowhere"}, "second-level queue nowhere"),
        ({"level": 3}, "level"),
        ({"method": "lottery"}, "method"),
    ],
)
def test_configure_queue_rejects_invalid_settings(world, settings, reason):
    config = QueueConfig("q1", "Q1", **{"members": {"a1": 1}, **settings})

    error = rejected(world, "invalid_config", "configure_queue", config)

    assert reason in error.reason


def test_configure_queue_announces_the_queue_and_keeps_the_round_robin_position(world):
    world.queue("q1", members=("a1",))
    world.queues["q1"].rr_cursor = "a1"

    events = world.router.configure_queue(QueueConfig("q1", "First line", members={"a1": 1, "a2": 2}))

    configured = only(events, ev.QueueConfigured)
    assert configured.members == {"a1": 1, "a2": 2} and configured.name == "First line"
    assert world.queues["q1"].rr_cursor == "a1"
    assert world.last.changed_queues == {"q1"}


def test_adding_a_member_to_a_queue_offers_its_waiting_items(world):
    world.queue("q1", members=())
    world.agent("a1")
    world.router.enqueue("c1", "q1", "chat")

    events = world.router.configure_queue(QueueConfig("q1", "Q1", members={"a1": 1}))

    assert only(events, ev.OfferMade).agent_id == "a1"


def test_remove_queue_refuses_while_work_is_queued_or_while_other_queues_point_at_it(world):
    world.queue("q2", members=())
    world.queue("q1", members=(), overflow_queue_id="q2")
    world.router.enqueue("c1", "q1", "chat")

    rejected(world, "invalid_state", "remove_queue", "q1")
    rejected(world, "invalid_config", "remove_queue", "q2")
    world.router.end("c1")
    router = world.router
    events = router.remove_queue("q1")

    assert kinds(events) == ["QueueRemoved"]
    assert "q1" not in world.queues and router.removed_queues == {"q1"}


# --- agents -----------------------------------------------------------------------------------------------

def test_configure_agent_creates_an_offline_agent_and_reports_each_changed_channel(world):
    events = world.router.configure_agent("a1", {"chat": 3, "voice": 1}, {"billing": 4})

    assert world.agents["a1"].presence == Presence.OFFLINE
    assert kinds(events) == ["CapacityChanged", "CapacityChanged", "AgentSkillsChanged"]
    assert world.router.configure_agent("a1", {"chat": 3, "voice": 0}) == [ev.CapacityChanged(
        agent_id="a1", channel="voice", capacity=0, load=0)]


@pytest.mark.parametrize("capacity", [{"chat": 51}, {"chat": -1}, {"chat": "5"}])
def test_configure_agent_rejects_capacity_outside_0_to_50(world, capacity):
    rejected(world, "invalid_config", "configure_agent", "a1", capacity)


def test_lowering_capacity_below_load_takes_nothing_away_and_raising_it_resumes_offers(world):
    world.agent("a1", chat=2)
    world.queue("q1", members=("a1",), busy_when_at_capacity=False)
    world.router.enqueue("c1", "q1", "chat")
    world.router.enqueue("c2", "q1", "chat")

    world.router.configure_agent("a1", {"chat": 1})
    world.router.end("c2")
    world.router.enqueue("c3", "q1", "chat")

    assert world.items["c1"].state == ItemState.OFFERED
    assert world.items["c3"].state == ItemState.QUEUED  # load 1 of 1

    events = world.router.configure_agent("a1", {"chat": 2})

    assert only(events, ev.OfferMade).conversation_id == "c3"


def test_rona_cannot_be_chosen_by_hand(world):
    world.agent("a1")

    rejected(world, "invalid_argument", "set_presence", "a1", Presence.RONA)
    rejected(world, "invalid_argument", "set_presence", "a1", "sleeping")


def test_the_same_presence_again_changes_nothing(world):
    world.agent("a1")

    assert world.router.set_presence("a1", "available") == []


def test_going_away_withdraws_pending_offers_without_counting_a_decline_and_the_item_moves_on(world):
    world.agent("a1")
    world.agent("a2")
    world.queue("q1", members=("a1", "a2"))
    world.router.enqueue("c1", "q1", "chat")
    assert world.offer_of("c1").agent_id == "a1"

    events = world.router.set_presence("a1", Presence.AWAY)

    assert kinds(events) == ["PresenceChanged", "OfferWithdrawn", "OfferMade"]
    assert world.offer_of("c1").agent_id == "a2"
    assert world.items["c1"].declines == {}
    assert world.agents["a1"].load["chat"] == 0


def test_becoming_available_offers_waiting_work(world):
    world.agent("a1", presence=Presence.AWAY)
    world.queue("q1", members=("a1",))
    world.router.enqueue("c1", "q1", "chat")

    events = world.router.set_presence("a1", Presence.AVAILABLE)

    assert kinds(events) == ["PresenceChanged", "OfferMade"]


# --- enqueue and dispatch ---------------------------------------------------------------------------

def test_enqueue_queues_the_conversation_and_offers_it_with_what_the_agent_needs_to_see(world):
    world.agent("a1")
    world.queue("q1", members=("a1",), offer_timeout_s=20)

    events = world.router.enqueue("c1", "q1", "chat", customer_name="Olena", preview="My invoice is wrong")

    assert kinds(events) == ["ConversationQueued", "OfferMade"]
    offer = only(events, ev.OfferMade)
    assert (offer.agent_id, offer.queue_id, offer.customer_name) == ("a1", "q1", "Olena")
    assert offer.preview == "My invoice is wrong" and offer.waited_s == 0
    assert offer.expires_at == T0 + timedelta(seconds=20)
    assert world.items["c1"].state == ItemState.OFFERED
    assert world.agents["a1"].load == {"chat": 1}
    assert world.queues["q1"].rr_cursor == "a1"


def test_enqueue_of_a_conversation_already_in_routing_is_a_no_op(world):
    world.agent("a1")
    world.queue("q1", members=("a1",))
    world.router.enqueue("c1", "q1", "chat")

    assert world.router.enqueue("c1", "q1", "chat") == []


def test_enqueue_into_an_unknown_queue_is_rejected(world):
    rejected(world, "unknown_queue", "enqueue", "c1", "nope", "chat")


def test_round_robin_rotates_over_the_members(world):
    for agent_id in ("a1", "a2", "a3"):
        world.agent(agent_id, chat=5)
    world.queue("q1", members=("a1", "a2", "a3"))

    for n in range(4):
        world.router.enqueue(f"c{n}", "q1", "chat")

    assert [world.offer_of(f"c{n}").agent_id for n in range(4)] == ["a1", "a2", "a3", "a1"]


def test_queue_order_is_priority_then_longest_waiting(world):
    world.agent("a1", presence=Presence.AWAY, chat=1)
    world.queue("q1", members=("a1",))
    world.router.enqueue("old", "q1", "chat")
    world.later(10)
    world.router.enqueue("new", "q1", "chat")
    world.router.enqueue("urgent", "q1", "chat", priority=5)

    world.router.set_presence("a1", Presence.AVAILABLE)
    assert world.items["urgent"].state == ItemState.OFFERED
    world.router.end("urgent")

    assert world.items["old"].state == ItemState.OFFERED
    assert world.items["new"].state == ItemState.QUEUED


def test_an_item_nobody_can_take_does_not_hold_up_the_items_behind_it(world):
    world.agent("a1", chat=1, voice=0)
    world.queue("q1", members=("a1",))
    world.router.enqueue("call", "q1", "voice", priority=9)

    events = world.router.enqueue("chat", "q1", "chat")

    assert world.items["call"].state == ItemState.QUEUED
    assert only(events, ev.OfferMade).conversation_id == "chat"


def test_a_full_channel_skips_only_that_channels_items_for_the_rest_of_the_pass(world):
    """Once nobody of the queue can take another chat, the pass skips its other chats without looking at every
    member again; an item of another channel, and one named to an agent outside the queue, are still offered."""
    world.agent("a1", presence=Presence.AWAY, chat=1, email=1)
    world.agent("c1", chat=1)
    world.queue("q1", members=("a1",))
    world.router.enqueue("first", "q1", "chat", priority=9)
    for conversation, channel in (("second", "chat"), ("mail", "email"), ("named", "chat")):  # in this order
        world.later(1)
        world.router.enqueue(conversation, "q1", channel)
    world.items["named"].target_agent_id = "c1"  # as a transfer to a named agent leaves it
    assert all(item.state == ItemState.QUEUED for item in world.items.values())

    events = world.router.set_presence("a1", Presence.AVAILABLE)

    offered = {e.conversation_id: e.agent_id for e in events if isinstance(e, ev.OfferMade)}
    assert offered == {"first": "a1", "mail": "a1", "named": "c1"}
    assert world.items["second"].state == ItemState.QUEUED


def test_dispatch_rejects_unknown_queues(world):
    rejected(world, "unknown_queue", "dispatch", ["nope"])


# --- accepting, declining, expiring -------------------------------------------------------------------

def test_accepting_an_offer_assigns_the_conversation(world):
    world.agent("a1", chat=2)
    world.queue("q1", members=("a1",))
    world.router.enqueue("c1", "q1", "chat")
    world.later(5)

    events = world.accept("c1")

    assert kinds(events) == ["OfferAccepted", "ConversationAssigned"]
    assert only(events, ev.ConversationAssigned).how == "offer"
    item = world.items["c1"]
    assert (item.state, item.assigned_agent_id, item.last_agent_id) == (ItemState.ASSIGNED, "a1", "a1")
    assert item.offer is None
    assert world.agents["a1"].load == {"chat": 1}
    assert world.agents["a1"].last_assigned_at == world.now


def test_only_the_offered_agent_with_the_current_offer_can_accept(world):
    world.agent("a1")
    world.agent("a2")
    world.queue("q1", members=("a1", "a2"))
    world.router.enqueue("c1", "q1", "chat")
    offer = world.offer_of("c1")

    rejected(world, "not_offered_to_agent", "accept_offer", "c1", "a2", offer.offer_id)
    rejected(world, "offer_expired", "accept_offer", "c1", "a1", "an-older-offer")
    world.later(30)
    rejected(world, "offer_expired", "accept_offer", "c1", "a1", offer.offer_id)


def test_an_agent_goes_busy_by_itself_at_capacity_and_back_when_work_ends(world):
    world.agent("a1", chat=1)
    world.queue("q1", members=("a1",))
    world.router.enqueue("c1", "q1", "chat")

    events = world.accept("c1")

    busy = ev.PresenceChanged(
        agent_id="a1", previous=Presence.AVAILABLE, presence=Presence.BUSY, automatic=True, reason="chat at capacity")
    assert only(events, ev.PresenceChanged) == busy
    assert world.agents["a1"].auto_busy

    events = world.router.end("c1")

    assert only(events, ev.PresenceChanged).presence == Presence.AVAILABLE


def test_a_busy_the_agent_chose_is_not_lifted_when_work_ends(world):
    world.agent("a1", chat=1)
    world.queue("q1", members=("a1",))
    world.router.enqueue("c1", "q1", "chat")
    world.accept("c1")
    world.router.set_presence("a1", Presence.BUSY)  # already busy: it becomes the agent's own

    world.router.end("c1")

    assert world.agents["a1"].presence == Presence.BUSY


def test_queues_without_busy_when_at_capacity_leave_presence_alone(world):
    world.agent("a1", chat=1)
    world.queue("q1", members=("a1",), busy_when_at_capacity=False)
    world.router.enqueue("c1", "q1", "chat")

    assert "PresenceChanged" not in kinds(world.accept("c1"))
    assert world.agents["a1"].presence == Presence.AVAILABLE


def test_a_declined_offer_goes_to_the_next_agent(world):
    world.agent("a1")
    world.agent("a2")
    world.queue("q1", members=("a1", "a2"), method=AssignmentMethod.LEAST_LOADED)
    world.router.enqueue("c1", "q1", "chat")
    offer = world.offer_of("c1")

    events = world.router.decline_offer("c1", "a1", offer.offer_id, "wrong language")

    assert kinds(events) == ["OfferDeclined", "OfferMade"]
    assert only(events, ev.OfferDeclined).reason == "wrong language"
    assert world.offer_of("c1").agent_id == "a2"
    assert world.items["c1"].declines == {"a1": 1}
    assert world.agents["a1"].load["chat"] == 0


def test_after_max_declines_the_item_is_no_longer_offered_to_that_agent(world):
    world.agent("a1")
    world.queue("q1", members=("a1",), max_declines=2)
    world.router.enqueue("c1", "q1", "chat")

    world.router.decline_offer("c1", "a1", world.offer_of("c1").offer_id)
    assert world.offer_of("c1").agent_id == "a1"  # nobody else: it comes back
    world.router.decline_offer("c1", "a1", world.offer_of("c1").offer_id)

    assert world.items["c1"].state == ItemState.QUEUED


def test_a_declined_item_keeps_its_place_in_the_queue(world):
    world.agent("a1", chat=1)
    world.queue("q1", members=("a1",), max_declines=5)
    world.router.enqueue("first", "q1", "chat")
    world.later(5)
    world.router.enqueue("second", "q1", "chat")

    world.router.decline_offer("first", "a1", world.offer_of("first").offer_id)

    assert world.items["first"].enqueued_at == T0
    assert world.offer_of("first").agent_id == "a1"
    assert world.items["second"].state == ItemState.QUEUED


def test_an_unanswered_offer_puts_the_agent_in_rona_and_goes_to_the_next_agent(world):
    world.agent("a1")
    world.agent("a2")
    world.queue("q1", members=("a1", "a2"), offer_timeout_s=30)
    world.router.enqueue("c1", "q1", "chat")
    offer = world.offer_of("c1")
    world.later(29)
    assert world.router.expire_offers() == []
    world.later(1)

    events = world.router.expire_offers()

    assert kinds(events) == ["OfferExpired", "PresenceChanged", "OfferMade"]
    assert only(events, ev.OfferExpired).offer_id == offer.offer_id
    rona = ev.PresenceChanged(
        agent_id="a1", previous=Presence.AVAILABLE, presence=Presence.RONA, automatic=True, reason="offer not answered")
    assert only(events, ev.PresenceChanged) == rona
    assert world.offer_of("c1").agent_id == "a2"
    assert world.items["c1"].declines == {"a1": 1}


def test_rona_withdraws_the_agents_other_offers_and_only_the_agent_ends_it(world):
    world.agent("a1", chat=3)
    world.agent("a2", presence=Presence.AWAY)
    world.queue("q1", members=("a1", "a2"), method=AssignmentMethod.LEAST_LOADED)
    world.router.enqueue("c1", "q1", "chat")
    world.later(20)
    world.router.enqueue("c2", "q1", "chat")
    world.accept("c2")
    world.router.enqueue("c3", "q1", "chat")
    world.later(10)

    events = world.router.expire_offers()

    assert kinds(events) == ["OfferExpired", "PresenceChanged", "OfferWithdrawn"]
    assert world.items["c3"].state == ItemState.QUEUED and world.items["c3"].declines == {}
    world.router.end("c2")  # freeing capacity does not lift RONA
    assert world.agents["a1"].presence == Presence.RONA

    events = world.router.set_presence("a1", Presence.AVAILABLE)

    assert kinds(events)[0] == "PresenceChanged"
    assert {e.conversation_id for e in events if isinstance(e, ev.OfferMade)} == {"c1", "c3"}


# --- manual take and open (R8) ----------------------------------------------------------------------

def test_an_agent_can_take_a_queued_item_by_hand_even_when_not_available(world):
    world.agent("a1", presence=Presence.AWAY)
    world.queue("q1", members=("a1",))
    world.router.enqueue("c1", "q1", "chat")

    events = world.router.take("c1", "a1")

    assert only(events, ev.ConversationAssigned).how == "manual_take"
    assert world.items["c1"].assigned_agent_id == "a1"
    assert world.agents["a1"].load == {"chat": 1}


def test_take_checks_membership_presence_capacity_and_that_nobody_else_has_the_offer(world):
    world.agent("a1")
    world.agent("a2", presence=Presence.AWAY)
    world.agent("off", presence=Presence.OFFLINE)
    world.agent("full", presence=Presence.AWAY, chat=0)
    world.agent("outsider", presence=Presence.AWAY)
    world.queue("q1", members=("a1", "a2", "off", "full"))
    world.router.enqueue("offered", "q1", "chat")
    world.router.set_presence("a1", Presence.AWAY)  # "offered" stays queued, nobody is available

    rejected(world, "not_member", "take", "offered", "outsider")
    rejected(world, "agent_unavailable", "take", "offered", "off")
    rejected(world, "no_capacity", "take", "offered", "full")
    world.router.set_presence("a1", Presence.AVAILABLE)
    rejected(world, "invalid_state", "take", "offered", "a2")


def test_taking_an_item_offered_to_yourself_accepts_the_offer(world):
    world.agent("a1")
    world.queue("q1", members=("a1",))
    world.router.enqueue("c1", "q1", "chat")

    assert kinds(world.router.take("c1", "a1")) == ["OfferAccepted", "ConversationAssigned"]


def test_open_item_starts_a_conversation_assigned_to_the_agent(world):
    world.agent("a1")
    world.queue("q1", members=("a1",))

    events = world.router.open_item("c1", "a1", "q1", customer_name="Jan")

    assert only(events, ev.ConversationAssigned).how == "manual_open"
    assert world.items["c1"].state == ItemState.ASSIGNED
    rejected(world, "invalid_state", "open_item", "c1", "a1", "q1")


# --- transfer and escalation (R7, R10) ----------------------------------------------------------------

def assigned_to_a1(world, **queue_settings):
    world.agent("a1")
    world.queue("q1", members=("a1",), **queue_settings)
    world.router.enqueue("c1", "q1", "chat")
    world.accept("c1")


def test_transfer_to_a_queue_frees_the_agent_and_routes_in_the_target_queue(world):
    world.agent("b1")
    world.queue("q2", members=("a1", "b1"))
    assigned_to_a1(world)
    world.later(60)

    events = world.router.transfer("c1", "a1", to_queue_id="q2", reason="billing question")

    assert kinds(events) == ["ConversationTransferred", "OfferMade"]
    transferred = ev.ConversationTransferred(
        conversation_id="c1", from_agent_id="a1", to_queue_id="q2", to_agent_id=None, reason="billing question")
    assert only(events, ev.ConversationTransferred) == transferred
    item = world.items["c1"]
    assert (item.queue_id, item.last_agent_id, item.enqueued_at) == ("q2", "a1", world.now)
    assert world.offer_of("c1").agent_id == "b1"  # not back to a1, even as last agent
    assert world.agents["a1"].load["chat"] == 0


def test_transfer_to_an_agent_offers_the_conversation_to_that_agent_only(world):
    world.agent("a2")
    world.agent("a3")
    assigned_to_a1(world)

    events = world.router.transfer("c1", "a1", to_agent_id="a3", reason="knows the case")

    assert kinds(events) == ["ConversationTransferred", "OfferMade"]
    assert world.offer_of("c1").agent_id == "a3"
    assert world.items["c1"].target_agent_id == "a3"


def test_a_declined_transfer_to_an_agent_falls_back_to_normal_queue_routing(world):
    world.agent("a2")
    world.agent("a3")
    world.queue("q1", members=("a1", "a2"))
    world.router.configure_agent("a1", {"chat": 2})
    world.router.set_presence("a1", Presence.AVAILABLE)
    world.router.enqueue("c1", "q1", "chat")
    world.accept("c1")
    world.router.transfer("c1", "a1", to_agent_id="a3")

    events = world.router.decline_offer("c1", "a3", world.offer_of("c1").offer_id)

    assert world.items["c1"].target_agent_id is None
    assert only(events, ev.OfferMade).agent_id == "a2"


def test_transfer_to_an_agent_who_cannot_take_it_changes_nothing(world):
    world.agent("away", presence=Presence.AWAY)
    world.agent("full", chat=0)
    assigned_to_a1(world)

    rejected(world, "agent_unavailable", "transfer", "c1", "a1", to_agent_id="away")
    rejected(world, "no_capacity", "transfer", "c1", "a1", to_agent_id="full")
    rejected(world, "unknown_agent", "transfer", "c1", "a1", to_agent_id="ghost")
    rejected(world, "invalid_argument", "transfer", "c1", "a1", to_agent_id="a1")


def test_transfer_needs_exactly_one_target_and_the_conversation_assigned_to_the_sender(world):
    world.agent("a2")
    assigned_to_a1(world)

    rejected(world, "invalid_argument", "transfer", "c1", "a1")
    rejected(world, "invalid_argument", "transfer", "c1", "a1", to_queue_id="q1", to_agent_id="a2")
    rejected(world, "invalid_state", "transfer", "c1", "a2", to_queue_id="q1")
    rejected(world, "unknown_queue", "transfer", "c1", "a1", to_queue_id="nope")


def test_escalate_sends_the_conversation_to_the_second_line(world):
    world.agent("l2")
    world.queue("second", members=("l2",), level=2)
    assigned_to_a1(world, second_level_queue_id="second")

    events = world.router.escalate("c1", "a1", reason="needs an engineer")

    transferred = only(events, ev.ConversationTransferred)
    assert (transferred.to_queue_id, transferred.reason) == ("second", "needs an engineer")
    assert world.offer_of("c1").agent_id == "l2"


def test_escalate_without_a_second_line_is_rejected(world):
    assigned_to_a1(world)

    rejected(world, "invalid_config", "escalate", "c1", "a1")


# --- persistent chat (R9) ------------------------------------------------------------------------------

def test_close_to_waiting_parks_the_chat_and_frees_the_agent(world):
    assigned_to_a1(world, persistent_waiting_days=28)

    events = world.router.close_to_waiting("c1", "a1")

    assert events[0] == ev.ConversationWaiting(
        conversation_id="c1", agent_id="a1", waiting_until=T0 + timedelta(days=28))
    item = world.items["c1"]
    assert (item.state, item.assigned_agent_id, item.last_agent_id) == (ItemState.WAITING, None, "a1")
    assert world.agents["a1"].load["chat"] == 0


def test_a_customer_writing_to_a_waiting_chat_goes_back_to_the_same_agent(world):
    world.agent("a1")
    world.agent("a2")
    world.queue("q1", members=("a1", "a2"), method=AssignmentMethod.LEAST_LOADED)
    world.router.enqueue("c1", "q1", "chat")
    world.accept("c1")  # a1: equally free, first by id
    world.router.close_to_waiting("c1", "a1")
    world.router.set_presence("a1", Presence.BUSY)
    world.later(3600)

    events = world.router.enqueue("c1", "q1", "chat", preview="Me again")

    assert kinds(events) == ["ConversationAssigned"]
    assert only(events, ev.ConversationAssigned).how == "returned_from_waiting"
    assert world.items["c1"].assigned_agent_id == "a1" and world.items["c1"].waiting_until is None


def test_a_waiting_chat_whose_agent_is_offline_is_queued_with_the_last_agent_preferred(world):
    world.agent("a1", chat=2)
    world.agent("a2", chat=5)
    world.queue("q1", members=("a1",))
    world.queue("later", members=(), method=AssignmentMethod.LEAST_LOADED)
    world.router.enqueue("c1", "q1", "chat")
    world.accept("c1")
    world.router.close_to_waiting("c1", "a1")
    world.router.set_presence("a1", Presence.OFFLINE)

    events = world.router.enqueue("c1", "later", "chat")

    assert kinds(events) == ["ConversationQueued"]
    world.router.set_presence("a1", Presence.AVAILABLE)
    # a2 has more free capacity, but the chat's last agent comes first.
    events = world.router.configure_queue(
        QueueConfig("later", "Later", method=AssignmentMethod.LEAST_LOADED, members={"a1": 1, "a2": 1})
    )
    assert only(events, ev.OfferMade).agent_id == "a1"


def test_waiting_chats_end_after_their_waiting_period_and_then_start_fresh(world):
    assigned_to_a1(world, persistent_waiting_days=1)
    world.router.close_to_waiting("c1", "a1")
    world.later(24 * 3600 - 1)
    assert world.router.expire_waiting() == []
    world.later(1)

    assert world.router.expire_waiting() == [ev.ConversationEnded(
        conversation_id="c1", reason="waiting period expired")]

    world.router.set_presence("a1", Presence.AWAY)
    world.router.enqueue("c1", "q1", "chat")
    assert world.items["c1"].state == ItemState.QUEUED
    assert world.items["c1"].last_agent_id is None


# --- ending -------------------------------------------------------------------------------------------

def test_ending_an_offered_conversation_withdraws_the_offer(world):
    world.agent("a1")
    world.queue("q1", members=("a1",))
    world.router.enqueue("c1", "q1", "chat")

    events = world.router.end("c1", "customer left")

    assert kinds(events) == ["OfferWithdrawn", "ConversationEnded"]
    assert world.agents["a1"].load["chat"] == 0
    assert world.router.end("c1") == []


def test_ending_a_conversation_frees_everyone_in_it_and_offers_the_freed_capacity(world):
    world.agent("a1", chat=1)
    world.agent("a2", chat=1)
    world.queue("q1", members=("a1",))
    world.router.enqueue("c1", "q1", "chat")
    world.accept("c1")
    world.router.invite("c1", "a1", "a2")
    world.router.accept_invite("c1", "a2")
    world.router.enqueue("c2", "q1", "chat")

    events = world.router.end("c1")

    assert world.agents["a1"].load["chat"] == 1 and world.agents["a2"].load["chat"] == 0
    assert only(events, ev.OfferMade).conversation_id == "c2"


# --- overflow and timers (R6) ---------------------------------------------------------------------------

def test_items_waiting_too_long_overflow_to_the_fallback_queue(world):
    world.agent("a1", presence=Presence.AWAY)
    world.agent("b1")
    world.queue("fallback", members=("b1",))
    world.queue("q1", members=("a1",), overflow_queue_id="fallback", max_wait_s=120)
    world.router.set_presence("b1", Presence.AWAY)
    world.router.enqueue("c1", "q1", "chat")
    world.later(119)
    assert world.router.overflow() == []
    world.later(1)
    world.router.set_presence("b1", Presence.AVAILABLE)

    events = world.router.overflow()

    assert events[0] == ev.ConversationOverflowed(
        conversation_id="c1", from_queue_id="q1", to_queue_id="fallback", waited_s=120.0)
    assert only(events, ev.OfferMade).waited_s == 120.0  # the whole wait, not just the fallback queue's
    item = world.items["c1"]
    assert (item.queue_id, item.enqueued_at, item.created_at) == ("fallback", world.now, T0)


def test_offered_items_do_not_overflow(world):
    world.agent("a1")
    world.queue("fallback", members=())
    world.queue("q1", members=("a1",), overflow_queue_id="fallback", max_wait_s=10, offer_timeout_s=60)
    world.router.enqueue("c1", "q1", "chat")
    world.later(30)

    assert world.router.overflow() == []


def test_next_deadline_is_the_earliest_offer_expiry_overflow_or_waiting_end(world):
    world.agent("a1", chat=1)
    world.queue("fallback", members=())
    world.queue("q1", members=("a1",), overflow_queue_id="fallback", max_wait_s=300, offer_timeout_s=30)
    assert world.router.next_deadline() is None
    world.router.enqueue("c1", "q1", "chat")
    world.router.enqueue("c2", "q1", "chat")

    assert world.router.next_deadline() == T0 + timedelta(seconds=30)
    world.accept("c1")
    assert world.router.next_deadline() == T0 + timedelta(seconds=300)


# --- conference (R7) ------------------------------------------------------------------------------------

def test_an_invited_agent_joins_the_conference_only_after_accepting(world):
    world.agent("a2", chat=1)
    assigned_to_a1(world)

    assert kinds(world.router.invite("c1", "a1", "a2")) == ["ConferenceInviteSent"]
    assert world.agents["a2"].load.get("chat", 0) == 0
    events = world.router.accept_invite("c1", "a2")

    assert kinds(events) == ["ConferenceInviteAccepted", "PresenceChanged"]  # a2's only chat slot is now used
    assert world.items["c1"].participants == {"a2"}
    assert world.agents["a2"].load["chat"] == 1

    assert kinds(world.router.leave_conference("c1", "a2")) == ["ConferenceLeft", "PresenceChanged"]
    assert world.agents["a2"].load["chat"] == 0


def test_invites_need_an_online_invitee_with_room(world):
    world.agent("off", presence=Presence.OFFLINE)
    world.agent("full", chat=0)
    world.agent("a2", chat=1)
    assigned_to_a1(world)

    rejected(world, "agent_unavailable", "invite", "c1", "a1", "off")
    rejected(world, "no_capacity", "invite", "c1", "a1", "full")
    rejected(world, "invalid_state", "invite", "c1", "a2", "a1")  # only the assignee invites
    rejected(world, "invalid_state", "invite", "c1", "a1", "a1")
    world.router.invite("c1", "a1", "a2")
    rejected(world, "invalid_state", "invite", "c1", "a1", "a2")


def test_an_invitee_without_room_when_accepting_is_refused_and_may_decline(world):
    world.agent("a2", chat=1)
    world.queue("q2", members=("a2",))
    assigned_to_a1(world)
    world.router.invite("c1", "a1", "a2")
    world.router.enqueue("c2", "q2", "chat")  # uses a2's only slot

    rejected(world, "no_capacity", "accept_invite", "c1", "a2")

    assert kinds(world.router.decline_invite("c1", "a2")) == ["ConferenceInviteDeclined"]
    assert world.items["c1"].invites == {}


def test_end_conference_removes_participants_and_pending_invites(world):
    world.agent("a2")
    world.agent("a3")
    assigned_to_a1(world)
    world.router.invite("c1", "a1", "a2")
    world.router.accept_invite("c1", "a2")
    world.router.invite("c1", "a1", "a3")

    rejected(world, "invalid_state", "end_conference", "c1", "a2")
    events = world.router.end_conference("c1", "a1")

    assert kinds(events) == ["ConferenceEnded"]
    assert (world.items["c1"].participants, world.items["c1"].invites) == (set(), {})
    assert world.agents["a2"].load["chat"] == 0
    assert world.router.end_conference("c1", "a1") == []


def test_transferring_ends_the_conference(world):
    world.agent("a2")
    world.queue("q2", members=())
    assigned_to_a1(world)
    world.router.invite("c1", "a1", "a2")
    world.router.accept_invite("c1", "a2")

    events = world.router.transfer("c1", "a1", to_queue_id="q2")

    assert kinds(events)[:2] == ["ConferenceEnded", "ConversationTransferred"]
    assert world.agents["a2"].load["chat"] == 0


# --- conversation skills (R11) ----------------------------------------------------------------------

def test_the_assigned_agent_can_change_skills_when_the_queue_allows(world):
    assigned_to_a1(world)
    world.router.change_conversation_skills("c1", None, add={"billing": 3})

    events = world.router.change_conversation_skills("c1", "a1", add={"english": 5}, remove=["billing"])

    assert events == [ev.ConversationSkillsChanged(conversation_id="c1", skills={"english": 5}, by_agent_id="a1")]
    assert world.router.change_conversation_skills("c1", "a1", add={"english": 5}) == []


def test_agents_cannot_change_skills_where_the_queue_forbids_it_but_the_system_can(world):
    world.agent("a2")
    assigned_to_a1(world, allow_agent_skill_edit=False)

    rejected(world, "not_allowed", "change_conversation_skills", "c1", "a1", add={"billing": 3})
    events = world.router.change_conversation_skills("c1", None, add={"billing": 3})

    assert kinds(events) == ["ConversationSkillsChanged"]


def test_only_agents_working_the_conversation_change_its_skills_and_levels_are_1_to_10(world):
    world.agent("a2")
    assigned_to_a1(world)

    rejected(world, "not_allowed", "change_conversation_skills", "c1", "a2", add={"billing": 3})
    rejected(world, "invalid_argument", "change_conversation_skills", "c1", "a1", add={"billing": 11})


def test_skills_decide_who_gets_the_offer_in_a_skills_queue(world):
    world.agent("a1", skills={"english": 8})
    world.agent("a2", skills={"billing": 8})
    world.queue("q1", members=("a1", "a2"), method=AssignmentMethod.SKILLS)

    world.router.enqueue("c1", "q1", "chat", skills={"billing": 5})

    assert world.offer_of("c1").agent_id == "a2"


def test_specialist_priority_delivers_to_the_first_line_specialist_first(world):
    world.agent("junior", chat=5)
    world.agent("senior", chat=5)
    world.queue("q1", members={"senior": 1, "junior": 2}, method=AssignmentMethod.SPECIALIST_PRIORITY)

    world.router.enqueue("c1", "q1", "chat")

    assert world.offer_of("c1").agent_id == "senior"


def test_the_responsible_agent_gets_the_conversation_first(world):
    world.agent("a1", chat=5)
    world.agent("a2", chat=5)
    world.queue("q1", members=("a1", "a2"))

    world.router.enqueue("c1", "q1", "chat", responsible_agent_id="a2")

    assert world.offer_of("c1").agent_id == "a2"


def test_the_router_reports_what_it_changed(world):
    world.agent("a1")
    world.queue("q1", members=("a1",))
    router = world.router

    router.enqueue("c1", "q1", "chat")

    assert (router.changed_items, router.changed_agents, router.changed_queues) == ({"c1"}, {"a1"}, {"q1"})


def test_the_router_needs_an_aware_clock(world):
    with pytest.raises(ValueError):
        Router({}, {}, {}, datetime(2024, 1, 1), lambda: "o1")


def test_releasing_work_of_an_agent_the_router_was_not_given_fails_loudly(world):
    assigned_to_a1(world)
    partial = Router(world.queues, {}, world.items, world.now, lambda: "o9")

    with pytest.raises(LookupError):
        partial.end("c1")
