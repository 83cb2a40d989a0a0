"""The timeline on the real mongod: the read API's pages follow each other newest first without a gap or a repeat
(many entries at the same time: ties by id), a cursor it did not give out is a 422 with the reason, every page
is read from the (tenant, records, at, _id) index (an IXSCAN, or for a later page two merged in order, no sort
in memory, only the page's entries examined); and transactions that overlap still leave every entry in the
timelines of its conversation's links."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.cases.adapters.timeline import ORDER, TIMELINE
from services.cases.domain.timeline import Position
from services.cases.handlers import CasesHandlers
from shared.contracts import cases as c
from shared.contracts import chat, customer, routing
from shared.contracts.envelope import wrap
from shared.mongo import consuming

pytestmark = pytest.mark.integration

PATH = "/internal/tenants/t1/timeline"


async def seed(service: Any) -> None:
    """A conversation of Ann's (linked to her and Acme) started an hour before 40 notes on Ann are written and
    assigned and ended an hour after."""
    now = datetime.now(UTC)
    start, later = now - timedelta(hours=1), now + timedelta(hours=1)
    await service.feed(customer.CustomerLinked(customer_id="visitor-1", conversation_id="conv1", contact_id="ann",
                                               account_id="acme", name="Ann", company="Acme", at=start))
    await service.feed(chat.ConversationStarted(conversation_id="conv1", queue_id="support", proactive=False,
                                                customer=chat.Customer(customer_id="visitor-1", name="Ann"),
                                                context=chat.Context(), started_at=start))
    await service.feed(routing.ConversationAssigned(conversation_id="conv1", agent_id="alice", queue_id="support",
                                                    channel="chat", how="offer"), occurred_at=later)
    await service.feed(chat.ConversationClosed(conversation_id="conv1", queue_id="support", customer_id="visitor-1",
                                               agent_id="alice", ended_by="customer", wrap_up_reason="resolved",
                                               messages=3, started_at=start,
                                               closed_at=later + timedelta(seconds=1)))
    for n in range(40):
        await service.send(c.AddQuickNote(note_id=f"n{n:02d}", record_kind="contact", record_id="ann",
                                          text=f"note {n}"))


async def pages(service: Any, timeline: str, limit: int) -> list[list[dict[str, Any]]]:
    out, cursor = [], None
    while True:
        page = await service.get(f"{PATH}/{timeline}", limit=limit, **({"cursor": cursor} if cursor else {}))
        out.append(page["entries"])
        cursor = page["next_cursor"]
        if cursor is None:
            return out


async def test_pages_of_a_timeline_follow_each_other_newest_first(service):
    await seed(service)
    ann = await pages(service, "contact/ann", 7)
    entries = [e for page in ann for e in page]
    assert [len(p) for p in ann] == [7] * 6 + [1]
    assert len({e["entry_id"] for e in entries}) == 43
    # by time (parsed: a time on a whole second is written without its fraction, so the strings do not sort)
    order = [(datetime.fromisoformat(e["at"]), e["entry_id"]) for e in entries]
    assert order == sorted(order, reverse=True)
    assert [e["kind"] for e in entries[:3]] == ["conversation_ended", "conversation_assigned", "quick_note"]
    assert entries[2]["detail"] in {f"note {n}" for n in range(40)}  # read from the notes
    assert [e["kind"] for e in entries[-1:]] == ["conversation_started"]
    acme = await pages(service, "account/acme", 10)
    assert [[e["kind"] for e in page] for page in acme] == [
        ["conversation_ended", "conversation_assigned", "conversation_started"]]
    assert (await service.get(f"{PATH}/case/nobody")) == {"entries": [], "next_cursor": None}
    assert (await service.get(f"{PATH}/contact/ann", limit=3))["entries"] == entries[:3]
    assert len((await service.get(f"{PATH}/contact/ann"))["entries"]) == 10  # the default limit


async def test_a_cursor_it_did_not_give_out_is_a_422_with_the_reason(service):
    await seed(service)
    cursor = (await service.get(f"{PATH}/contact/ann", limit=5))["next_cursor"]
    for path, params, reason in [
        ("account/acme", {"cursor": cursor}, "given out for the timeline of contact:ann, not account:acme"),
        ("contact/ann", {"cursor": "not-a-cursor"}, "cursor: not one this timeline gave out"),
        ("contact/ann", {"limit": 0}, "greater than or equal to 1"),
        ("contact/ann", {"limit": 101}, "less than or equal to 100"),
        ("person/ann", {}, "'case', 'contact' or 'account'"),
    ]:
        response = await service.http.get(f"{PATH}/{path}", params=params)
        assert response.status_code == 422 and reason in response.text, (path, response.text)


async def test_every_page_is_read_from_the_index_without_sorting_in_memory(service):
    await seed(service)
    docs = await service.db[TIMELINE].find({"tenant_id": "t1", "records": "contact:ann"}).sort(ORDER).to_list()
    middle = docs[20]
    after = Position("contact:ann", middle["at"], middle["entry_id"])
    queries = [
        {"tenant_id": "t1", "records": "contact:ann"},
        {"tenant_id": "t1", "records": "contact:ann",
         "$or": [{"at": {"$lt": after.at}}, {"at": after.at, "_id": {"$lt": middle["_id"]}}]},
    ]
    for query in queries:
        stats = await service.db.command("explain", {"find": TIMELINE, "filter": query, "sort": dict(ORDER),
                                                     "limit": 11}, verbosity="executionStats")
        plan = str(stats["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in plan and "by_record" in plan and "COLLSCAN" not in plan and "'SORT'" not in plan, plan
        assert stats["executionStats"]["nReturned"] == 11
        assert stats["executionStats"]["totalDocsExamined"] <= 12, stats["executionStats"]



class Overlapping:
    """The unit of work, holding each transaction's commit until `n` of them have done their work (or a second
    passed): transactions overlap as those of different topics' consumers may."""

    def __init__(self, uow: Any, n: int) -> None:
        self.uow, self.n, self.arrived = uow, n, 0

    async def run(self, work: Any, **options: Any) -> Any:
        async def held(tx: Any) -> Any:
            result = await work(tx)
            self.arrived += 1
            deadline = asyncio.get_running_loop().time() + 1
            while self.arrived < self.n and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            return result
        return await self.uow.run(held, **options)


async def feed_together(service: Any, *events: Any) -> None:
    handlers = CasesHandlers(Overlapping(service.uow, len(events)))

    async def feed(event: Any) -> None:
        env = wrap(event, tenant_id="t1", key=str(getattr(event, event.KEY)), producer="test")
        with consuming(env.event_id):
            await handlers.handle_event(env)
    await asyncio.gather(*(feed(e) for e in events))


async def test_entries_written_beside_a_link_still_join_its_timelines(service):
    """Snapshot transactions conflict only on writes: the timeline's conversation and customer documents make
    these pairs conflict, and the second run again after the first, so no entry misses the link beside it."""
    now = datetime.now(UTC)

    def started(cid: str, visitor: str) -> chat.ConversationStarted:
        return chat.ConversationStarted(conversation_id=cid, queue_id="support", proactive=False, started_at=now,
                                        customer=chat.Customer(customer_id=visitor, name="Ann"), context=chat.Context())

    def linked(cid: str, visitor: str) -> customer.CustomerLinked:
        return customer.CustomerLinked(customer_id=visitor, conversation_id=cid, contact_id="ann", account_id="acme",
                                       name="Ann", company=None, at=now)

    def assigned(cid: str) -> routing.ConversationAssigned:
        return routing.ConversationAssigned(conversation_id=cid, agent_id="alice", queue_id="support", channel="chat",
                                            how="offer")

    for event in (linked("c0", "u0"), started("c0", "u0"), assigned("c0")):  # every collection exists from here
        await service.feed(event)
    # the customer linked while its conversation starts
    await feed_together(service, linked("c1", "u1"), started("c1", "u1"))
    # routing's first entry while the conversation (of a customer linked before) starts
    await service.feed(linked("c2", "u2"))
    await feed_together(service, started("c2", "u2"), assigned("c2"))
    for cid, count in (("c1", 1), ("c2", 2)):
        entries = await service.db[TIMELINE].find({"tenant_id": "t1", "conversation_id": cid}).to_list()
        assert len(entries) == count and all({"contact:ann", "account:acme"} <= set(e["records"]) for e in entries), \
            (cid, [(e["kind"], e["records"]) for e in entries])
    assert service.uow.stats["attempts"] > service.uow.stats["committed"]  # the second did run again
    # and so what cases knows of the conversation (conversation_cases.py, in the same transactions) has it too
    assert (await service.db["conversations"].find_one({"_id": "t1|c1"}))["contact_id"] == "ann"
