"""The chaos checker finds what it must: a lost, repeated or reordered message, a double assignment, an agent
over capacity, a timeline entry missing, repeated or made by no event; and it accepts what is allowed (a replay
across a reconnect at the same position)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts import routing
from shared.contracts.envelope import wrap
from services.cases.adapters.timeline import TIMELINE
from services.cases.domain.timeline import record
from shared.contracts import cases, chat
from shared.contracts.catalogue import CASES_EVENTS
from tests.chaos.checker import (
    SentMessage,
    case_timelines,
    history_problems,
    line_row_problems,
    line_rows,
    routing_problems,
    served_by,
    stream_problems,
    timeline_problems,
)
from tests.unit.cases.harness import Cases, started

pytestmark = pytest.mark.unit


def msg(cid: str, seq: int, position: int) -> dict:
    return {"type": "message", "conversation_id": cid, "seq": seq, "position": position}


def test_a_replay_across_a_reconnect_at_the_same_position_is_allowed():
    frames = [(1, msg("c", 1, 10)), (1, msg("c", 2, 11)), (2, msg("c", 2, 11)), (2, msg("c", 3, 12))]
    assert stream_problems(frames, "s") == ([], [])


def test_a_repeat_on_the_same_connection_or_at_another_position_is_a_duplicate():
    same_connection = [(1, msg("c", 1, 10)), (1, msg("c", 1, 10))]
    other_position = [(1, msg("c", 1, 10)), (2, msg("c", 1, 14))]
    assert len(stream_problems(same_connection, "s")[0]) == 1
    assert len(stream_problems(other_position, "s")[0]) == 1


def test_messages_arriving_out_of_order_are_reported():
    frames = [(1, msg("c", 2, 10)), (1, msg("c", 1, 11)), (1, msg("d", 1, 12))]
    assert stream_problems(frames, "s") == ([], ["s: message 1 of c after message 2"])


def history(*ids: str) -> list[dict]:
    return [{"seq": n, "client_message_id": i} for n, i in enumerate(ids, start=1)]


def test_history_finds_lost_repeated_and_reordered_messages():
    sent = [SentMessage("customer", "c0", True, True), SentMessage("agent", "a0", True, True),
            SentMessage("customer", "c1", True, True), SentMessage("customer", "c2", False, False)]
    assert history_problems("x", sent, history("c0", "a0", "c1")) == ([], [], [])
    lost, _, _ = history_problems("x", sent, history("c0", "a0"))
    assert lost == ["x: c1 acknowledged but not in the conversation"]
    _, duplicated, _ = history_problems("x", sent, history("c0", "a0", "c1", "c1"))
    assert duplicated == ["x: c1 is in the conversation 2 times"]
    _, _, reordered = history_problems("x", sent, history("c1", "a0", "c0"))
    assert reordered and "customer" in reordered[0]
    unseen = [SentMessage("customer", "c0", True, False)]
    assert history_problems("x", unseen, history("c0"))[0] == ["x: c0 never reached the other side's client"]


T0 = datetime(2026, 12, 1, tzinfo=UTC)


def event(payload, seconds: float, partition: int = 0, offset: int = 0):
    env = wrap(payload, tenant_id="t", key=getattr(payload, payload.KEY), producer="routing")
    env = env.model_copy(update={"occurred_at": T0 + timedelta(seconds=seconds)})
    return (partition, offset, env)


def assigned(cid: str, agent: str) -> routing.ConversationAssigned:
    return routing.ConversationAssigned(conversation_id=cid, agent_id=agent, queue_id="q", channel="chat", how="offer")


def test_an_assignment_while_another_agent_holds_the_conversation_is_reported():
    ok = [event(assigned("c", "a"), 1, offset=0),
          event(routing.ConversationTransferred(conversation_id="c", from_agent_id="a", to_queue_id="q",
                                                to_agent_id=None, reason="r"), 2, offset=1),
          event(assigned("c", "b"), 3, offset=2)]
    assert routing_problems(ok, {}) == ([], [])
    bad = [event(assigned("c", "a"), 1, offset=0),
           event(routing.OfferMade(conversation_id="c", offer_id="o", agent_id="b", queue_id="q", channel="chat",
                                   customer_name="", preview="", waited_s=0, expires_at=datetime.now(UTC)), 2, offset=1),
           event(assigned("c", "b"), 3, offset=2)]
    double, _ = routing_problems(bad, {})
    assert double == ["c assigned to b while a held it (since its assignment: OfferMade)"]


def test_a_persistent_chat_parked_with_its_agent_may_come_back_to_another():
    """R9: a waiting conversation holds nobody; when the customer writes again and its agent has no room, the
    queue offers it to another agent (the long chaos profile, seed 29, reported this as a double assignment)."""
    parked = routing.ConversationWaiting(conversation_id="c", agent_id="a",
                                         waiting_until=datetime.now(UTC) + timedelta(days=1))
    events = [event(assigned("c", "a"), 1, offset=0), event(parked, 2, offset=1),
              event(routing.ConversationQueued(conversation_id="c", queue_id="q", channel="chat", priority=0, skills={},
                                                     enqueued_at=datetime.now(UTC)), 3, offset=2),
              event(assigned("c", "b"), 4, offset=3)]
    assert routing_problems(events, {("t", "a"): 1, ("t", "b"): 1}) == ([], [])


def test_a_repeated_event_counts_once_and_load_over_capacity_is_reported():
    first = event(assigned("c1", "a"), 1, partition=0, offset=0)
    within = [first, (0, 1, first[2]), event(assigned("c2", "a"), 2, partition=1, offset=0)]
    assert routing_problems(within, {("t", "a"): 2}) == ([], [])
    over = [*within, event(assigned("c3", "a"), 3, partition=2, offset=0)]
    _, too_many = routing_problems(over, {("t", "a"): 2})
    assert len(too_many) == 1 and "held 3 > 2" in too_many[0]
    ended = [*within, event(routing.ConversationEnded(conversation_id="c1", reason="done"), 3, partition=0, offset=2),
             event(assigned("c3", "a"), 3, partition=2, offset=0)]  # a release at the same instant goes first
    assert routing_problems(ended, {("t", "a"): 2}) == ([], [])


def test_a_conference_counts_in_the_guests_load_until_they_leave():
    joined = routing.ConferenceInviteAccepted(conversation_id="c1", invitee_id="b")
    events = [event(assigned("c2", "b"), 1, partition=1), event(joined, 2, partition=0, offset=0),
              event(assigned("c3", "b"), 3, partition=2)]
    assert len(routing_problems(events, {("t", "b"): 2})[1]) == 1
    left = routing.ConferenceLeft(conversation_id="c1", agent_id="b")
    events.insert(2, event(left, 2.5, partition=0, offset=1))
    assert routing_problems(events, {("t", "b"): 2}) == ([], [])


def test_the_closed_lists_rebuilt_from_chat_events():
    from shared.contracts import chat
    state = chat.ConversationStateChanged.model_construct(conversation_id="c1", agents=["a", "b"])
    closed = chat.ConversationClosed.model_construct(conversation_id="c1")
    still_open = chat.ConversationStateChanged.model_construct(conversation_id="c2", agents=["a"])
    envs = [(0, n, type("E", (), {"type": p.TYPE, "tenant_id": "t", "payload": p})())
            for n, p in enumerate([state, still_open, closed])]
    assert served_by(envs) == {("t", "a"): {"c1"}, ("t", "b"): {"c1"}}


async def test_case_timelines_rebuilt_from_the_events_equal_what_cases_writes_and_a_difference_is_reported():
    """The rebuild against cases' real handlers (in-memory unit of work): a conversation with a transfer, linked
    to one case and then moved to another, every event delivered twice; then a timeline missing an entry, showing
    one twice and one no event made is reported."""
    service = Cases()
    fed = [await service.feed(started("conv1")),
           await service.feed(assigned("conv1", "alice"), producer="routing")]
    await service.ok(cases.OpenCase(case_id="k1", fields=cases.CaseFields(title="Refund")))
    await service.ok(cases.LinkConversation(case_id="k1", conversation_id="conv1"))
    fed.append(await service.feed(routing.ConversationTransferred(conversation_id="conv1", from_agent_id="alice",
                                                                  to_queue_id="q", to_agent_id=None, reason="r"),
                                  producer="routing"))
    fed.append(await service.feed(assigned("conv1", "bob"), producer="routing"))
    service.tick()
    await service.ok(cases.OpenCase(case_id="k2", fields=cases.CaseFields(title="Other")))
    await service.ok(cases.LinkConversation(case_id="k2", conversation_id="conv1"))
    fed.append(await service.feed(chat.ConversationClosed(
        conversation_id="conv1", queue_id="q", customer_id="visitor-1", agent_id="bob", ended_by="agent",
        wrap_up_reason=None, messages=2, started_at=T0, closed_at=T0 + timedelta(seconds=9))))
    for env in fed:
        await service.feed_again(env)
    envelopes = [*fed, *fed, *service.uow.emitted(CASES_EVENTS.name)]

    rebuilt = case_timelines(envelopes)
    written = {case_id: [d["entry_id"] for d in service.uow.docs[TIMELINE].values()
                         if record("case", case_id) in d["records"]] for case_id in ("k1", "k2")}
    assert len(written["k1"]) == 3 and len(written["k2"]) == 8  # k1: opened, linked, moved away
    for case_id, shown in written.items():
        assert timeline_problems(case_id, shown, rebuilt[("t1", case_id)]) == []
    shown = [*written["k2"][1:], written["k2"][2], "made-up"]
    problems = timeline_problems("k2", shown, rebuilt[("t1", "k2")])
    assert len(problems) == 3, problems
    assert problems[0].startswith(f"k2: entry {written['k2'][2]} shown 2 times")
    assert f"not shown: ['{written['k2'][0]}']" in problems[1] and "['made-up']" in problems[2]


async def test_the_line_rows_rebuilt_from_chat_events_and_what_differs_from_them():
    """The client lists (U3) rebuilt through customer's own handlers: a repeated event changes nothing; rows as
    MongoDB keeps them (times to the millisecond) equal the rebuild; a row with another open appeal, a missing
    row and a row no event made are reported."""
    cid = "conv1"
    events = [wrap(p, tenant_id="t", key=cid, producer="chat") for p in (
        started(cid, customer_id="cu1", name="Dana"),
        chat.ConversationStateChanged(conversation_id=cid, state="active", previous="offered", queue_id="support",
                                      agents=["alice"], customer_id="cu1", why="assigned", at=T0),
        chat.MessagePosted(conversation_id=cid, message_id="m1", seq=1, client_message_id=None,
                           sender=chat.Sender(kind="customer", id="cu1"), text="Hello", private=False,
                           customer_id="cu1", agents=["alice"], sent_at=T0 + timedelta(microseconds=1234567)))]
    records = [(0, n, env) for n, env in enumerate([*events, events[2]])]  # the message relayed twice
    rebuilt = await line_rows(records)
    row = rebuilt["t|support|cu1"]
    assert (row["open_with"], row["preview"], row["status"]) == (["alice"], "Hello", "online")
    stored = {"t|support|cu1": {**row, "last_message_at": row["last_message_at"].replace(microsecond=234000)}}
    assert line_row_problems(stored, rebuilt) == []
    other = {"t|support|cu1": {**row, "open_with": []}, "t|support|cu9": row}
    problems = line_row_problems(other, rebuilt)
    assert len(problems) == 2 and "cu9: kept, but no event makes it" in problems[0], problems
    assert "differs from its rebuild in open_with ([] != ['alice'])" in problems[1]
    assert line_row_problems({}, rebuilt) == ["line row t|support|cu1: missing (the events make it)"]
