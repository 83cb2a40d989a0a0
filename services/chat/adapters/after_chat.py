"""MongoDB storage of the tenant's survey setting and of quick replies (collections `survey_settings`, one
document per tenant, and `quick_replies`), in the unit of work's transaction, and the read API's queries."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.chat.domain.quick_replies import QuickReply
from services.chat.domain.survey import SurveySettings
from shared.mongo import Transaction

SURVEY_SETTINGS, QUICK_REPLIES = "survey_settings", "quick_replies"
Doc = dict[str, Any]


def survey_to_doc(tenant_id: str, s: SurveySettings) -> Doc:
    return {"_id": tenant_id, "tenant_id": tenant_id, "enabled": s.enabled, "question": s.question}


def survey_from_doc(doc: Doc | None) -> SurveySettings:
    if doc is None:
        return SurveySettings()
    return SurveySettings(enabled=doc["enabled"], question=doc["question"], configured=True)


def reply_id(tenant_id: str, name: str, owner: str | None) -> str:
    return f"{tenant_id}|{'agent|' + owner if owner is not None else 'tenant'}|{name}"


def reply_to_doc(tenant_id: str, r: QuickReply) -> Doc:
    return {"_id": reply_id(tenant_id, r.name, r.owner), "tenant_id": tenant_id, "name": r.name, "scope": r.scope,
            "owner": r.owner, "text": r.text}


def reply_from_doc(doc: Doc) -> QuickReply:
    return QuickReply(name=doc["name"], scope=doc["scope"], owner=doc["owner"], text=doc["text"])


def replies_filter(tenant_id: str, agent_id: str | None) -> Doc:
    """The tenant's replies, and the agent's own when an agent is named."""
    owners: list[str | None] = [None] if agent_id is None else [None, agent_id]
    return {"tenant_id": tenant_id, "owner": {"$in": owners}}


async def ensure_after_chat_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[QUICK_REPLIES].create_index([("tenant_id", ASCENDING), ("owner", ASCENDING), ("name", ASCENDING)],
                                         name="by_owner")


class MongoAfterChat:
    """The survey setting and quick replies of one tenant, inside the transaction."""

    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self._db = tx.db
        self._s = tx.session
        self.tenant_id = tenant_id

    async def survey(self) -> SurveySettings:
        return survey_from_doc(await self._db[SURVEY_SETTINGS].find_one({"_id": self.tenant_id}, session=self._s))

    async def save_survey(self, settings: SurveySettings) -> None:
        doc = survey_to_doc(self.tenant_id, settings)
        await self._db[SURVEY_SETTINGS].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=self._s)

    async def reply(self, name: str, owner: str | None) -> QuickReply | None:
        doc = await self._db[QUICK_REPLIES].find_one({"_id": reply_id(self.tenant_id, name, owner)}, session=self._s)
        return reply_from_doc(doc) if doc else None

    async def save_reply(self, reply: QuickReply) -> None:
        doc = reply_to_doc(self.tenant_id, reply)
        await self._db[QUICK_REPLIES].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=self._s)

    async def remove_reply(self, name: str, owner: str | None) -> bool:
        removed = await self._db[QUICK_REPLIES].delete_one({"_id": reply_id(self.tenant_id, name, owner)},
                                                           session=self._s)
        return removed.deleted_count == 1


class MongoAfterChatQueries:
    """The read API's queries (mixed into adapters/queries.py's MongoChatQueries, which sets `_db`)."""

    _db: AsyncDatabase[Doc]

    async def survey_settings(self, tenant_id: str) -> Doc | None:
        return await self._db[SURVEY_SETTINGS].find_one({"_id": tenant_id})

    async def quick_replies(self, tenant_id: str, *, agent_id: str | None) -> list[Doc]:
        return await self._db[QUICK_REPLIES].find(replies_filter(tenant_id, agent_id)).sort(
            "name", ASCENDING).to_list()
