"""C5 sentiment in chat, on the fakes: the seven levels, the conversation's recency-weighted level over its last
customer messages, the threshold, and the sentiment consumer through chat's real handlers (customer messages
only, a redelivery counted once, the tenant's threshold set by an admin only). The model is replaced here by a
scorer of known scores; the real model is measured by benchmarks/sentiment.py and used in the integration and
e2e tests."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest

from services.chat.domain.sentiment import (LEVELS, ConversationMood, alerts, conversation_score, level_of,
                                            rank)
from services.chat.sentiment_cases import SentimentHandlers, assessed, sentiment_group
from shared.contracts import chat as c
from shared.contracts.answers import CommandRejected
from shared.contracts.envelope import Envelope
from shared.mongo import AlreadyProcessed, consuming
from tests.unit.chat.fakes import in_memory_repositories
from tests.unit.chat.harness import ADMIN, T0, Chat, agent, customer

pytestmark = pytest.mark.unit


# --- the pure rules ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("score", "level"), [
    (-1.0, "very_negative"), (-0.84, "very_negative"), (-0.8, "negative"), (-0.5, "negative"),
    (-0.49, "slightly_negative"), (-0.17, "slightly_negative"), (-0.16, "neutral"), (0.0, "neutral"),
    (0.16, "neutral"), (0.17, "slightly_positive"), (0.5, "positive"), (0.84, "very_positive"),
    (1.0, "very_positive"), (-7.0, "very_negative"), (3.0, "very_positive")])
def test_a_score_falls_in_one_of_seven_equal_bands(score: float, level: str) -> None:
    assert level_of(score) == level


def test_levels_rank_from_minus_three_to_three() -> None:
    assert [rank(level) for level in LEVELS] == [-3, -2, -1, 0, 1, 2, 3]


def test_the_newest_messages_weigh_most_and_only_the_window_counts() -> None:
    assert conversation_score([]) == 0.0
    assert conversation_score([0.9, -0.9]) == pytest.approx((0.9 - 2 * 0.9) / 3)
    assert conversation_score([-1.0, 0.6, 0.6, 0.6, 0.6, 0.6], window=5) == pytest.approx(0.6)
    angry_then_calm = [-1.0, -1.0, -1.0, -1.0, 0.0]
    assert level_of(conversation_score(angry_then_calm)) == "negative"  # one calm message does not clear it


@pytest.mark.parametrize(("level", "threshold", "expected"), [
    ("slightly_negative", "slightly_negative", True), ("very_negative", "slightly_negative", True),
    ("neutral", "slightly_negative", False), ("negative", "very_negative", False),
    ("very_negative", "very_negative", True), ("neutral", "neutral", True)])
def test_an_alert_is_at_or_below_the_threshold(level: str, threshold: str, expected: bool) -> None:
    assert alerts(level, threshold) is expected  # type: ignore[arg-type]


def test_a_mood_counts_a_message_once_and_keeps_the_window() -> None:
    mood = ConversationMood("c1", [], [])
    assert mood.add("m1", -0.9, window=3) and not mood.add("m1", -0.9, window=3)
    for i, score in enumerate([0.1, 0.2, 0.3], start=2):
        mood.add(f"m{i}", score, window=3)
    assert mood.scores == [0.1, 0.2, 0.3] and mood.message_ids == ["m2", "m3", "m4"]


def _posted(sender: str, kind: str, *, private: bool = False, text: str = "I am angry") -> c.MessagePosted:
    return c.MessagePosted(conversation_id="c1", message_id="m1", seq=1, client_message_id=None,
                           sender=c.Sender(kind=kind, id=sender), text=text, private=private, customer_id="cu1",
                           agents=[], sent_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_only_the_customers_own_words_are_assessed() -> None:
    assert assessed(_posted("cu1", "customer"))
    assert not assessed(_posted("a1", "agent"))
    assert not assessed(_posted("a1", "agent", private=True))
    assert not assessed(_posted("system", "system"))
    assert not assessed(_posted("cu1", "customer", text="  "))


# --- the consumer through chat's real handlers -------------------------------------------------------------

SCORES = {"Hi, where is my order?": 0.0, "it is late AGAIN, this is a joke": -0.7,
          "I am furious, refund me now": -1.0, "ok thanks, that helps": 0.9}


class Scorer:
    """Known scores for known texts (and the texts it was asked about)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, text: str) -> float:
        self.asked.append(text)
        return SCORES[text]


@pytest.fixture
def chat() -> Chat:
    return Chat()


@pytest.fixture
def scorer() -> Scorer:
    return Scorer()


@pytest.fixture
def sentiment(chat: Chat, scorer: Scorer) -> SentimentHandlers:
    return SentimentHandlers(chat.uow, scorer, repositories=in_memory_repositories, clock=lambda: T0)


async def deliver(sentiment: SentimentHandlers, chat: Chat) -> None:
    """Hand every MessagePosted chat published so far to the sentiment consumer, as its group's dispatcher does."""
    for env in chat.uow.emitted("chat.events"):
        if isinstance(env.payload, c.MessagePosted):
            await deliver_one(sentiment, env)


async def deliver_one(sentiment: SentimentHandlers, env: Envelope[c.MessagePosted]) -> None:
    with consuming(f"{sentiment_group('chat')}:{env.event_id}"), contextlib.suppress(AlreadyProcessed):
        await sentiment.on_message_posted(env)  # (the dispatcher takes AlreadyProcessed as done)


async def start(chat: Chat) -> None:
    await chat.accepted(c.StartConversation(conversation_id="c1", queue_id="q1", actor=customer("cu1"),
                                            first_message="Hi, where is my order?",
                                            customer=c.Customer(customer_id="cu1", name="Ann")))


async def say(chat: Chat, text: str, n: int) -> None:
    await chat.accepted(c.SendMessage(conversation_id="c1", client_message_id=f"k{n}", text=text,
                                      actor=customer("cu1")))


async def test_each_customer_message_is_assessed_with_the_conversations_level(
        chat: Chat, sentiment: SentimentHandlers) -> None:
    await start(chat)
    await say(chat, "it is late AGAIN, this is a joke", 1)
    await say(chat, "I am furious, refund me now", 2)
    await deliver(sentiment, chat)
    got = chat.events(c.SentimentAssessed)
    assert [(e.message_level, e.conversation_level, e.alert) for e in got] == [
        ("neutral", "neutral", False),
        ("negative", "slightly_negative", True),  # (0 - 2*0.7) / 3 = -0.47
        ("very_negative", "negative", True),  # (0 - 1.4 - 3) / 6 = -0.73
    ]
    assert [e.fell for e in got] == [False, True, False]  # it fell once, then stayed below
    assert {(e.queue_id, e.threshold, e.conversation_id) for e in got} == {("q1", "slightly_negative", "c1")}
    assert [e.seq for e in got] == [1, 2, 3]


async def test_a_redelivered_message_is_counted_once(chat: Chat, sentiment: SentimentHandlers,
                                                     scorer: Scorer) -> None:
    await start(chat)
    await deliver(sentiment, chat)
    await deliver(sentiment, chat)  # the same envelopes again: the group's idempotency records drop them
    (posted,) = [e for e in chat.uow.emitted("chat.events") if isinstance(e.payload, c.MessagePosted)]
    redelivered = posted.model_copy(update={"event_id": "another-envelope-same-message"})
    await deliver_one(sentiment, redelivered)  # a second envelope of the same message: the mood drops it
    assert len(chat.events(c.SentimentAssessed)) == 1


async def test_agents_words_and_private_notes_are_not_assessed(chat: Chat, sentiment: SentimentHandlers,
                                                               scorer: Scorer) -> None:
    await start(chat)
    env = chat.uow.emitted("chat.events")[0]
    for kind, private in (("agent", False), ("agent", True), ("system", False)):
        note = _posted("a1", kind, private=private, text="I am furious, refund me now")
        await deliver_one(sentiment, env.model_copy(update={"payload": note, "event_id": f"e-{kind}-{private}"}))
    assert scorer.asked == [] and chat.events(c.SentimentAssessed) == []


async def test_the_tenants_threshold_is_set_by_an_admin_and_applies_to_what_follows(
        chat: Chat, sentiment: SentimentHandlers) -> None:
    refused = chat.answer(await chat.send(c.ConfigureSentiment(threshold="negative", actor=agent("a1"))))
    assert isinstance(refused, CommandRejected) and refused.code == "forbidden"
    await chat.accepted(c.ConfigureSentiment(threshold="very_negative", actor=ADMIN))
    assert [e.threshold for e in chat.events(c.SentimentConfigured)] == ["very_negative"]
    await start(chat)
    await say(chat, "I am furious, refund me now", 1)
    await say(chat, "I am furious, refund me now", 2)
    await deliver(sentiment, chat)
    levels = [(e.conversation_level, e.threshold, e.alert) for e in chat.events(c.SentimentAssessed)]
    assert levels == [("neutral", "very_negative", False), ("negative", "very_negative", False),
                      ("negative", "very_negative", False)]  # (0 - 2 - 3) / 6 = -0.83: negative, not very
    other_tenant = await chat.send(c.ConfigureSentiment(threshold="neutral", actor=ADMIN), tenant="t2")
    assert chat.answer(other_tenant).TYPE == "platform.CommandAccepted"


async def test_it_falls_again_after_it_recovered(chat: Chat, sentiment: SentimentHandlers) -> None:
    await start(chat)
    texts = ["I am furious, refund me now", "ok thanks, that helps", "ok thanks, that helps",
             "I am furious, refund me now", "I am furious, refund me now"]
    for n, text in enumerate(texts, start=1):
        await say(chat, text, n)
    await deliver(sentiment, chat)
    got = chat.events(c.SentimentAssessed)
    # scores 0, -1, .9, .9, -1, -1: weighted means 0, -0.67, 0.12, 0.43, -0.05, then (window 5) -0.37
    assert [(e.alert, e.fell) for e in got] == [(False, False), (True, True), (False, False), (False, False),
                                                (False, False), (True, True)]


async def test_a_run_of_waiting_messages_is_scored_then_assessed_in_one_transaction_as_one_by_one(
        chat: Chat, sentiment: SentimentHandlers, scorer: Scorer) -> None:
    """What the consumer does once it fell behind the model: the same assessments as one message at a time
    (a conversation's later message sees the mood its earlier one left in the same transaction)."""
    from shared.consumer import MessageDispatcher, Outcome, Record
    from shared.contracts.envelope import encode
    await start(chat)
    await say(chat, "it is late AGAIN, this is a joke", 1)
    await say(chat, "I am furious, refund me now", 2)
    posted = [e for e in chat.uow.emitted("chat.events") if isinstance(e.payload, c.MessagePosted)]
    letters: list[Envelope] = []

    async def sink(env: Envelope) -> None:
        letters.append(env)
    dispatcher = MessageDispatcher(group=sentiment_group("chat"), handlers={c.MessagePosted: sentiment.messages},
                                   dead_letter=sink, group_commit=chat.uow, idempotency_scope=sentiment_group("chat"))
    committed = chat.uow.stats["committed"]
    records = [Record("chat.events", 0, n, b"c1", encode(env)) for n, env in enumerate(posted)]
    assert await dispatcher.dispatch_batch(records) == [Outcome.HANDLED] * 3 and letters == []
    assert chat.uow.stats["committed"] == committed + 1 and scorer.asked == [e.payload.text for e in posted]
    got = chat.events(c.SentimentAssessed)
    assert [(e.message_level, e.conversation_level, e.alert, e.fell) for e in got] == [
        ("neutral", "neutral", False, False), ("negative", "slightly_negative", True, True),
        ("very_negative", "negative", True, False)]
    assert await dispatcher.dispatch_batch(records) == [Outcome.DUPLICATE] * 3  # redelivered: counted once
    assert len(chat.events(c.SentimentAssessed)) == 3
