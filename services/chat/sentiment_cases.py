"""Sentiment (C5): each customer message of chat.events (MessagePosted from a customer, not private) is scored,
and the conversation's level over its last customer messages is published as chat.SentimentAssessed, with an
alert when it is at or below the tenant's threshold. Runs in a consumer group of its own on chat.events (chat-sentiment)
(entrypoints/kafka.py), so it may fall behind without holding up messages; the score is computed before the
transaction (the model runs in a low-priority child process; a run of waiting messages is scored, then assessed
in one transaction), and the conversation's scores, the event and the consumed
message's id are written together, so a redelivery counts nothing twice.

Also the use case of ConfigureSentiment (registered into use_cases.py's USE_CASES from SENTIMENT_USE_CASES)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from services.chat.context import ChatRepositories, UseCaseContext
from services.chat.domain.access import check_admin
from services.chat.domain.sentiment import DEFAULT_WINDOW, alerts, level_of
from shared.commands import Publisher
from shared.consumer import Prepared
from shared.contracts import chat as c
from shared.contracts.catalogue import CHAT_EVENTS
from shared.contracts.envelope import Envelope, Message
from shared.logging import get_logger
from shared.mongo import MongoUnitOfWork, millisecond_clock

log = get_logger(__name__)


def sentiment_group(service_group: str) -> str:
    """The sentiment consumer's own group beside the service's (chat-sentiment for chat)."""
    return f"{service_group}-sentiment"

Score = Callable[[str], Awaitable[float]]


def assessed(message: c.MessagePosted) -> bool:
    """Whether a message is scored: the customer's own words (not agents', bots', system lines or notes)."""
    return message.sender.kind == "customer" and not message.private and bool(message.text.strip())


class SentimentHandlers:
    """`score` is the model adapter's (adapters/sentiment_model.py); tests may hand in another scorer."""

    def __init__(self, uow: MongoUnitOfWork | Any, score: Score, *,
                 repositories: Callable[[Any, str], ChatRepositories], window: int = DEFAULT_WINDOW,
                 clock: Callable[[], datetime] = millisecond_clock, producer: str = "chat") -> None:
        self.uow, self.score, self.repositories = uow, score, repositories
        self.window, self.clock = window, clock
        self.events = Publisher(CHAT_EVENTS.name, producer)

    @property
    def messages(self) -> Prepared:
        """What the consumer calls: the model scores each message first, outside any transaction (a slow model
        holds no locks); then a message's assessment, or a run's together (group commit: a consumer that fell
        behind the model catches up in few transactions, and publishes their events in one relay pass)."""
        return Prepared(self.scored, self.assess)

    async def on_message_posted(self, env: Envelope[c.MessagePosted]) -> None:
        """One message, scored and assessed."""
        await self.assess(env, await self.scored(env))

    async def scored(self, env: Envelope[c.MessagePosted]) -> float | None:
        """The message's score (None: not assessed)."""
        return await self.score(env.payload.text) if assessed(env.payload) else None

    async def assess(self, env: Envelope[c.MessagePosted], score: float | None) -> None:
        message = env.payload
        if score is None:
            return

        async def work(tx: Any) -> None:
            repos = self.repositories(tx, env.tenant_id)
            mood, version = await repos.sentiment.mood(message.conversation_id)
            before = mood.level(self.window) if mood.scores else None
            if not mood.add(message.message_id, score, self.window):
                return
            conversation = await repos.conversations.get(message.conversation_id)
            threshold = await repos.sentiment.threshold()
            level = mood.level(self.window)
            alert = alerts(level, threshold)
            await repos.sentiment.save_mood(mood, version)
            self.events.emit(tx, env.tenant_id, [c.SentimentAssessed(
                conversation_id=message.conversation_id, message_id=message.message_id, seq=message.seq,
                message_level=level_of(score), message_score=round(max(-1.0, min(1.0, score)), 4),
                conversation_level=level, threshold=threshold, alert=alert,
                fell=alert and (before is None or not alerts(before, threshold)),
                queue_id=conversation.queue_id if conversation else "", agents=list(message.agents),
                at=self.clock())], env)
            log.info("sentiment assessed", conversation_id=message.conversation_id, message_level=level_of(score),
                     conversation_level=level, alert=alert)

        await self.uow.run(work)


async def configure_sentiment(ctx: UseCaseContext, cmd: c.ConfigureSentiment) -> str:
    """Replace the tenant's alert threshold (admin); it applies to messages assessed from now on."""
    check_admin(ctx.actor, action="configure sentiment alerts")
    await ctx.repos.sentiment.save_threshold(cmd.threshold)
    ctx.outcome.append(c.SentimentConfigured(threshold=cmd.threshold))
    return cmd.setting_id


SENTIMENT_USE_CASES: dict[type[Message], Callable[[UseCaseContext, Any], Awaitable[str | None]]] = {
    c.ConfigureSentiment: configure_sentiment,
}
