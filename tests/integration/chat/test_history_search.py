"""History search (C6) on the real mongod: messages stored with chat's own document functions, searched through
chat's read API (ranked, in the given conversations or the tenant's), and every search query served by the
words indexes (IXSCAN, no collection scan, no sort in memory, only matching documents fetched)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.chat.adapters.documents import CONVERSATIONS, MESSAGES, conversation_to_doc, message_to_doc
from services.chat.adapters import masking
from services.chat.adapters.masking import (
    SEARCH_CANDIDATES,
    SEARCH_IN_CONVERSATIONS,
    SEARCH_NEWEST,
    MongoMaskingQueries,
    ensure_masking_indexes,
    search_filter,
)
from services.chat.domain.conversation import Conversation
from services.chat.domain.messages import Message
from services.chat.domain.search import parse_query
from shared.contracts.chat.common import Customer, Sender

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 1, tzinfo=UTC)
FILLER = ["hello", "order", "delivery", "thanks", "please", "account", "password", "invoice", "today", "again"]


async def seed(db, tenant: str = "t1") -> None:
    """40 customers with 5 conversations of 10 messages each (2,000 messages), plus a few known ones."""
    conversations, messages = [], []
    for n in range(200):
        cid, customer = f"c{n}", f"cu{n % 40}"
        conversations.append(conversation_to_doc(tenant, Conversation(
            conversation_id=cid, queue_id=f"q{n % 3}", started_at=T0, customer=Customer(customer_id=customer,
                                                                                        name="Visitor"))))
        for seq in range(1, 11):
            words = " ".join(FILLER[(n * 7 + seq * k) % len(FILLER)] for k in range(1, 9))
            text = {(5, 3): "I was charged twice for my order", (6, 4): "charged for the order, then again twice",
                    (45, 2): "charged twice!"}.get((n, seq), words)
            messages.append(message_to_doc(tenant, Message(
                message_id=f"m{n}-{seq}", conversation_id=cid, seq=seq, sender=Sender(kind="customer", id=customer),
                text=text, private=seq == 10, client_message_id=None, sent_at=T0 + timedelta(minutes=n * 10 + seq))))
    await db[CONVERSATIONS].insert_many(conversations)
    await db[MESSAGES].insert_many(messages)


@pytest.fixture
async def chat(chat_instances):
    service = chat_instances[0]
    await ensure_masking_indexes(service.runtime.db)
    await seed(service.runtime.db)
    return service


async def search(chat, q: str, **body) -> dict:
    found = await chat.http.post("/internal/tenants/t1/search", json={"q": q, **body})
    assert found.status_code == 200, found.text
    return found.json()


async def test_ranked_hits_in_the_given_conversations_or_the_tenants(chat):
    tenant_wide = await search(chat, "charged twice")
    assert [h["message_id"] for h in tenant_wide["hits"]] == ["m45-2", "m5-3", "m6-4"] and tenant_wide["complete"]
    assert [f["text"] for f in tenant_wide["hits"][1]["snippet"] if f["match"]] == ["charged", "twice"]
    customers = await search(chat, "charged twice", conversation_ids=["c5", "c45", "c85"])  # cu5's conversations
    assert [h["message_id"] for h in customers["hits"]] == ["m45-2", "m5-3"]
    assert {h["customer_id"] for h in customers["hits"]} == {"cu5"}
    assert [h["message_id"] for h in (await search(chat, "charged tw", conversation_ids=["c6"]))["hits"]] == ["m6-4"]
    many = await search(chat, "order", limit=500)
    assert len(many["hits"]) == SEARCH_CANDIDATES and not many["complete"]  # more match: the newest are ranked
    assert all(h["seq"] != 10 for h in many["hits"])  # private notes are never searched


async def test_every_search_query_is_served_by_a_words_index(chat):
    queries = MongoMaskingQueries(chat.runtime.db)
    cases = [("charged twice", ["c5", "c45", "c85"], SEARCH_IN_CONVERSATIONS),
             ("order hello", [f"c{n}" for n in range(0, 200, 2)], SEARCH_IN_CONVERSATIONS),
             ("charged twice", None, SEARCH_NEWEST), ("password", None, SEARCH_NEWEST), ("cha", None, SEARCH_NEWEST),
             ("twi", ["c6"], SEARCH_IN_CONVERSATIONS)]
    for q, conversation_ids, index in cases:
        cursor = queries.search_cursor("t1", parse_query(q), conversation_ids)
        explained = await cursor.explain()
        plan = str(explained["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in plan and index in plan and "COLLSCAN" not in plan and "'SORT'" not in plan, (q, plan)
        stats = (await chat.runtime.db.command("explain", {
            "find": MESSAGES, "filter": search_filter("t1", parse_query(q), conversation_ids), "hint": index,
            "limit": SEARCH_CANDIDATES,
            **({"sort": {"sent_at": -1}} if conversation_ids is None and parse_query(q).bound else {})},
            verbosity="executionStats"))["executionStats"]
        returned = stats["nReturned"]
        assert stats["totalDocsExamined"] <= max(returned * 3, 30), (q, stats)  # the bound word's entries only


async def test_the_scan_starts_from_the_word_with_the_fewest_entries(chat):
    """The longest word is not always the rarest: 'delivery' is in most messages, 'twice' in three. Started from
    'delivery', the scan reads every message holding it to find none with 'twic...'; started from the word with
    the fewest entries (counted on the index first), it reads three."""
    queries = MongoMaskingQueries(chat.runtime.db)
    for q, conversation_ids, index in (("delivery twic", None, SEARCH_NEWEST),
                                       ("delivery charged", [f"c{n}" for n in range(100)], SEARCH_IN_CONVERSATIONS),
                                       ("delivery twic", [f"c{n}" for n in range(100)], SEARCH_IN_CONVERSATIONS)):
        naive = parse_query(q)
        chosen, _ = await queries.fewest_entries("t1", naive, conversation_ids)
        assert naive.bound == "delivery" and chosen.bound != "delivery", (q, chosen)

        async def examined(query, conversation_ids=conversation_ids, index=index) -> int:
            return (await chat.runtime.db.command("explain", {
                "find": MESSAGES, "filter": search_filter("t1", query, conversation_ids), "hint": index,
                "limit": SEARCH_CANDIDATES,
                **({"sort": {"sent_at": -1}} if conversation_ids is None and query.bound else {})},
                verbosity="executionStats"))["executionStats"]["totalDocsExamined"]

        assert await examined(chosen) <= 5 < 100 < await examined(naive), q
    hits = await search(chat, "delivery twic")
    assert hits["hits"] == [] and hits["complete"]
    twice = await search(chat, "order charged twi")
    assert [h["message_id"] for h in twice["hits"]] == ["m5-3", "m6-4"]


async def test_a_search_reads_at_most_a_bounded_number_of_its_starts_entries_and_says_it_is_not_complete(
        chat, monkeypatch):
    """Two words each in most messages: the start's newest SCANNED entries are read, no more, and the answer says
    it is not complete; what it finds holds both words and is from those newest entries."""
    monkeypatch.setattr(masking, "SCANNED", 50)
    queries = MongoMaskingQueries(chat.runtime.db)
    query, entries = await queries.fewest_entries("t1", parse_query("order hello"), None)
    assert entries > 50
    messages, conversations, complete = await queries.search("t1", parse_query("order hello"), conversation_ids=None)
    assert not complete and 0 < len(messages) <= 50
    assert all({"order", "hello"} <= set(m["text"].split()) for m in messages)
    newest = await chat.runtime.db[MESSAGES].find(masking.scan_bound("t1", query, None)).sort(  # one word in range
        "sent_at", -1).limit(50).to_list()
    assert {m["message_id"] for m in messages} <= {m["message_id"] for m in newest}
    assert set(conversations) == {m["conversation_id"] for m in messages}
    found = await search(chat, "order hello")
    assert not found["complete"] and found["hits"]
    # in conversations: the same bound, not the newest (the index is in conversation order)
    scoped, _, complete = await queries.search("t1", parse_query("order hello"),
                                               conversation_ids=[f"c{n}" for n in range(100)])
    assert not complete and 0 < len(scoped) <= 50
