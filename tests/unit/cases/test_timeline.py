"""The timeline (K2) through the real handlers on the in-memory unit of work: a whole conversation's entries on
the contact's, the account's and the case's timelines; links made late bring earlier entries along; the same
events in other orders, and delivered twice, give the same timeline; pages and their cursors; a contact's
erasure."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.cases.adapters.store import NOTES
from services.cases.adapters.timeline import TIMELINE, entry_view
from services.cases.domain.timeline import Position, record
from shared.contracts import cases as c
from shared.contracts import chat, customer, routing
from shared.contracts.answers import Rejected
from shared.contracts.cases.timeline import TimelineEntry
from shared.contracts.envelope import Actor, Envelope, Event, wrap
from tests.unit.cases.harness import T0, Cases, started

pytestmark = pytest.mark.unit


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def timeline(cases: Cases, kind: str, record_id: str, tenant: str = "t1") -> list[TimelineEntry]:
    """The whole timeline, newest first, as the read API renders it (its MongoDB query: the integration tests)."""
    docs = [d for d in cases.uow.docs.get(TIMELINE, {}).values()
            if d["tenant_id"] == tenant and record(kind, record_id) in d["records"]]
    docs.sort(key=lambda d: (d["at"], d["_id"]), reverse=True)
    notes = {d["id"]: d["text"] for d in cases.uow.docs.get(NOTES, {}).values() if d["tenant_id"] == tenant}
    return [entry_view(d, notes) for d in docs]


def kinds(entries: list[TimelineEntry]) -> list[str]:
    return [e.kind for e in entries]


def linked(customer_id: str = "visitor-1", conversation_id: str = "conv1", contact_id: str | None = "ann",
           account_id: str | None = "acme") -> customer.CustomerLinked:
    return customer.CustomerLinked(customer_id=customer_id, conversation_id=conversation_id, contact_id=contact_id,
                                   account_id=account_id, name="Ann", company="Acme", at=T0)


def assigned(agent: str, conversation_id: str = "conv1") -> routing.ConversationAssigned:
    return routing.ConversationAssigned(conversation_id=conversation_id, agent_id=agent, queue_id="support",
                                        channel="chat", how="offer")


def transferred(conversation_id: str = "conv1") -> routing.ConversationTransferred:
    return routing.ConversationTransferred(conversation_id=conversation_id, from_agent_id="alice",
                                           to_queue_id="billing", to_agent_id="bob", reason="Ann asks about an invoice")


def closed(conversation_id: str = "conv1", seconds: float = 6) -> chat.ConversationClosed:
    return chat.ConversationClosed(conversation_id=conversation_id, queue_id="billing", customer_id="visitor-1",
                                   agent_id="bob", ended_by="agent", wrap_up_reason="resolved", messages=12,
                                   started_at=at(1), closed_at=at(seconds))


def a_conversation(conversation_id: str = "conv1", start: float = 1) -> list[tuple[Event, str, datetime]]:
    """A whole conversation as chat and routing publish it: (event, producer, the envelope's time)."""
    return [(started(conversation_id, at=at(start)), "chat", at(start)),
            (assigned("alice", conversation_id), "routing", at(start + 1)),
            (transferred(conversation_id), "routing", at(start + 2)),
            (assigned("bob", conversation_id), "routing", at(start + 3)),
            (closed(conversation_id, start + 5), "chat", at(start + 5))]


async def feed_all(cases: Cases, events: list[tuple[Event, str, datetime]]) -> None:
    for event, producer, when in events:
        await cases.feed(event, producer=producer, occurred_at=when)


async def test_a_whole_conversation_is_in_the_contacts_the_accounts_and_the_cases_timeline():
    cases = Cases()
    await cases.feed(linked(), producer="customer")
    await cases.ok(c.OpenCase(case_id="k1", fields=c.CaseFields(title="Refund", contact_id="ann")))  # at T0
    cases.tick(1.5)  # the automatic link is made when the conversation starts: at T0 + 1.5 s
    events = a_conversation()
    await feed_all(cases, events[:4])
    cases.now = at(5)
    await cases.ok(c.AddQuickNote(note_id="n1", record_kind="case", record_id="k1", text="Wants the money back"),
                   actor=Actor(user_id="bob", role="agent"))
    await feed_all(cases, events[4:])

    case = timeline(cases, "case", "k1")
    assert [(e.kind, e.title, e.detail, e.by) for e in case] == [
        ("conversation_ended", "Conversation ended by bob", "Wrap-up: resolved; 12 messages", "bob"),
        ("quick_note", "Note by bob", "Wants the money back", "bob"),
        ("conversation_assigned", "Conversation assigned to bob", "accepted an offer (queue support)", "bob"),
        ("conversation_transferred", "Conversation transferred to bob in queue billing",
         "Ann asks about an invoice", "alice"),
        ("conversation_assigned", "Conversation assigned to alice", "accepted an offer (queue support)", "alice"),
        ("case_linked", "Conversation linked to case CAS-000001 automatically", "", None),
        ("conversation_started", "Conversation started in support", "Ann", None),
        ("case_opened", "Case CAS-000001 opened: Refund", "Priority normal, status new", "alice"),
    ]
    assert [e.at for e in case] == [at(6), at(5), at(4), at(3), at(2), at(1.5), at(1), T0]
    assert {e.case_id for e in case} == {"k1"}
    assert {e.conversation_id for e in case if e.kind != "case_opened" and e.kind != "quick_note"} == {"conv1"}
    conversation = [e for e in case if e.kind != "quick_note"]
    assert timeline(cases, "contact", "ann") == conversation  # the note was written on the case only
    assert timeline(cases, "account", "acme") == [e for e in conversation if e.kind != "case_opened"]
    assert timeline(cases, "contact", "ann", tenant="t2") == []


async def test_entries_written_before_a_link_join_the_timeline_when_it_is_made_and_leave_when_it_moves():
    cases = Cases()
    routed_first = [a_conversation()[1], a_conversation()[0], *a_conversation()[2:]]  # routing before chat
    await feed_all(cases, routed_first)
    assert timeline(cases, "contact", "ann") == []
    await cases.feed(linked(), producer="customer")  # identified after the conversation
    assert kinds(timeline(cases, "contact", "ann")) == kinds(timeline(cases, "account", "acme")) == [
        "conversation_ended", "conversation_assigned", "conversation_transferred", "conversation_assigned",
        "conversation_started"]

    cases.now = at(10)
    await cases.ok(c.OpenCase(case_id="k1", fields=c.CaseFields(title="Invoice")))
    await cases.ok(c.OpenCase(case_id="k2", fields=c.CaseFields(title="Other")))
    await cases.ok(c.LinkConversation(case_id="k1", conversation_id="conv1"))
    assert kinds(timeline(cases, "case", "k1")) == [
        "case_linked", "case_opened", "conversation_ended", "conversation_assigned", "conversation_transferred",
        "conversation_assigned", "conversation_started"]  # the link and the opening at the same time: by id
    assert {e.case_id for e in timeline(cases, "contact", "ann")} == {"k1"}

    cases.tick()
    await cases.ok(c.LinkConversation(case_id="k2", conversation_id="conv1"))  # moved: k1 keeps the record of it
    left = timeline(cases, "case", "k1")
    assert kinds(left) == ["case_linked", "case_linked", "case_opened"]
    assert (left[0].title, left[0].detail) == ("Conversation linked to case CAS-000002", "moved from case k1")
    moved = timeline(cases, "case", "k2")
    assert kinds(moved)[:2] == ["case_linked", "case_linked"] and moved[0].detail == "moved from case k1"
    assert len(moved) == 8 and {e.case_id for e in moved if e.kind != "case_opened"} == {"k1", "k2"}


async def test_an_earlier_conversation_of_the_customer_joins_the_contact_when_a_later_one_links_it():
    cases = Cases()
    await feed_all(cases, a_conversation("conv1"))
    await feed_all(cases, a_conversation("conv2", start=100))
    await cases.feed(linked(conversation_id="conv2"), producer="customer")
    assert {e.conversation_id for e in timeline(cases, "contact", "ann")} == {"conv1", "conv2"}
    assert len(timeline(cases, "account", "acme")) == 10


def envelopes() -> list[Envelope[Any]]:
    """Two conversations of one customer and its link (in the second): each event wrapped once, as published."""
    events = [*a_conversation("conv1"), *a_conversation("conv2", start=50),
              (linked(conversation_id="conv2"), "customer", at(52))]
    return [wrap(e, tenant_id="t1", key=str(getattr(e, e.KEY)), producer=p, occurred_at=when)
            for e, p, when in events]


async def replay(order: list[Envelope[Any]], *, twice: bool = False, forget_processed: bool = False) -> Cases:
    cases = Cases()
    await cases.ok(c.OpenCase(case_id="k1", fields=c.CaseFields(title="Refund")))
    for env in order:
        await cases.feed_again(env)
    if twice:
        if forget_processed:  # as if the consumer's processed ids had expired: only the entries' keys are left
            cases.uow.processed.clear()
        for env in order:
            await cases.feed_again(env)
    cases.now = at(200)
    await cases.ok(c.LinkConversation(case_id="k1", conversation_id="conv1"))
    return cases


def everything(cases: Cases) -> dict[str, list[TimelineEntry]]:
    return {f"{k}:{r}": timeline(cases, k, r) for k, r in (("contact", "ann"), ("account", "acme"), ("case", "k1"))}


async def test_the_same_events_in_any_order_give_the_same_timeline():
    published = envelopes()
    expected = everything(await replay(published))
    # two conversations' 10 entries and conv1's link; the case: conv1's 5, the link, the opening
    assert [len(v) for v in expected.values()] == [11, 11, 7]
    shuffle = random.Random(7)
    for _ in range(12):
        order = published[:]
        shuffle.shuffle(order)
        assert everything(await replay(order)) == expected, [e.type for e in order]


async def test_an_event_delivered_twice_makes_one_entry():
    published = envelopes()
    expected = everything(await replay(published))
    assert everything(await replay(published, twice=True)) == expected
    assert everything(await replay(published, twice=True, forget_processed=True)) == expected


def page(cases: Cases, kind: str, record_id: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
    """A page as the read API cuts it: entries strictly after the cursor's position, newest first."""
    entries = timeline(cases, kind, record_id)
    if cursor:
        after = Position.decode(cursor, record(kind, record_id))
        entries = [e for e in entries if (e.at, e.entry_id) < (after.at, after.entry_id)]
    shown, more = entries[:limit], len(entries) > limit
    last = shown[-1] if shown else None
    return [e.entry_id for e in shown], (Position(record(kind, record_id), last.at, last.entry_id).encode()
                                         if more and last else None)


async def test_pages_follow_each_other_without_a_gap_or_a_repeat_and_refuse_a_foreign_cursor():
    cases = Cases()
    for n in range(23):  # many at the same time: ties go by entry id
        await cases.ok(c.AddQuickNote(note_id=f"n{n:02d}", record_kind="contact", record_id="ann", text=f"note {n}"))
        if n % 5 == 0:
            cases.tick()
    seen, cursor, pages = [], None, 0
    while True:
        ids, cursor = page(cases, "contact", "ann", cursor, 10)
        seen += ids
        pages += 1
        if cursor is None:
            break
    assert pages == 3 and seen == [e.entry_id for e in timeline(cases, "contact", "ann")] and len(set(seen)) == 23
    first_cursor = page(cases, "contact", "ann", None, 10)[1]
    assert first_cursor is not None
    with pytest.raises(Rejected, match="given out for the timeline of contact:ann, not account:ann"):
        Position.decode(first_cursor, "account:ann")
    for bad in ("nonsense", "e30", first_cursor[:-3]):
        with pytest.raises(Rejected, match="not one this timeline gave out"):
            Position.decode(bad, "contact:ann")


async def test_case_changes_and_service_requests_are_in_the_timeline():
    cases = Cases()
    await cases.feed(linked(), producer="customer")
    await feed_all(cases, a_conversation()[:1])
    cases.now = at(10)
    await cases.ok(c.OpenCase(case_id="k1", fields=c.CaseFields(title="Card", account_id="acme")))
    cases.tick()
    await cases.ok(c.EditCase(case_id="k1", version=1, changes=c.CaseFields(status="active", priority="high",
                                                                            description="Lost in the post")))
    await cases.ok(c.RegisterServiceRequest(service_request_id="sr1", conversation_id="conv1", title="New card"))
    cases.tick()
    await cases.ok(c.ChangeServiceRequest(service_request_id="sr1", version=1, status="in_progress"))
    account = timeline(cases, "account", "acme")
    assert [(e.kind, e.title, e.detail) for e in account[:4]] == [
        ("service_request", "Service request New card: in progress", "Status in_progress"),
        ("service_request", "Service request registered: New card", "Status registered"),
        ("case_changed", "Case CAS-000001 changed", "description; priority: high; status: active"),
        ("case_opened", "Case CAS-000001 opened: Card", "Priority normal, status new")]
    assert [e.kind for e in timeline(cases, "case", "k1")] == ["case_changed", "case_opened"]
    assert [e.kind for e in timeline(cases, "contact", "ann")] == ["service_request", "service_request",
                                                                   "conversation_started"]


async def test_a_contacts_erasure_blanks_its_entries_and_leaves_it_without_a_timeline():
    cases = Cases()
    await cases.feed(linked(), producer="customer")
    await cases.ok(c.OpenCase(case_id="k1", fields=c.CaseFields(title="Refund", contact_id="ann")))
    await feed_all(cases, a_conversation())
    await cases.ok(c.AddQuickNote(note_id="n1", record_kind="contact", record_id="ann", text="Ann prefers calls"))
    await cases.ok(c.AddQuickNote(note_id="n2", record_kind="case", record_id="k1", text="Ann's IBAN is ..."))
    await cases.ok(c.AddQuickNote(note_id="n3", record_kind="account", record_id="acme", text="Acme pays late"))
    assert len(timeline(cases, "contact", "ann")) == 8

    await cases.feed(customer.ContactErased(contact_id="ann", customer_ids=["visitor-1"], counts={},
                                            erased_by="root", at=T0), producer="customer")
    assert timeline(cases, "contact", "ann") == []
    account = {e.kind: e for e in timeline(cases, "account", "acme")}  # the company's record of the work stays
    assert account["conversation_started"].detail == account["conversation_transferred"].detail == "[erased]"
    assert account["conversation_ended"].detail == "Wrap-up: resolved; 12 messages"
    assert account["quick_note"].detail == "Acme pays late"
    case = timeline(cases, "case", "k1")
    assert {e.detail for e in case if e.kind in ("quick_note", "conversation_started")} == {"[erased]"}
    assert "Ann" not in str([e.detail for e in case + list(account.values())])
