"""The estimated wait and the places in line (domain/waiting.py): pure functions, edge cases named in the
README's formula (no history, nobody online, a long queue, a recent burst, free capacity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.routing.domain.model import Agent, ItemState, Offer, Presence, QueueConfig, WorkItem
from services.routing.domain.waiting import (
    HISTORY_SIZE,
    MIN_SPAN_S,
    Place,
    QueueStaffing,
    coarse,
    estimate_wait_s,
    order_key,
    place_changes,
    places,
    remember_assignment,
    waiting_place,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def estimate(queued_ahead: int, history: list[datetime], *, free: int = 0, online: int = 1) -> int | None:
    return estimate_wait_s(queued_ahead, free_slots=free, agents_online=online, recent_assignments=history, now=NOW)


# --- the estimate ---------------------------------------------------------------------------------------

def test_no_history_cannot_be_estimated_unless_an_agent_has_room():
    assert estimate(0, []) is None
    assert estimate(3, []) is None
    assert estimate(0, [], free=1) == 0


def test_nobody_online_cannot_be_estimated_whatever_the_history():
    history = [ago(300), ago(200), ago(100)]
    assert estimate(0, history, online=0) is None
    assert estimate(0, history, free=2, online=0) is None


def test_the_first_in_line_wait_for_nothing_while_agents_have_room():
    history = [ago(600), ago(300)]
    assert estimate(0, history, free=2) == 0
    assert estimate(1, history, free=2) == 0
    assert estimate(2, history, free=2) == coarse(600 / 2)  # the third needs one assignment more


def test_each_place_costs_the_recent_time_per_assignment():
    history = [ago(480), ago(360), ago(240), ago(120)]  # four in the last 480 s: 120 s each
    assert [estimate(ahead, history) for ahead in range(4)] == [120, 240, 360, 480]


def test_a_long_queue_grows_linearly_in_whole_minutes():
    history = [ago(600 - 30 * i) for i in range(HISTORY_SIZE)]  # 20 in the last 600 s: 30 s each
    assert estimate(99, history) == 100 * 30
    assert estimate(999, history) == 1000 * 30
    assert estimate(100, history) == 3060  # 3030 s rounded up to the minute


def test_a_recent_burst_is_spread_over_at_least_a_minute():
    burst = [ago(1.0 - 0.1 * i) for i in range(10)]  # ten assignments within the last second
    assert estimate(0, burst) == coarse(MIN_SPAN_S / 10) == 10  # 6 s, rounded up to 5 s steps
    assert estimate(9, burst) == 60  # not 1 s: the pace of a burst is not the queue's pace


def test_assignments_older_than_the_window_say_nothing():
    assert estimate(0, [ago(3 * 3600), ago(2 * 3600)]) is None
    assert estimate(0, [ago(2 * 3600), ago(120)]) == 120  # only the recent one counts, over 120 s


def test_a_queue_that_stopped_taking_work_looks_slower_as_time_passes():
    history = [ago(300), ago(290)]  # two, then nothing for almost five minutes
    assert estimate(0, history) == 150
    assert estimate_wait_s(0, free_slots=0, agents_online=1, recent_assignments=history,
                           now=NOW + timedelta(minutes=10)) == 480  # 900 s over 2, rounded up to the minute


@pytest.mark.parametrize(("seconds", "shown"), [(0, 0), (0.2, 5), (5, 5), (59, 60), (61, 75), (299, 300),
                                                (301, 360), (3600, 3600)])
def test_estimates_are_rounded_up_to_readable_steps(seconds, shown):
    assert coarse(seconds) == shown


def test_the_history_keeps_the_last_twenty_within_the_hour_oldest_first():
    history: list[datetime] = [ago(2 * 3600)]
    for i in range(30):
        history = remember_assignment(history, ago(300 - i))
    assert len(history) == HISTORY_SIZE and history == sorted(history)
    assert history[0] == ago(300 - 10) and history[-1] == ago(300 - 29)


# --- staffing and places ---------------------------------------------------------------------------------

def agent(agent_id: str, presence: Presence, capacity: int = 1, load: int = 0) -> Agent:
    return Agent(agent_id, presence=presence, capacity={"chat": capacity}, load={"chat": load} if load else {})


def item(cid: str, seconds_ago: float, *, state: ItemState = ItemState.QUEUED, priority: int = 0,
         queue_id: str = "q1") -> WorkItem:
    found = WorkItem(conversation_id=cid, queue_id=queue_id, priority=priority, enqueued_at=ago(seconds_ago),
                     created_at=ago(seconds_ago), state=state)
    if state == ItemState.OFFERED:
        found.offer = Offer(f"o-{cid}", "a1", NOW, NOW + timedelta(seconds=30))
    return found


def test_staffing_counts_members_online_and_the_room_of_those_available():
    queue = QueueConfig("q1", "Q", members={"a1": 1, "a2": 1, "a3": 1, "a4": 1})
    agents = {"a1": agent("a1", Presence.AVAILABLE, capacity=3, load=1), "a2": agent("a2", Presence.BUSY),
              "a3": agent("a3", Presence.OFFLINE), "a4": agent("a4", Presence.AVAILABLE, capacity=1, load=1),
              "x": agent("x", Presence.AVAILABLE, capacity=5)}  # not a member
    assert QueueStaffing.of(queue, agents) == QueueStaffing(online=3, available=1, free_slots=2)


def test_places_follow_queue_order_and_an_offered_one_waits_for_nothing():
    queue = QueueConfig("q1", "Q", members={"a1": 1}, recent_assignments=[ago(120)])  # 120 s per assignment
    agents = {"a1": agent("a1", Presence.AVAILABLE, capacity=1, load=1)}  # holds the offer of c1
    items = {i.conversation_id: i for i in (
        item("c1", 50, state=ItemState.OFFERED), item("c2", 40), item("c3", 30, priority=5), item("c4", 20),
        item("c5", 10, state=ItemState.ASSIGNED), item("other", 60, queue_id="q2"))}
    found = places(["q1"], queues={"q1": queue}, agents=agents, items=items, now=NOW)
    assert found == {"c3": Place("q1", 1, 120), "c1": Place("q1", 2, 0), "c2": Place("q1", 3, 240),
                     "c4": Place("q1", 4, 360)}


def test_behind_a_partly_loaded_line_nobody_gets_a_place():
    queue = QueueConfig("q1", "Q", members={"a1": 1})
    items = {i.conversation_id: i for i in (item("c1", 50), item("c2", 40), item("c3", 30))}
    found = places(["q1"], queues={"q1": queue}, agents={}, items=items, now=NOW,
                   known_before=order_key(items["c2"]))
    assert set(found) == {"c1"}


def test_a_place_from_counts_is_the_place_in_line():
    queue = QueueConfig("q1", "Q", members={"a1": 1}, recent_assignments=[ago(120)])
    agents = {"a1": agent("a1", Presence.BUSY)}
    assert waiting_place(item("c9", 5), ahead=3, queued_ahead=2, queue=queue, agents=agents,
                         now=NOW) == Place("q1", 4, 360)
    assert waiting_place(item("c9", 5, state=ItemState.OFFERED), ahead=3, queued_ahead=2, queue=queue,
                         agents=agents, now=NOW) == Place("q1", 4, 0)
    assert waiting_place(item("c9", 5, state=ItemState.ASSIGNED), ahead=0, queued_ahead=0, queue=queue,
                         agents=agents, now=NOW) is None


def test_only_changed_places_are_announced_in_queue_order():
    before = {"c1": Place("q1", 1, 0), "c2": Place("q1", 2, 60), "c3": Place("q1", 3, 120)}
    after = {"c2": Place("q1", 1, 0), "c3": Place("q1", 2, 60), "c4": Place("q1", 3, 120), "c9": Place("q0", 1, None)}
    changed = place_changes(before, after)
    assert [(e.conversation_id, e.queue_id, e.position, e.estimated_wait_s) for e in changed] == [
        ("c9", "q0", 1, None), ("c2", "q1", 1, 0), ("c3", "q1", 2, 60), ("c4", "q1", 3, 120)]
    assert place_changes(after, after) == []
