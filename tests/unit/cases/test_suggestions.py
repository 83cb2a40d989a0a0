"""The suggestions consumer's handlers (services/cases/suggestions.py) on the in-memory unit of work, with a
retriever that answers from a list (retrieval itself runs against the real mongod in
tests/integration/cases/test_knowledge.py): which messages get suggestions, once, with the lag recorded; which are
ignored or skipped as too old; the visitor's language reaches the search."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest

from services.cases.adapters.articles import LANGUAGES
from services.cases.suggestions import Suggester
from shared.contracts import chat
from shared.contracts.cases.knowledge import AnswersSuggested, ArticleHit
from shared.contracts.catalogue import CASES_EVENTS
from shared.contracts.envelope import Envelope, wrap
from shared.mongo import AlreadyProcessed, consuming
from shared.testing.fakes import FakeUnitOfWork
from tests.unit.cases.harness import T0, posted, started

pytestmark = pytest.mark.unit


class ListedRetriever:
    """Answers every search with the same hits; remembers what it was asked; languages from the fake's documents."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.asked: list[tuple[str, str, str | None]] = []

    async def conversation_language(self, tenant_id: str, conversation_id: str) -> str | None:
        doc = self.uow.docs.get(LANGUAGES, {}).get(f"{tenant_id}|{conversation_id}")
        return doc["language"] if doc else None

    async def search(self, tenant_id: str, q: str, *, language: str | None = None, limit: int = 10,
                     **_: Any) -> list[ArticleHit]:
        self.asked.append((tenant_id, q, language))
        return [ArticleHit(article_id=f"kb-{n}", title=f"Article {n}", snippet="...", text=f"Answer {n}",
                           language="en", status="published", score=1 / n) for n in range(1, 5)][:limit]


class Consumer:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.now = T0 + timedelta(milliseconds=120)
        self.retriever = ListedRetriever(self.uow)
        self.suggester = Suggester(self.uow, self.retriever, group="cases-knowledge",  # type: ignore[arg-type]
                                   max_age_s=60, clock=lambda: self.now)

    async def deliver(self, env: Envelope[Any]) -> None:
        handler = (self.suggester.on_message_posted if isinstance(env.payload, chat.MessagePosted)
                   else self.suggester.on_conversation_started)
        with consuming(f"cases-knowledge:{env.event_id}"), contextlib.suppress(AlreadyProcessed):
            await handler(env)

    def suggested(self) -> list[AnswersSuggested]:
        return [e.payload for e in self.uow.emitted(CASES_EVENTS.name)]


def envelope(event: Any, tenant: str = "t1") -> Envelope[Any]:
    return wrap(event, tenant_id=tenant, key=event.conversation_id, producer="chat")


async def test_a_customer_message_gets_the_best_three_once_with_its_lag():
    consumer = Consumer()
    message = envelope(posted(text="can I send the kettle back?"))
    await consumer.deliver(message)
    await consumer.deliver(message)  # redelivered: handled once
    (event,) = consumer.suggested()
    assert (event.conversation_id, event.message_id, event.agents) == ("conv1", "conv1-m1", ["alice"])
    assert [s.article_id for s in event.suggestions] == ["kb-1", "kb-2", "kb-3"]
    assert event.suggestions[0].text == "Answer 1" and (event.message_sent_at, event.at) == (T0, consumer.now)
    assert consumer.uow.emitted(CASES_EVENTS.name)[0].causation_id == message.event_id
    stats = consumer.suggester.stats.view()
    assert (stats.handled, stats.last_lag_ms, stats.lag_p99_ms, stats.skipped_stale) == (1, 120.0, 120.0, 0)


async def test_agents_messages_notes_unworked_conversations_and_old_messages_get_none():
    consumer = Consumer()
    await consumer.deliver(envelope(posted(kind="agent", sender_id="alice", text="Hello!")))
    await consumer.deliver(envelope(posted(text="secret", seq=2).model_copy(update={"private": True})))
    await consumer.deliver(envelope(posted(text="anyone there?", seq=3).model_copy(update={"agents": []})))
    consumer.now = T0 + timedelta(seconds=61)  # reached after an outage
    await consumer.deliver(envelope(posted(text="where is my parcel", seq=4)))
    assert consumer.suggested() == [] and consumer.retriever.asked == []
    stats = consumer.suggester.stats.view()
    assert (stats.ignored, stats.skipped_stale, stats.handled) == (3, 1, 0)
    consumer.now = T0 + timedelta(seconds=60)
    await consumer.deliver(envelope(posted(text="where is my parcel", seq=5)))
    assert len(consumer.suggested()) == 1


async def test_the_visitors_language_is_searched_in_and_tenants_are_apart():
    consumer = Consumer()
    start = started().model_copy(update={"context": chat.Context(visitor=chat.Visitor(language="ru-RU"))})
    await consumer.deliver(envelope(start))
    await consumer.deliver(envelope(posted(text="где моя посылка?")))
    await consumer.deliver(envelope(posted(conversation_id="conv2", text="where is my parcel")))
    await consumer.deliver(envelope(posted(text="where is my parcel"), tenant="t2"))
    assert consumer.retriever.asked == [("t1", "где моя посылка?", "ru"), ("t1", "where is my parcel", None),
                                        ("t2", "where is my parcel", None)]


async def test_an_empty_list_clears_shown_suggestions_once_and_is_not_repeated():
    consumer = Consumer()
    hits = consumer.retriever.search

    async def nothing(*args: Any, **kwargs: Any) -> list[ArticleHit]:
        await hits(*args, **kwargs)
        return []

    await consumer.deliver(envelope(posted(text="where is my order?", seq=1)))
    consumer.retriever.search = nothing  # type: ignore[method-assign]
    for seq in (2, 3, 4):  # nothing found: the first empty list clears the panel, the others would change nothing
        await consumer.deliver(envelope(posted(text="hello?", seq=seq)))
    consumer.retriever.search = hits  # type: ignore[method-assign]
    await consumer.deliver(envelope(posted(text="a refund then", seq=5)))
    assert [len(e.suggestions) for e in consumer.suggested()] == [3, 0, 3]
    assert len(consumer.retriever.asked) == 5


async def test_a_conversation_not_remembered_gets_its_empty_list():
    consumer = Consumer()

    async def nothing(*args: Any, **kwargs: Any) -> list[ArticleHit]:
        return []

    consumer.retriever.search = nothing  # type: ignore[method-assign]
    await consumer.deliver(envelope(posted(text="hello?", seq=1)))
    await consumer.deliver(envelope(posted(text="anyone?", seq=2)))
    assert [len(e.suggestions) for e in consumer.suggested()] == [0]
