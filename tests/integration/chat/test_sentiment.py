"""C5 against the real broker and mongod: chat's sentiment consumer reads chat.events in a consumer group of its
own, so a model that has not answered yet holds up no message (the message is stored, published and answered
meanwhile), and then publishes chat.SentimentAssessed; with the real model, an angry customer message alerts at
the default threshold and the tenant's threshold set by an admin applies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.chat.bootstrap import build
from services.chat.sentiment_cases import sentiment_group
from shared.contracts import chat as c
from shared.contracts.answers import CommandAccepted
from shared.contracts.envelope import Actor
from tests.integration.chat.conftest import answered, of

pytestmark = pytest.mark.integration
ADMIN = Actor(user_id="admin-1", role="admin")
DANA = Actor(user_id="cu-dana", role="customer")


class GatedScorer:
    """Scores only once the test opens the gate (a model that is slow, or behind)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.waiting = 0

    async def __call__(self, text: str) -> float:
        self.waiting += 1
        await self.gate.wait()
        return -0.9 if "refund" in text else 0.0


@pytest.fixture
async def gated(chat_settings) -> AsyncIterator[tuple[object, GatedScorer]]:
    scorer = GatedScorer()
    runtime, _ = build(chat_settings, sentiment_score=scorer)
    await runtime.start()
    yield runtime, scorer
    scorer.gate.set()
    await runtime.stop()


async def start(chat_commands, chat_events, tenant: str, first: str) -> None:
    env = await chat_commands.send(c.StartConversation(
        conversation_id="c1", queue_id="q1", actor=DANA, customer=c.Customer(customer_id="cu-dana", name="Dana"),
        first_message=first))
    (answer,) = await answered(chat_events, tenant, env)
    assert isinstance(answer, CommandAccepted), answer


async def test_messages_flow_while_the_sentiment_consumer_waits_in_its_own_group(
        gated, chat_settings, chat_commands, chat_events, unique):
    runtime, scorer = gated
    tenant = f"t-{unique}"
    assert f"chat.events@{sentiment_group(chat_settings.consumer_group)}" in runtime.dispatchers
    await start(chat_commands, chat_events, tenant, "Hi, where is my order?")
    for n, text in enumerate(["still nothing", "I want a refund now"], start=1):
        (answer,) = await answered(chat_events, tenant, await chat_commands.send(c.SendMessage(
            conversation_id="c1", client_message_id=f"k{n}", text=text, actor=DANA)))
        assert isinstance(answer, CommandAccepted), answer
    posted = await chat_events.wait_for(lambda envs: len(of(envs, tenant, "chat.MessagePosted")) == 3)
    assert posted and scorer.waiting >= 1  # all three messages out while the scorer still holds the first
    assert of(chat_events.envelopes, tenant, "chat.SentimentAssessed") == []
    scorer.gate.set()
    found = await chat_events.wait_for(lambda envs: (got := of(envs, tenant, "chat.SentimentAssessed"))
                                       and len(got) == 3 and got)
    assert [(e.seq, e.message_level, e.alert) for e in found] == [
        (1, "neutral", False), (2, "neutral", False), (3, "very_negative", True)]  # (0 + 0 - 2.7) / 6 = -0.45
    assert [e.conversation_level for e in found] == ["neutral", "neutral", "slightly_negative"]
    assert {e.queue_id for e in found} == {"q1"}


async def test_the_real_model_alerts_on_an_angry_customer_and_follows_the_tenants_threshold(
        chat_service, chat_commands, chat_events, unique):
    tenant = f"t-{unique}"
    (answer,) = await answered(chat_events, tenant, await chat_commands.send(
        c.ConfigureSentiment(threshold="negative", actor=ADMIN)))
    assert isinstance(answer, CommandAccepted), answer
    await start(chat_commands, chat_events, tenant, "Это безобразие! Третий раз пишу, верните деньги немедленно!")
    (assessed,) = await chat_events.wait_for(lambda envs: of(envs, tenant, "chat.SentimentAssessed"),
                                             timeout_s=90)
    assert assessed.message_level in ("very_negative", "negative"), assessed
    assert assessed.threshold == "negative" and assessed.alert is True
    await answered(chat_events, tenant, await chat_commands.send(c.SendMessage(
        conversation_id="c1", client_message_id="k1", text="What are your opening hours on Saturday?",
        actor=DANA)))
    found = await chat_events.wait_for(lambda envs: (got := of(envs, tenant, "chat.SentimentAssessed"))
                                       and len(got) == 2 and got, timeout_s=60)
    assert found[1].message_level in ("neutral", "slightly_negative", "slightly_positive"), found[1]
