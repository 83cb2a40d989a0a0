"""A restart in the middle of the timeline leaves it exact: the cases service, as its own process, follows chat's,
routing's and customer's events and takes quick notes from the real broker, is killed (SIGKILL) while it works
through them, and is started again; every conversation ends with each of its entries once, in the timelines
of its contact, account and case, and its contact's read API pages show them all."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.cases.adapters.store import CASES
from services.cases.adapters.timeline import TIMELINE
from shared.contracts import cases as c
from shared.contracts import chat, customer, routing
from shared.contracts.catalogue import CASES_COMMANDS, CHAT_EVENTS, CUSTOMER_EVENTS, ROUTING_EVENTS
from shared.contracts.envelope import Actor, Envelope, wrap
from shared.mongo import make_mongo_client
from shared.settings import ServiceSettings
from shared.testing.kafka import eventually, publish_all
from shared.testing.service_process import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # CI runs it (.ci/run); the default run stays under 15 minutes

CONVERSATIONS, CONTACTS, WITH_CASE = 150, 10, 5  # contacts p0..p4 have one active case: conversations link to it
T0 = datetime(2026, 11, 30, 9, tzinfo=UTC)
AGENT = Actor(user_id="alice", role="agent")
CONVERSATION_KINDS = Counter(conversation_started=1, conversation_assigned=2, conversation_transferred=1,
                             conversation_ended=1)


def case_commands(tenant: str) -> list[tuple[str, Envelope[Any]]]:
    return [(CASES_COMMANDS.name, wrap(c.OpenCase(case_id=f"k{p}", actor=AGENT, fields=c.CaseFields(
        title=f"Case of p{p}", contact_id=f"p{p}")), tenant_id=tenant, key=f"k{p}", producer="gateway"))
        for p in range(WITH_CASE)]


def records(tenant: str) -> list[tuple[str, Envelope[Any]]]:
    """Each conversation as chat, routing and customer publish it (the customer linked before it starts for even
    ones, after it ended for odd ones), and a quick note on each contact."""
    out: list[tuple[str, Envelope[Any]]] = []

    def add(topic: str, event: Any, producer: str, when: datetime) -> None:
        out.append((topic, wrap(event, tenant_id=tenant, key=str(getattr(event, event.KEY)), producer=producer,
                                occurred_at=when)))

    for n in range(CONVERSATIONS):
        cid, visitor, start = f"c{n}", f"u{n}", T0 + timedelta(minutes=n)
        link = customer.CustomerLinked(customer_id=visitor, conversation_id=cid, contact_id=f"p{n % CONTACTS}",
                                       account_id=f"a{n % 3}", name=f"User {n}", company=None, at=start)
        if n % 2 == 0:
            add(CUSTOMER_EVENTS.name, link, "customer", start)
        add(CHAT_EVENTS.name, chat.ConversationStarted(
            conversation_id=cid, queue_id="support", customer=chat.Customer(customer_id=visitor, name=f"User {n}"),
            context=chat.Context(), proactive=False, started_at=start), "chat", start)
        for s, event in enumerate([
                routing.ConversationAssigned(conversation_id=cid, agent_id="alice", queue_id="support",
                                             channel="chat", how="offer"),
                routing.ConversationTransferred(conversation_id=cid, from_agent_id="alice", to_queue_id="billing",
                                                to_agent_id="bob", reason="billing question"),
                routing.ConversationAssigned(conversation_id=cid, agent_id="bob", queue_id="billing",
                                             channel="chat", how="offer")], start=1):
            add(ROUTING_EVENTS.name, event, "routing", start + timedelta(seconds=s))
        add(CHAT_EVENTS.name, chat.ConversationClosed(
            conversation_id=cid, queue_id="billing", customer_id=visitor, agent_id="bob", ended_by="agent",
            wrap_up_reason="resolved", messages=4, started_at=start, closed_at=start + timedelta(seconds=9)),
            "chat", start + timedelta(seconds=9))
        if n % 2 == 1:
            add(CUSTOMER_EVENTS.name, link, "customer", start + timedelta(seconds=10))
        if n < CONTACTS:
            out.append((CASES_COMMANDS.name, wrap(c.AddQuickNote(
                note_id=f"note-p{n}", record_kind="contact", record_id=f"p{n}", text=f"p{n} prefers e-mail",
                actor=AGENT), tenant_id=tenant, key=f"p{n}", producer="gateway")))
    return out


def expected_kinds(n: int) -> Counter[str]:
    return CONVERSATION_KINDS + Counter(case_linked=1) if n % CONTACTS < WITH_CASE else CONVERSATION_KINDS


def exact(n: int, entries: list[dict[str, Any]]) -> bool:
    """Conversation c<n> has each of its entries once, each in its contact's, account's (and case's) timeline."""
    p = n % CONTACTS
    want = {f"contact:p{p}", f"account:a{n % 3}", *([f"case:k{p}"] if p < WITH_CASE else [])}
    return (Counter(e["kind"] for e in entries) == expected_kinds(n)
            and all(want <= set(e["records"]) for e in entries))


async def test_a_killed_timeline_resumes_and_ends_exact(infrastructure, unique, tmp_path):
    tenant = f"t-{unique}"
    cases = ServiceProcess("cases", infrastructure, unique, tmp_path)
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    db = client[cases.db_name]

    async def by_conversation() -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        async for doc in db[TIMELINE].find({"tenant_id": tenant, "conversation_id": {"$exists": True}}):
            out.setdefault(doc["conversation_id"], []).append(doc)
        return out

    try:
        cases.start()
        await publish_all(infrastructure.kafka_bootstrap, case_commands(tenant))
        await eventually(lambda: _count(db[CASES], tenant, WITH_CASE), timeout_s=60)  # before any conversation
        await publish_all(infrastructure.kafka_bootstrap, records(tenant))
        await eventually(lambda: _count(db[TIMELINE], tenant, CONVERSATIONS), timeout_s=60, interval_s=0.05)
        cases.kill()  # mid-way: some events handled, their offsets maybe not committed
        at_kill = await by_conversation()
        exact_at_kill = sum(exact(int(cid[1:]), entries) for cid, entries in at_kill.items())
        cases.start()

        async def all_exact() -> bool:
            found = await by_conversation()
            return len(found) == CONVERSATIONS and all(exact(int(cid[1:]), e) for cid, e in found.items())
        try:
            await eventually(all_exact, timeout_s=180, interval_s=0.5)
        except TimeoutError:
            found = await by_conversation()
            wrong = {cid: Counter(e["kind"] for e in entries) for cid, entries in found.items()
                     if not exact(int(cid[1:]), entries)}
            raise AssertionError(f"{len(found)} conversations; not exact: {dict(list(wrong.items())[:5])}") from None
        assert exact_at_kill < CONVERSATIONS  # the kill came before the end

        # the read API: contact p0's timeline, page by page: its 15 conversations, its case's opening, its note
        seen: list[dict[str, Any]] = []
        cursor = None
        async with httpx.AsyncClient(base_url=cases.url) as http:
            while True:
                response = await http.get(f"/internal/tenants/{tenant}/timeline/contact/p0",
                                          params={"limit": 25, **({"cursor": cursor} if cursor else {})})
                assert response.status_code == 200, response.text
                seen += response.json()["entries"]
                if (cursor := response.json()["next_cursor"]) is None:
                    break
        per_contact = CONVERSATIONS // CONTACTS
        assert Counter(e["kind"] for e in seen) == Counter(
            {k: v * per_contact for k, v in expected_kinds(0).items()}) + Counter(case_opened=1, quick_note=1)
        assert len({e["entry_id"] for e in seen}) == len(seen)
    finally:
        cases.stop()
        await client.drop_database(cases.db_name)
        await client.close()


async def _count(collection: Any, tenant: str, at_least: int) -> bool:
    return await collection.count_documents({"tenant_id": tenant}) >= at_least
