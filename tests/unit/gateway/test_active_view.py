"""The active-conversation view (G4), pure: what each event changes, the frames it makes, and the same view
whatever the order the topics deliver in; a closed conversation's tombstone takes nothing back."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.gateway import active_view as av
from shared.contracts import cases, chat, customer, routing
from shared.contracts.envelope import wrap

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def env(payload, at: datetime = T0):
    return wrap(payload, tenant_id="t1", key=str(getattr(payload, payload.KEY)), producer="test", occurred_at=at)


def started(**context):
    return env(chat.ConversationStarted(
        conversation_id="c1", queue_id="q1", proactive=False, started_at=T0,
        customer=chat.Customer(customer_id="v-1", name="Visitor 1", authenticated=True),
        context=chat.Context(prechat={"Order": "42"}, variables={"plan": "gold"},
                             visitor=chat.Visitor(browser="Firefox 140", language="lv"),
                             trail=[chat.TrailStep(kind="page_visited", title="Pricing", at=T0 - timedelta(minutes=5)),
                                    chat.TrailStep(kind="phrase_searched", title="refund", at=T0 - timedelta(minutes=2))],
                             **context)))


def state(new: str, agents=("a1",)):
    return env(chat.ConversationStateChanged(conversation_id="c1", state=new, previous="queued", queue_id="q1",
                                             agents=list(agents), customer_id="v-1", why="test", at=T0))


def linked(contact: str = "ann", at: datetime = T0 + timedelta(seconds=30), name: str = "Ann"):
    return env(customer.CustomerLinked(customer_id="v-1", conversation_id="c1", contact_id=contact,
                                       account_id="acme", name=name, company="Acme", at=at))


def identified(contact: str = "ann", at: datetime = T0 + timedelta(seconds=30), name: str = "Ann"):
    return env(chat.CustomerIdentified(conversation_id="c1", customer_id="v-1", customer_name=name,
                                       contact_id=contact, agents=["a1"], at=at))


def case_linked(case_id: str = "k1", at: datetime = T0 + timedelta(seconds=40)):
    return env(cases.ConversationLinked(case_id=case_id, conversation_id="c1", number=f"CAS-{case_id}",
                                        previous_case_id=None, automatic=False, at=at))


def case_changed(version: int, title: str, case_id: str = "k1", status: str = "active"):
    return env(cases.CaseChanged(case_id=case_id, number=f"CAS-{case_id}", version=version, title=title,
                                 priority="high", status=status, contact_id="ann", account_id=None, owner_id=None,
                                 origin="agent", changed=["title"], by="a1", at=T0))


def run(*envelopes) -> dict:
    view = None
    for e in envelopes:
        if type(e.payload) in av.RECORD_EVENTS:
            change = av.apply_record(view, e) if view is not None else av.Change()
        else:
            change = av.apply(view, e)
        view = change.view if change.view is not None else view
    return view


def test_the_conversation_fills_summary_context_and_customer():
    view = run(started(), env(routing.ConversationQueued(conversation_id="c1", queue_id="q1", channel="chat",
                                                         priority=0, skills={"latvian": 2}, enqueued_at=T0)),
               env(routing.ConversationAssigned(conversation_id="c1", agent_id="a1", queue_id="q1", channel="chat",
                                                how="offer"), at=T0 + timedelta(seconds=75)),
               state("active"))
    shown = av.public(view)
    assert shown["summary"]["waited_s"] == 75.0 and shown["summary"]["skills"] == {"latvian": 2}
    assert shown["summary"]["agents"] == ["a1"] and shown["summary"]["queue_id"] == "q1"
    assert [t["title"] for t in shown["context"]["trail"]] == ["refund", "Pricing"]  # newest first
    assert shown["context"]["prechat"] == {"Order": "42"} and shown["context"]["visitor"] == {
        "browser": "Firefox 140", "language": "lv"}
    assert shown["context"]["authenticated"] is True and shown["customer"]["name"] == "Visitor 1"


def test_the_same_view_whatever_order_the_topics_deliver_in():
    # chat's, customer's and cases' events each in their own order, interleaved every possible way
    chat_events = [started(), state("active"), identified()]
    customer_events = [linked(), env(customer.ContactChanged(contact_id="ann", version=2, full_name="Ann Lee",
                                                              account_id="acme", changed=["full_name"], at=T0))]
    cases_events = [case_changed(1, "Printer"), case_linked(), case_changed(2, "Printer jams")]
    results = set()
    streams = [chat_events, customer_events, cases_events]
    labels = [i for i, s in enumerate(streams) for _ in s]
    for order in set(itertools.permutations(labels)):
        if order[0] != 0:
            continue  # the view starts with the conversation (events before it have nothing to attach to)
        positions = [0, 0, 0]
        sequence = []
        for which in order:
            sequence.append(streams[which][positions[which]])
            positions[which] += 1
        results.add(repr(av.public(run(*sequence))))
    assert len(results) == 1, results
    view = eval(results.pop())  # noqa: S307 (our own repr of plain data)
    assert view["customer"]["name"] == "Ann Lee" and view["customer"]["company"] == "Acme"
    assert view["case"]["case_id"] == "k1"


def test_newer_versions_and_later_links_win():
    view = run(started(), state("active"), case_linked("k1", at=T0 + timedelta(seconds=50)),
               case_linked("k2", at=T0 + timedelta(seconds=40)))  # the older link arrives late
    assert view["case"]["case_id"] == "k1"
    view = run(started(), state("active"), case_linked(), case_changed(3, "New"), case_changed(2, "Old"))
    assert (view["case"]["title"], view["case"]["version"]) == ("New", 3)
    view = run(started(), state("active"), linked(), env(customer.ContactChanged(
        contact_id="ann", version=3, full_name="Ann C", account_id=None, changed=[], at=T0)),
        identified(name="Ann (at the link)"))
    assert view["customer"]["name"] == "Ann C"  # a contact version known: a link's name does not go back
    view = run(started(), state("active"), linked("ann"), linked("bob", at=T0 + timedelta(seconds=60),
                                                                   name="Bob"))
    assert (view["customer"]["contact_id"], view["customer"]["name"]) == ("bob", "Bob")


def test_a_closed_conversation_leaves_a_tombstone_that_nothing_brings_back():
    closed = env(chat.ConversationClosed(conversation_id="c1", queue_id="q1", customer_id="v-1", agent_id="a1",
                                         ended_by="agent", wrap_up_reason="done", messages=3, started_at=T0,
                                         closed_at=T0 + timedelta(minutes=5)))
    view = run(started(), state("active"), closed)
    assert view["closed"] is True and "summary" not in view
    for late in (state("active"), case_linked(), linked(), started()):
        assert av.apply(view, late).view is None
    assert av.apply_record(view, case_changed(9, "x")).view is None


def test_each_changed_section_is_one_frame_per_agent_on_the_conversation():
    view = run(started(), state("active", agents=("a1", "a2")))
    change = av.apply(view, case_linked())
    frames = av.frames(change.view, change.sections, case_linked())
    assert [(agent, f["section"], f["data"]["case_id"]) for agent, f in frames] == [("a1", "case", "k1"),
                                                                                     ("a2", "case", "k1")]
    message = env(chat.MessagePosted(conversation_id="c1", message_id="m1", seq=1, client_message_id=None,
                                     sender=chat.Sender(kind="customer", id="v-1"), text="hi", private=False,
                                     customer_id="v-1", agents=["a1"], sent_at=T0))
    assert av.apply(view, message).sections == ["summary"]
    offline = env(chat.ConversationStarted(conversation_id="c9", queue_id="q1", proactive=False, started_at=T0,
                                           customer=chat.Customer(customer_id="v-9", name="V"),
                                           context=chat.Context(), offline=True))
    assert av.apply(None, offline).view is None


def test_every_frame_is_plain_json_at_any_depth():
    import json
    view = run(started(), state("active"))
    view["summary"]["sentiment"] = {"level": "negative", "at": T0}  # a nested time, as sentiment keeps one
    for _, frame in av.frames(view, ["summary", "context", "customer"], state("active")):
        json.dumps(frame)


def test_a_replay_rebuilds_what_the_consumer_projected_one_event_at_a_time():
    closed_c2 = env(chat.ConversationClosed(conversation_id="c2", queue_id="q1", customer_id="v-2", agent_id="a1",
                                            ended_by="agent", wrap_up_reason="done", messages=1, started_at=T0,
                                            closed_at=T0 + timedelta(minutes=5)))
    started_c2 = env(chat.ConversationStarted(conversation_id="c2", queue_id="q1", proactive=False, started_at=T0,
                                              customer=chat.Customer(customer_id="v-2", name="V2"),
                                              context=chat.Context()))
    events = [started(), state("active"), case_changed(1, "Before the link"), case_linked(), linked(),
              case_changed(2, "Printer jams"), env(customer.ContactChanged(
                  contact_id="ann", version=2, full_name="Ann Lee", account_id="acme", changed=[], at=T0)),
              started_c2, closed_c2, case_changed(3, "Printer fixed")]
    views = av.replay(events, erased_name="Erased customer")
    assert views["t1:c1"] == run(*events[:7], events[-1])  # the document the one-at-a-time projection stores
    assert views["t1:c1"]["case"]["title"] == "Printer fixed" and views["t1:c1"]["customer"]["name"] == "Ann Lee"
    assert views["t1:c2"]["closed"] is True
    relinked = av.replay([*events[:7], case_linked("k2", at=T0 + timedelta(seconds=90)), case_changed(5, "Old case")],
                         erased_name="Erased customer")
    assert relinked["t1:c1"]["case"]["case_id"] == "k2" and relinked["t1:c1"]["case"]["title"] is None  # k1's not


def test_an_erasure_blanks_the_view_and_a_replay_does_not_bring_the_customer_back():
    view = run(started(), state("active"), linked())
    blank = av.erased(view, "Erased customer")
    assert blank["customer"]["name"] == "Erased customer" and blank["context"]["prechat"] == {}
    assert blank["context"]["trail"] == [] and blank["context"]["visitor"] == {} and blank["context"]["variables"] == {}
    assert view["customer"]["name"] == "Ann"  # the stored view is not changed in place
    erasure = env(chat.CustomerErased(contact_id="ann", customer_ids=["v-1"], conversation_ids=["c1"], counts={},
                                      erased_by="admin", at=T0))
    views = av.replay([started(), state("active"), linked(), erasure], erased_name="Erased customer")
    assert views["t1:c1"] == blank
    assert av.erased(av.tombstone("t1", "c1", T0), "x") is None
