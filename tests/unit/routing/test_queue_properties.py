"""The queue ("line") on its own: a configuration is accepted only when it keeps every rule, work is handed
only to members who can take it (and always, when one can), and queue order is priority, then time in the
queue (the queue's share of the invariants test_invariants_property.py checks across the Router)."""

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.routing.adapters.work_items import QUEUE_ORDER
from services.routing.domain.agent import Agent, Presence
from services.routing.domain.assignment import eligible_agents, pick_agent
from services.routing.domain.errors import RoutingError
from services.routing.domain.queue import AssignmentMethod, QueueConfig
from services.routing.domain.work_item import ItemState, Offer, WorkItem

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
AGENTS = ("a1", "a2", "a3", "a4", "a5")
QUEUE_IDS = ("q1", "q2", "q3")

agent_ids = st.sampled_from(AGENTS)
skill_sets = st.dictionaries(st.sampled_from(["billing", "tech"]), st.integers(1, 10), max_size=2)


existing_queues = st.lists(st.sampled_from(QUEUE_IDS), unique=True).map(
    lambda ids: {q: QueueConfig(q, q.upper(), rr_cursor="a2", version=7) for q in ids})


@st.composite
def valid_configs(draw, existing):
    """A configuration that keeps every rule, given the queues that exist."""
    queue_id = draw(st.sampled_from(QUEUE_IDS))
    others = st.none() | st.sampled_from(sorted(set(existing) - {queue_id}) or [None])
    return QueueConfig(
        queue_id, "Q", level=draw(st.sampled_from([1, 2])), method=draw(st.sampled_from(list(AssignmentMethod))),
        members=draw(st.dictionaries(agent_ids, st.integers(1, 3), max_size=4)),
        offer_timeout_s=draw(st.integers(1, 60)), max_declines=draw(st.integers(1, 3)),
        overflow_queue_id=draw(others), max_wait_s=draw(st.none() | st.integers(1, 600)),
        second_level_queue_id=draw(others), persistent_waiting_days=draw(st.integers(1, 28)),
        rr_cursor=draw(st.none() | agent_ids), version=draw(st.integers(0, 3)))


# One way to break each rule of a queue's configuration (see QueueConfig.validated).
BREAK = {
    "empty id": lambda c: replace(c, queue_id=""),
    "unknown method": lambda c: replace(c, method="bogus"),
    "level": lambda c: replace(c, level=3),
    "member priority below 1": lambda c: replace(c, members={**c.members, "a9": 0}),
    "member priority not an integer": lambda c: replace(c, members={**c.members, "a9": True}),
    "offer timeout": lambda c: replace(c, offer_timeout_s=0),
    "waiting period": lambda c: replace(c, persistent_waiting_days=0),
    "max declines": lambda c: replace(c, max_declines=0),
    "max wait": lambda c: replace(c, max_wait_s=0),
    "overflow to itself": lambda c: replace(c, overflow_queue_id=c.queue_id),
    "second line to itself": lambda c: replace(c, second_level_queue_id=c.queue_id),
    "overflow to a missing queue": lambda c: replace(c, overflow_queue_id="gone"),
    "second line to a missing queue": lambda c: replace(c, second_level_queue_id="gone"),
}


@settings(max_examples=400)
@given(data=st.data(), existing=existing_queues, broken=st.lists(st.sampled_from(sorted(BREAK)), unique=True,
                                                                 max_size=2))
def test_a_configuration_is_accepted_only_when_it_keeps_every_rule(data, existing, broken):
    config = data.draw(valid_configs(existing))
    for rule in broken:
        config = BREAK[rule](config)
    original, before = copy.deepcopy(config), copy.deepcopy(existing)
    try:
        checked = config.validated(existing)
    except RoutingError as refused:
        assert refused.code == "invalid_config" and broken, refused
        assert (config, existing) == (original, before)  # a refusal changes nothing
        return
    assert not broken, f"accepted with {broken}"
    assert (config, existing) == (original, before)
    assert isinstance(checked.method, AssignmentMethod)
    assert checked.members == config.members and checked.members is not config.members  # never aliased
    # Replacing a queue keeps routing's own state of it: the round-robin position and the stored version.
    kept = existing.get(config.queue_id, config)
    assert (checked.rr_cursor, checked.version) == (kept.rr_cursor, kept.version)
    assert checked.validated(existing) == checked


@settings(max_examples=400)
@given(
    members=st.dictionaries(agent_ids, st.integers(1, 3), max_size=5),
    states=st.lists(st.tuples(st.sampled_from(list(Presence)), st.integers(0, 2), st.integers(0, 2), skill_sets),
                    min_size=5, max_size=5),
    declines=st.dictionaries(agent_ids, st.integers(0, 3)),
    max_declines=st.integers(1, 3), method=st.sampled_from(list(AssignmentMethod)), cursor=st.none() | agent_ids,
    target=st.none() | agent_ids, last=st.none() | agent_ids, responsible=st.none() | agent_ids,
    item_skills=skill_sets,
)
def test_work_goes_only_to_a_member_who_can_take_it_and_always_when_one_can(
        members, states, declines, max_declines, method, cursor, target, last, responsible, item_skills):
    agents = {a: Agent(a, presence=p, capacity={"chat": cap}, load={"chat": load}, skills=skills)
              for a, (p, cap, load, skills) in zip(AGENTS, states, strict=True)}
    queue = QueueConfig("q1", "Q", method=method, members=members, max_declines=max_declines, rr_cursor=cursor)
    item = WorkItem(conversation_id="c1", queue_id="q1", enqueued_at=T0, created_at=T0, declines=declines,
                    target_agent_id=target, last_agent_id=last, responsible_agent_id=responsible, skills=item_skills)
    could = [a for a in ([target] if target else members)
             if agents[a].can_take("chat") and declines.get(a, 0) < max_declines]
    assert eligible_agents(item, queue, agents) == sorted(could)

    choice = pick_agent(item, queue, agents)
    if not could:
        assert choice is None
        return
    assert choice is not None  # nobody who could take the work is left idle by the queue
    chosen = choice.agent_id
    assert chosen in could and (chosen in members or chosen == target)
    assert declines.get(chosen, 0) == min(declines.get(a, 0) for a in could)  # the next agent comes first
    for agent_id in AGENTS:
        refused = False
        try:
            queue.check_member(agent_id)
        except RoutingError as error:
            refused = error.code == "not_member"
        assert refused == (agent_id not in members)


queued_items = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 5)), min_size=1, max_size=8).map(
    lambda rows: [WorkItem(conversation_id=f"c{n}", queue_id="q1", priority=priority, created_at=T0,
                           enqueued_at=T0 + timedelta(minutes=waited)) for n, (priority, waited) in enumerate(rows)])


@given(items=queued_items, shuffled=st.randoms(use_true_random=False))
def test_queue_order_is_priority_then_time_in_the_queue_whatever_the_order_items_arrive_in(items, shuffled):
    ordered = sorted(items, key=WorkItem.order)
    arrived = list(items)
    shuffled.shuffle(arrived)
    assert sorted(arrived, key=WorkItem.order) == ordered  # a total order: one answer
    for first, second in zip(ordered, ordered[1:]):
        assert first.priority > second.priority or (
            first.priority == second.priority and first.enqueued_at <= second.enqueued_at)
    # The database hands queued work back in the same order (adapters/work_items.py's sort).
    by_database = list(arrived)
    for field, direction in reversed(QUEUE_ORDER):
        by_database.sort(key=lambda i: getattr(i, field), reverse=direction == -1)
    assert [i.order()[:2] for i in by_database] == [i.order()[:2] for i in ordered]


@given(items=queued_items, pick=st.integers(0, 7), minutes=st.integers(0, 5))
def test_an_unanswered_offer_keeps_the_items_place_and_overflow_puts_it_at_the_back(items, pick, minutes):
    place = sorted(items, key=WorkItem.order)
    item = items[pick % len(items)]
    item.offer_to(Offer("o1", "a1", T0, T0 + timedelta(seconds=30)))
    item.return_to_queue()
    assert sorted(items, key=WorkItem.order) == place

    later = max(i.enqueued_at for i in items) + timedelta(minutes=minutes + 1)
    item.move_to("q2", later)
    same_priority = sorted((i for i in items if i.priority == item.priority), key=WorkItem.order)
    assert same_priority[-1] is item


@given(config=st.builds(QueueConfig, queue_id=st.just("q1"), name=st.just("Q"),
                        overflow_queue_id=st.none() | st.just("q2"), max_wait_s=st.none() | st.integers(1, 600)),
       state=st.sampled_from(list(ItemState)), waited=st.integers(0, 700))
def test_only_queued_work_of_a_queue_with_an_overflow_and_a_wait_limit_overflows(config, state, waited):
    item = WorkItem(conversation_id="c1", queue_id="q1", enqueued_at=T0, created_at=T0, state=state)
    due = config.overflow_at(item)
    if state != ItemState.QUEUED or config.overflow_queue_id is None or config.max_wait_s is None:
        assert due is None
    else:
        assert due == T0 + timedelta(seconds=config.max_wait_s)
