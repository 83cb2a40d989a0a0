"""The knowledge base (K4) on the real mongod and broker: articles saved through cases' handlers are found by the
text index (stemmed, in the tenant only, drafts left out) and by the embedding model (paraphrases, other
languages), fused; the in-process vector cache of one instance follows what another instance saves; and the
suggestions consumer, in a consumer group of its own, may fall behind while cases' main consumer goes on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.cases.adapters.articles import ARTICLES, ensure_knowledge_indexes
from services.cases.adapters.embeddings import shared_embedder
from services.cases.adapters.retrieval import Retriever
from services.cases.adapters.store import CONVERSATIONS
from services.cases.bootstrap import build
from services.cases.handlers import CasesHandlers
from services.cases.settings import CasesSettings
from shared.contracts import cases as c
from shared.contracts import chat
from shared.contracts.catalogue import CASES_EVENTS, CHAT_EVENTS
from shared.contracts.envelope import Actor, wrap
from shared.mongo import MongoUnitOfWork, consuming, make_mongo_client
from shared.settings import ServiceSettings
from shared.testing.kafka import TopicReader, eventually, publish_all

pytestmark = pytest.mark.integration

EDITOR = Actor(user_id="sam", role="supervisor")
ARTICLES_SEEN = [
    ("kb-reset", "Resetting your password", "On the sign-in page press Forgot password and enter the e-mail of your "
                                            "account. We send a link that works for 30 minutes."),
    ("kb-track", "Tracking your order", "When your order ships we e-mail a tracking link with the carrier's "
                                        "tracking number."),
    ("kb-returns", "Our 30-day return policy", "You can return most items within 30 days of delivery for a full "
                                               "refund, for any reason."),
    ("kb-hub", "Hub shows as offline", "Check that the Hub's light is solid white; blinking orange means it has "
                                       "no internet. Restart your router."),
    ("kb-plugs", "Timers and schedules for smart plugs", "Open the plug in the app and choose Timer or Schedule "
                                                         "for repeating on and off times."),
]


class Knowledge:
    def __init__(self, client: Any, db_name: str) -> None:
        self.db = client[db_name]
        self.uow = MongoUnitOfWork(client, db_name)
        self.handlers = CasesHandlers(self.uow)

    def retriever(self) -> Retriever:
        """One more instance's retriever (its own vector cache) on the same database."""
        return Retriever(self.db, shared_embedder())

    async def save(self, article_id: str, title: str, body: str, *, tenant: str = "t1", status: str = "published",
                   version: int | None = None, handlers: CasesHandlers | None = None) -> None:
        command = c.SaveArticle(article_id=article_id, title=title, body=body, status=status,  # type: ignore[arg-type]
                                version=version, actor=EDITOR)
        env = wrap(command, tenant_id=tenant, key=article_id, producer="test")
        with consuming(env.event_id):
            await (handlers or self.handlers).handle_command(env)
        assert await self.db[ARTICLES].find_one({"_id": f"{tenant}|{article_id}", "status": status})


@pytest.fixture
async def knowledge(infrastructure, unique) -> AsyncIterator[Knowledge]:
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    k = Knowledge(client, f"cases-kb-{unique}")
    await ensure_knowledge_indexes(k.db)
    for article in ARTICLES_SEEN:
        await k.save(*article)
    yield k
    await client.drop_database(k.db.name)
    await client.close()


async def ids(retriever: Retriever, q: str, **options: Any) -> list[str]:
    return [h.article_id for h in await retriever.search("t1", q, limit=3, **options)]


async def test_text_index_and_embeddings_each_find_what_the_other_misses_and_fusion_keeps_both(knowledge):
    await knowledge.save("kb-secret", "Resetting your password", "Tenant two's own page.", tenant="t2")
    await knowledge.save("kb-draft", "Resetting the password of a kiosk", "Not yet.", status="draft")
    retriever = knowledge.retriever()
    # the text index: stemmed words ("tracked" finds "tracking"), title before body; drafts and tenant t2 left out
    assert (await ids(retriever, "tracked orders", method="text"))[0] == "kb-track"
    assert await ids(retriever, "password reset", method="text") == ["kb-reset"]
    # shared words are all the text index has: a paraphrase, or another language, finds nothing or the wrong one
    paraphrase, russian = "I forgot my login and can't get in", "не помню пароль, как войти?"
    assert "kb-reset" not in await ids(retriever, russian, method="text", language="ru")
    # the embedding model finds them by meaning
    assert (await ids(retriever, paraphrase, method="vector"))[0] == "kb-reset"
    assert (await ids(retriever, russian, method="vector"))[0] == "kb-reset"
    assert (await ids(retriever, "wo ist mein Paket gerade?", method="vector"))[0] == "kb-track"
    # fused, both kinds of question are answered first
    for q in ("tracked orders", paraphrase, russian, "the little box blinks orange"):
        found = await ids(retriever, q)
        assert found[0] == {"tracked orders": "kb-track", paraphrase: "kb-reset", russian: "kb-reset",
                            "the little box blinks orange": "kb-hub"}[q], (q, found)
        assert "kb-draft" not in found and "kb-secret" not in found
    staff = await retriever.search("t1", "kiosk password", published_only=False, limit=5)
    assert "kb-draft" in [h.article_id for h in staff]
    assert [h.article_id for h in await retriever.search("t2", "password", limit=5)] == ["kb-secret"]


async def test_the_text_search_reads_only_its_tenants_index_entries(knowledge):
    plan = await knowledge.db.command("explain", {"find": ARTICLES, "filter": {
        "tenant_id": "t1", "$text": {"$search": "password", "$language": "english"}}}, verbosity="executionStats")
    stages = str(plan["queryPlanner"]["winningPlan"])
    assert "TEXT" in stages and "article_text" in stages
    assert plan["executionStats"]["totalDocsExamined"] <= 2


async def test_one_instances_vector_cache_follows_what_another_instance_saves(knowledge):
    reader = knowledge.retriever()  # instance A: searches, keeps its cache
    writer = CasesHandlers(knowledge.uow)  # instance B: saves
    q = "my doorbell battery runs out quickly, how do I charge it"
    before = await ids(reader, q, method="vector")
    assert "kb-bell" not in before
    await knowledge.save("kb-bell", "Doorbell battery life and charging", "The Cam doorbell's battery lasts 3 to 6 "
                         "months; charge it with the USB-C cable for about 5 hours.", handlers=writer)
    assert (await ids(reader, q, method="vector"))[0] == "kb-bell"
    revision = (await reader.vectors("t1")).revision
    await knowledge.save("kb-bell", "Doorbell battery life and charging", "Being rewritten.", status="draft",
                         version=1, handlers=writer)
    assert "kb-bell" not in await ids(reader, q, method="vector")  # taken back to draft: gone from suggestions
    assert (await reader.vectors("t1")).revision == revision + 1


@pytest.fixture
def cases_settings(infrastructure, unique) -> CasesSettings:
    return CasesSettings(kafka_bootstrap_servers=infrastructure.kafka_bootstrap, mongo_url=infrastructure.mongo_url,
                         mongo_db=f"cases-{unique}", service_name=f"cases-{unique}", outbox_poll_interval_s=0.1)


async def test_suggestions_run_in_their_own_group_and_may_lag_without_holding_up_cases(
        cases_settings, unique, infrastructure, monkeypatch):
    tenant = f"t-{unique}"
    runtime, handlers = build(cases_settings)
    main, knowledge = runtime.dispatchers[CHAT_EVENTS.name], runtime.dispatchers[f"{CHAT_EVENTS.name}@cases-{unique}-knowledge"]
    assert (main.group, knowledge.group) == (f"cases-{unique}", f"cases-{unique}-knowledge")
    held = asyncio.Event()
    search = Retriever.search

    async def held_search(self: Retriever, *args: Any, **kwargs: Any) -> Any:
        await held.wait()  # the suggestions consumer is stuck (slow, or far behind)
        return await search(self, *args, **kwargs)

    monkeypatch.setattr(Retriever, "search", held_search)
    await runtime.start()
    try:
        env = wrap(c.SaveArticle(article_id="kb-returns", title="Our 30-day return policy", status="published",
                                 body="You can return most items within 30 days of delivery for a full refund.",
                                 actor=EDITOR), tenant_id=tenant, key="kb-returns", producer="test")
        with consuming(env.event_id):
            await handlers.handle_command(env)
        now = datetime.now(UTC)
        started = chat.ConversationStarted(conversation_id="conv-1", queue_id="support", proactive=False,
                                           started_at=now, customer=chat.Customer(customer_id="v1", name="Ann"),
                                           context=chat.Context(visitor=chat.Visitor(language="en-GB")))
        posted = chat.MessagePosted(conversation_id="conv-1", message_id="conv-1-m1", seq=1, client_message_id="x",
                                    sender=chat.Sender(kind="customer", id="v1"), private=False, customer_id="v1",
                                    text="I changed my mind, can I send the kettle back?", agents=["alice"],
                                    sent_at=now)
        async with TopicReader(infrastructure.kafka_bootstrap, CASES_EVENTS.name) as reader:
            await publish_all(infrastructure.kafka_bootstrap, [
                (CHAT_EVENTS.name, wrap(e, tenant_id=tenant, key="conv-1", producer="chat")) for e in (started, posted)])
            # cases' main consumer is not held up: it follows the conversation while the suggestions wait
            db = runtime.db
            await eventually(lambda: db[CONVERSATIONS].find_one({"_id": f"{tenant}|conv-1"}), timeout_s=60)
            await eventually(lambda: knowledge.outcomes["handled"] >= 1, timeout_s=30)  # its ConversationStarted
            assert not [e for e in reader.envelopes if e.tenant_id == tenant and e.type == c.AnswersSuggested.TYPE]
            held.set()
            suggested = await reader.wait_for(lambda envs: [e for e in envs if e.tenant_id == tenant and
                                                           e.type == c.AnswersSuggested.TYPE], timeout_s=60)
        (event,) = suggested
        assert event.payload.agents == ["alice"] and event.payload.message_id == "conv-1-m1"
        assert [s.article_id for s in event.payload.suggestions] == ["kb-returns"]
        assert event.payload.suggestions[0].text.startswith("You can return")
        lag_ms = (event.payload.at - event.payload.message_sent_at).total_seconds() * 1000
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.asgi_app()),
                                     base_url="http://cases") as http:
            async def counted() -> Any:  # the handler counts after its commit: the event can be read first
                stats = (await http.get("/internal/knowledge/suggestions")).json()
                return stats if stats["handled"] else None

            stats = await eventually(counted, timeout_s=30)
        assert (stats["group"], stats["handled"]) == (f"cases-{unique}-knowledge", 1)
        assert stats["last_lag_ms"] == pytest.approx(lag_ms, abs=1)
        assert await db["knowledge_conversations"].find_one({"_id": f"{tenant}|conv-1", "language": "en"})
        # each group recorded the message as handled under its own id
        posted_id = event.causation_id
        assert await db["processed_messages"].find_one({"_id": f"cases-{unique}-knowledge:{posted_id}"})
    finally:
        held.set()
        await runtime.stop()
