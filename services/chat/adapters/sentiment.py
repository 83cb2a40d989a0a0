"""Sentiment's storage (C5): the tenant's alert threshold (`sentiment_settings`, one document per tenant) and
each conversation's last customer message scores (`sentiment_moods`), through the unit of work's generic
document API (load, put), so MongoDB and the in-memory fakes run the same code."""

from __future__ import annotations

from typing import Any

from services.chat.adapters.documents import doc_id
from services.chat.domain.sentiment import DEFAULT_THRESHOLD, ConversationMood, Level

SENTIMENT_SETTINGS, SENTIMENT_MOODS = "sentiment_settings", "sentiment_moods"
Doc = dict[str, Any]


class TransactionSentimentStore:
    """One tenant's threshold and moods inside one unit of work (MongoDB's Transaction or the fake's)."""

    def __init__(self, tx: Any, tenant_id: str) -> None:
        self._tx = tx
        self.tenant_id = tenant_id

    async def threshold(self) -> Level:
        doc = await self._tx.load(SENTIMENT_SETTINGS, self.tenant_id)
        return doc["threshold"] if doc else DEFAULT_THRESHOLD

    async def save_threshold(self, threshold: Level) -> None:
        stored = await self._tx.load(SENTIMENT_SETTINGS, self.tenant_id)
        read = stored["version"] if stored else None
        await self._tx.put(SENTIMENT_SETTINGS, {"_id": self.tenant_id, "tenant_id": self.tenant_id,
                                                "threshold": threshold, "version": (read or 0) + 1},
                           read_version=read)

    async def mood(self, conversation_id: str) -> tuple[ConversationMood, int | None]:
        """The conversation's mood and the version read (None: none yet)."""
        doc = await self._tx.load(SENTIMENT_MOODS, doc_id(self.tenant_id, conversation_id))
        if doc is None:
            return ConversationMood(conversation_id, [], []), None
        return ConversationMood(conversation_id, list(doc["scores"]), list(doc["message_ids"])), doc["version"]

    async def save_mood(self, mood: ConversationMood, read_version: int | None) -> None:
        """Version-checked: two instances assessing the same conversation at once cannot both win."""
        await self._tx.put(SENTIMENT_MOODS, {"_id": doc_id(self.tenant_id, mood.conversation_id),
                                             "tenant_id": self.tenant_id, "conversation_id": mood.conversation_id,
                                             "scores": mood.scores, "message_ids": mood.message_ids,
                                             "version": (read_version or 0) + 1}, read_version=read_version)
