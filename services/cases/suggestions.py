"""Suggested answers (K4): for each customer message, the best three published articles, published as
cases.AnswersSuggested for the agents working the conversation (the gateway pushes them as a frame).

It runs in a consumer group of its own (entrypoints/suggestions.py): when it falls behind, chat's events still
reach cases' other work at once. How far behind it is: `SuggestionStats` (the read API's
/internal/knowledge/suggestions, and a log line every 30 s).

A message older than `max_age_s` when reached (after an outage, or a backlog) is skipped: the agent has answered
it by then, and working through old ones would only delay the suggestions for the messages being written now.
The conversation's visitor language (chat.ConversationStarted) picks the text index's stemming; without it,
a guess from the message."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.cases.adapters.articles import LANGUAGES, doc_id
from services.cases.adapters.retrieval import Retriever
from services.cases.domain.knowledge import stale
from shared.commands import Publisher
from shared.consumer import alone
from shared.contracts import chat
from shared.contracts.cases.knowledge import AnswersSuggested, Suggestion, SuggestionLag
from shared.contracts.catalogue import CASES_EVENTS
from shared.contracts.envelope import Envelope
from shared.logging import get_logger
from shared.mongo import millisecond_clock

log = get_logger(__name__)
SUGGESTED = 3
SHOWING_KEPT = 10_000  # conversations whose last suggestion list (empty or not) this process remembers
WINDOW_S = 60.0


class SuggestionStats:
    """What this instance's suggestions consumer did, and its lag (suggestion time - message sent_at)."""

    def __init__(self, group: str, max_age_s: float) -> None:
        self.group = group
        self.max_age_s = max_age_s
        self.handled = self.skipped_stale = self.ignored = 0
        self.last_lag_ms: float | None = None
        self.last_sent_at: datetime | None = None
        self._recent: deque[tuple[float, float]] = deque()  # (monotonic time, lag ms)

    def record(self, sent_at: datetime, at: datetime) -> None:
        self.handled += 1
        self.last_lag_ms = (at - sent_at).total_seconds() * 1000
        self.last_sent_at = sent_at
        now = time.monotonic()
        self._recent.append((now, self.last_lag_ms))
        while self._recent and self._recent[0][0] < now - WINDOW_S:
            self._recent.popleft()

    def view(self) -> SuggestionLag:
        now = time.monotonic()
        lags = sorted(lag for t, lag in self._recent if t >= now - WINDOW_S)
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else None
        return SuggestionLag(group=self.group, handled=self.handled, skipped_stale=self.skipped_stale,
                             ignored=self.ignored, last_lag_ms=self.last_lag_ms, last_message_sent_at=self.last_sent_at,
                             lag_p50_ms=statistics.median(lags) if lags else None, lag_p99_ms=p99,
                             lag_max_ms=lags[-1] if lags else None, max_age_s=self.max_age_s)


class Suggester:
    """The suggestions consumer's handlers (chat.ConversationStarted, chat.MessagePosted)."""

    def __init__(self, uow: Any, retriever: Retriever, *, group: str, max_age_s: float = 60.0,
                 producer: str = "cases", clock: Callable[[], datetime] = millisecond_clock) -> None:
        self.uow = uow
        self.retriever = retriever
        self.clock = clock
        self.events = Publisher(CASES_EVENTS.name, producer)
        self.stats = SuggestionStats(group, max_age_s)
        # conversation -> whether its agents were last sent suggestions (False: an empty list); only this
        # process's recent ones: one not known gets its empty list (at worst one event too many after a restart)
        self._showing: OrderedDict[tuple[str, str], bool] = OrderedDict()

    async def on_conversation_started(self, env: Envelope[Any]) -> None:
        """Remember the visitor's language, for the messages to come."""
        e: chat.ConversationStarted = env.payload
        language = (e.context.visitor.language or "").split("-")[0].lower() or None
        if language is None:
            return

        async def work(tx: Any) -> None:
            key = doc_id(env.tenant_id, e.conversation_id)
            known = await tx.load(LANGUAGES, key)
            await tx.put(LANGUAGES, {"_id": key, "tenant_id": env.tenant_id, "language": language,
                                     "at": self.clock(), "version": (known["version"] if known else 0) + 1},
                         read_version=known["version"] if known else None)

        await self.uow.run(work)

    @alone  # retrieval before the transaction, and what was shown kept in memory
    async def on_message_posted(self, env: Envelope[Any]) -> None:
        e: chat.MessagePosted = env.payload
        if e.sender.kind != "customer" or e.private or not e.agents or not e.text.strip():
            self.stats.ignored += 1
            return
        if stale(e.sent_at, self.clock(), self.stats.max_age_s):
            self.stats.skipped_stale += 1
            log.info("suggestions skipped: message too old", message_id=e.message_id, sent_at=e.sent_at.isoformat())
            return
        language = await self.retriever.conversation_language(env.tenant_id, e.conversation_id)
        hits = await self.retriever.search(env.tenant_id, e.text, language=language, limit=SUGGESTED)
        key = (env.tenant_id, e.conversation_id)
        if not hits and self._showing.get(key) is False:
            self.stats.ignored += 1  # nothing to suggest and nothing shown: an empty event would change nothing
            return
        self._showing[key] = bool(hits)
        self._showing.move_to_end(key)
        while len(self._showing) > SHOWING_KEPT:
            self._showing.popitem(last=False)
        at = self.clock()
        event = AnswersSuggested(conversation_id=e.conversation_id, message_id=e.message_id, agents=e.agents,
                                 suggestions=[Suggestion(article_id=h.article_id, title=h.title, snippet=h.snippet,
                                                         text=h.text, score=h.score) for h in hits],
                                 message_sent_at=e.sent_at, at=at)

        async def work(tx: Any) -> None:
            self.events.emit(tx, env.tenant_id, [event], env)

        await self.uow.run(work)  # with the record that this group handled the message: published once
        self.stats.record(e.sent_at, at)

    async def report(self, every_s: float = 30.0) -> None:
        """A log line with the lag, for operators (and for reading a benchmark run)."""
        while True:
            await asyncio.sleep(every_s)
            view = self.stats.view()
            if view.handled or view.skipped_stale:
                log.info("suggestions lag", **view.model_dump(mode="json"))
