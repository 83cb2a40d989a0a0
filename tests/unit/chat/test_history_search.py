"""History search (C6) in chat: the words index of masked text, the query, ranking and snippets (domain/search.py),
and the read API's search route over the real handlers on the fakes (scope, masked text only, best first)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.chat.adapters.documents import MESSAGES
from services.chat.bootstrap import build
from services.chat.domain.search import SNIPPET_CHARS, Fragment, parse_query, score, snippet, terms
from services.chat.settings import ChatSettings
from shared.contracts import chat as c
from tests.unit.chat.fakes import InMemoryChatQueries, in_memory_repositories
from tests.unit.chat.fakes_masking import InMemoryMaskingQueries
from tests.unit.chat.harness import Chat, agent, customer

pytestmark = pytest.mark.unit
CARD = "4111 1111 1111 1111"


def test_terms_are_case_and_accent_free_words_once_each():
    assert terms("Jānis: REFUND, refund; Ķīsis!") == ["janis", "kisis", "refund"]
    assert terms("") == []


def test_a_query_takes_whole_words_and_the_last_as_a_prefix():
    q = parse_query("  Refund  charged twi ")
    assert q is not None and q.whole == ("refund", "charged") and q.prefix == "twi"
    assert q.bound == "charged"  # the longest whole word starts the index scan
    assert parse_query("twi").bound is None
    assert parse_query(" .,;*") is None
    assert parse_query("a a a").whole == () and parse_query("a a a").prefix == "a"


def test_ranking_prefers_phrases_then_closeness_then_frequency_then_short_messages():
    q = parse_query("charged twice")
    phrase = score(q, "I was charged twice for one order")
    apart = score(q, "charged for the order, and then for the next one twice")
    swapped = score(q, "twice I was charged")
    assert phrase > swapped > apart > 0
    short, long = score(q, "charged twice"), score(q, "charged twice " + "and some more words here " * 10)
    assert short > long
    one = parse_query("refund")
    assert score(one, "refund refund refund, where is my refund") > score(one, "a refund for the order please")
    assert score(parse_query("charged twice"), "charged once") == 0.0


def test_whole_words_rank_above_words_that_only_start_with_the_prefix():
    q = parse_query("card")
    assert score(q, "my card number") > score(q, "my cardholder name")


def test_the_snippet_marks_the_matched_words_and_keeps_everything_else_as_text():
    q = parse_query("refund <b>")
    text = "<b>Refund</b> please, refunded twice?"
    fragments = snippet(q, text)
    assert "".join(f.text for f in fragments) == text  # short: the whole message, nothing added or escaped
    assert [f.text for f in fragments if f.match] == ["b", "Refund", "b"]  # "b" is the prefix: a word, not a tag
    assert snippet(parse_query("refunded"), text) == [Fragment("<b>Refund</b> please, ", False),
                                                       Fragment("refunded", True), Fragment(" twice?", False)]


def test_a_long_messages_snippet_is_cut_around_its_first_match_at_spaces():
    text = " ".join(f"word{i}" for i in range(100)) + " the parcel never arrived " + " ".join(
        f"tail{i}" for i in range(100))
    fragments = snippet(parse_query("parcel"), text)
    shown = "".join(f.text for f in fragments)
    assert shown[0] == "…" and shown[-1] == "…" and not fragments[0].match and not fragments[-1].match
    assert [f.text for f in fragments if f.match] == ["parcel"]
    assert len(shown) <= SNIPPET_CHARS + 2 and shown[1:-1] in text
    assert shown[1].isalnum() and shown[-2].isalnum()  # whole words at both ends
    assert text.index("parcel") - text.index(shown[1:-1]) <= 40


# --- the read API on the real handlers ------------------------------------------------------------------

@pytest.fixture
def chat() -> Chat:
    return Chat()


@pytest.fixture
async def http(chat) -> AsyncIterator[httpx.AsyncClient]:
    runtime, _ = build(ChatSettings(), uow=chat.uow, repositories=in_memory_repositories,
                       queries=InMemoryChatQueries(chat.uow), masking_queries=InMemoryMaskingQueries(chat.uow))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.asgi_app()),
                                 base_url="http://chat") as client:
        yield client
    await runtime.mongo.close()


async def conversation(chat: Chat, cid: str, customer_id: str, *texts: str, tenant: str = "t1") -> None:
    await chat.accepted(c.StartConversation(conversation_id=cid, queue_id="q1", actor=customer(customer_id),
                                            first_message=texts[0],
                                            customer=c.Customer(customer_id=customer_id, name="Melissa")),
                        tenant)
    for n, text in enumerate(texts[1:]):
        chat.tick()
        await chat.accepted(c.SendMessage(conversation_id=cid, client_message_id=f"{cid}-{n}", text=text,
                                          actor=customer(customer_id)), tenant)


async def search(http: httpx.AsyncClient, q: str, tenant: str = "t1", **body) -> list[dict]:
    found = await http.post(f"/internal/tenants/{tenant}/search", json={"q": q, **body})
    assert found.status_code == 200, found.text
    return found.json()["hits"]


async def test_best_first_with_snippets_in_the_given_conversations_only(chat, http):
    await conversation(chat, "c1", "cu1", "Hello, I have a question", "I was charged twice for order 77",
                       "charged for the order, and then for the next one twice")
    await conversation(chat, "c2", "cu1", "twice charged, again")
    await conversation(chat, "c3", "cu2", "I was charged twice too")
    await conversation(chat, "c4", "cu3", "charged twice", tenant="t2")

    everywhere = await search(http, "charged twice")
    assert [h["text"] for h in everywhere] == ["I was charged twice too", "I was charged twice for order 77",
                                                "twice charged, again",
                                                "charged for the order, and then for the next one twice"]
    assert [h["score"] for h in everywhere] == sorted((h["score"] for h in everywhere), reverse=True)
    assert everywhere[1]["snippet"] == [{"text": "I was ", "match": False}, {"text": "charged", "match": True},
                                        {"text": " ", "match": False}, {"text": "twice", "match": True},
                                        {"text": " for order 77", "match": False}]
    assert everywhere[1]["customer_id"] == "cu1" and everywhere[1]["queue_id"] == "q1"

    customers = await search(http, "charged twice", conversation_ids=["c1", "c2"])
    assert {h["conversation_id"] for h in customers} == {"c1", "c2"} and len(customers) == 3
    assert [h["seq"] for h in await search(http, "charged twi", conversation_ids=["c1"])] == [2, 3]
    assert await search(http, "charged twice", conversation_ids=[]) == []
    assert [h["conversation_id"] for h in await search(http, "charged", tenant="t2")] == ["c4"]
    assert len(await search(http, "charged", limit=2)) == 2


async def test_only_masked_text_is_searched_and_private_notes_not_at_all(chat, http):
    await conversation(chat, "c1", "cu1", f"My card {CARD} was charged, mail melissa@gmail.com")
    stored = next(iter(chat.uow.docs[MESSAGES].values()))
    assert "4111" not in stored["terms"] and "melissa" not in stored["terms"] and "1111" in stored["terms"]
    for secret in (CARD, "4111", "melissa", "melissa@gmail.com"):
        assert await search(http, secret) == [], secret
    hit = (await search(http, "card charged"))[0]
    assert CARD not in hit["text"] and "".join(f["text"] for f in hit["snippet"]) == hit["text"]

    await chat.assign("c1", "a1")
    await chat.accepted(c.SendMessage(conversation_id="c1", client_message_id="n1", text="internal refund note",
                                      private=True, actor=agent("a1")))
    assert await search(http, "internal refund") == []


async def test_a_query_without_words_is_refused(http):
    assert (await http.post("/internal/tenants/t1/search", json={"q": " ?! "})).status_code == 422
    too_many = {"q": "x", "conversation_ids": [f"c{n}" for n in range(5001)]}
    assert (await http.post("/internal/tenants/t1/search", json=too_many)).status_code == 422
