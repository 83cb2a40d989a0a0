"""The read API's queries: documents as stored, straight from MongoDB (no transaction: each answer is one
read of committed data), always within one tenant."""

from __future__ import annotations

from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.chat.adapters.after_chat import MongoAfterChatQueries
from services.chat.adapters.documents import CONVERSATIONS, MESSAGES, QUEUE_SETTINGS, WRAP_UP_REASONS, doc_id

Doc = dict[str, Any]


class ChatQueries(Protocol):
    async def survey_settings(self, tenant_id: str) -> Doc | None: ...
    async def quick_replies(self, tenant_id: str, *, agent_id: str | None) -> list[Doc]: ...
    async def conversation(self, tenant_id: str, conversation_id: str) -> Doc | None: ...
    async def messages(self, tenant_id: str, conversation_id: str, *, after_seq: int, limit: int,
                       include_private: bool) -> list[Doc]: ...
    async def conversations(self, tenant_id: str, *, agent_id: str | None, state: str | None,
                            customer_id: str | None, limit: int) -> list[Doc]: ...
    async def queue_settings(self, tenant_id: str, queue_id: str) -> Doc | None: ...
    async def wrap_up_reasons(self, tenant_id: str) -> Doc | None: ...


def conversations_filter(tenant_id: str, *, agent_id: str | None, state: str | None,
                         customer_id: str | None) -> Doc:
    """An agent's conversations are those it works now, and the closed ones it held last."""
    query: Doc = {"tenant_id": tenant_id}
    if state is not None:
        query["state"] = state
    if customer_id is not None:
        query["customer.customer_id"] = customer_id
    if agent_id is not None:
        if state == "closed":
            query["assignee"] = agent_id
        elif state is not None:
            query["agents"] = agent_id
        else:
            query["$or"] = [{"agents": agent_id}, {"state": "closed", "assignee": agent_id}]
    return query


class MongoChatQueries(MongoAfterChatQueries):
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db

    async def conversation(self, tenant_id: str, conversation_id: str) -> Doc | None:
        return await self._db[CONVERSATIONS].find_one({"_id": doc_id(tenant_id, conversation_id)})

    async def messages(self, tenant_id: str, conversation_id: str, *, after_seq: int, limit: int,
                       include_private: bool) -> list[Doc]:
        query: Doc = {"tenant_id": tenant_id, "conversation_id": conversation_id, "seq": {"$gt": after_seq}}
        if not include_private:
            query["private"] = False
        return await self._db[MESSAGES].find(query).sort("seq", ASCENDING).limit(limit).to_list()

    async def conversations(self, tenant_id: str, *, agent_id: str | None, state: str | None,
                            customer_id: str | None, limit: int) -> list[Doc]:
        query = conversations_filter(tenant_id, agent_id=agent_id, state=state, customer_id=customer_id)
        return await self._db[CONVERSATIONS].find(query).sort("updated_at", DESCENDING).limit(limit).to_list()

    async def queue_settings(self, tenant_id: str, queue_id: str) -> Doc | None:
        return await self._db[QUEUE_SETTINGS].find_one({"_id": doc_id(tenant_id, queue_id)})

    async def wrap_up_reasons(self, tenant_id: str) -> Doc | None:
        return await self._db[WRAP_UP_REASONS].find_one({"_id": tenant_id})
