"""Chat's MongoDB repositories, one per aggregate (conversations, messages, settings), each working in
one tenant inside the unit of work's transaction, and the indexes they need.

A conversation is saved version-checked: a document changed since it was read raises ConcurrencyConflict
and the unit of work runs again on fresh data. Its message counter lives on it, so two concurrent sends
can never take the same sequence number; the unique (conversation, seq) index backs that up."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.chat.adapters.documents import (CONVERSATIONS, MESSAGES, QUEUE_SETTINGS, WRAP_UP_REASONS,
                                              conversation_from_doc, conversation_to_doc, doc_id, message_from_doc,
                                              message_to_doc, queue_settings_from_doc, queue_settings_to_doc,
                                              reasons_from_doc, reasons_to_doc)
from services.chat.adapters.after_chat import MongoAfterChat
from services.chat.adapters.blobs import MongoAttachments
from services.chat.adapters.erasure import TransactionErasureStore
from services.chat.adapters.masking import TransactionMaskingStore
from services.chat.adapters.sentiment import TransactionSentimentStore
from services.chat.context import ChatRepositories
from services.chat.domain.conversation import Conversation
from services.chat.domain.messages import Message
from services.chat.domain.settings import QueueChatSettings
from shared.contracts.chat.common import Sender, WrapUpReason
from shared.mongo import ConcurrencyConflict, Transaction


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    conversations, messages = db[CONVERSATIONS], db[MESSAGES]
    await conversations.create_index([("tenant_id", ASCENDING), ("agents", ASCENDING), ("state", ASCENDING),
                                      ("updated_at", DESCENDING)], name="worked_by")
    await conversations.create_index([("tenant_id", ASCENDING), ("assignee", ASCENDING), ("state", ASCENDING),
                                      ("updated_at", DESCENDING)], name="closed_by")
    await conversations.create_index([("tenant_id", ASCENDING), ("customer.customer_id", ASCENDING),
                                      ("updated_at", DESCENDING)], name="of_customer")
    await conversations.create_index([("tenant_id", ASCENDING), ("state", ASCENDING), ("updated_at", DESCENDING)],
                                     name="in_state")
    await messages.create_index([("tenant_id", ASCENDING), ("conversation_id", ASCENDING), ("seq", ASCENDING)],
                                name="in_order", unique=True)
    await messages.create_index([("tenant_id", ASCENDING), ("conversation_id", ASCENDING), ("sender.kind", ASCENDING),
                                 ("sender.id", ASCENDING), ("client_message_id", ASCENDING)],
                                name="client_message_id", unique=True,
                                partialFilterExpression={"client_message_id": {"$type": "string"}})


class MongoConversations:
    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self._coll = tx.db[CONVERSATIONS]
        self._s = tx.session
        self.tenant_id = tenant_id
        self._versions: dict[str, int] = {}

    async def get(self, conversation_id: str) -> Conversation | None:
        doc = await self._coll.find_one({"_id": doc_id(self.tenant_id, conversation_id)}, session=self._s)
        if doc is None:
            return None
        self._versions[conversation_id] = doc["version"]
        return conversation_from_doc(doc)

    async def save(self, conversation: Conversation) -> None:
        """Insert a new conversation or replace the version read; either fails if another did it first."""
        read = self._versions.get(conversation.conversation_id)
        conversation.version = (read or 0) + 1
        doc = conversation_to_doc(self.tenant_id, conversation)
        try:
            if read is None:
                await self._coll.insert_one(doc, session=self._s)
            elif (await self._coll.replace_one({"_id": doc["_id"], "version": read}, doc,
                                               session=self._s)).matched_count != 1:
                raise ConcurrencyConflict(f"conversation {conversation.conversation_id} changed since it was read")
        except DuplicateKeyError:
            raise ConcurrencyConflict(f"conversation {conversation.conversation_id} created concurrently") from None
        self._versions[conversation.conversation_id] = conversation.version

    async def open_of_customer(self, customer_id: str) -> list[str]:
        """The ids of the customer's conversations not closed yet (index of_customer)."""
        found = self._coll.find({"tenant_id": self.tenant_id, "customer.customer_id": customer_id,
                                 "state": {"$ne": "closed"}}, {"conversation_id": 1}, session=self._s)
        return [doc["conversation_id"] async for doc in found]


class MongoMessages:
    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self._coll = tx.db[MESSAGES]
        self._s = tx.session
        self.tenant_id = tenant_id

    async def add(self, message: Message) -> None:
        try:
            await self._coll.insert_one(message_to_doc(self.tenant_id, message), session=self._s)
        except DuplicateKeyError:
            raise ConcurrencyConflict(f"message {message.seq} of {message.conversation_id} stored concurrently") \
                from None

    async def by_client_id(self, conversation_id: str, sender: Sender, client_message_id: str) -> Message | None:
        doc = await self._coll.find_one({"tenant_id": self.tenant_id, "conversation_id": conversation_id,
                                         "sender.kind": sender.kind, "sender.id": sender.id,
                                         "client_message_id": client_message_id}, session=self._s)
        return message_from_doc(doc) if doc else None

    async def count_unread(self, conversation_id: str, reader: Sender, *, after_seq: int) -> int:
        """Messages after `after_seq` from others (notes not counted for the customer)."""
        query: dict[str, Any] = {"tenant_id": self.tenant_id, "conversation_id": conversation_id,
                                 "seq": {"$gt": after_seq},
                                 "$nor": [{"sender.kind": reader.kind, "sender.id": reader.id}]}
        if reader.kind == "customer":
            query["private"] = False
        return await self._coll.count_documents(query, session=self._s)


class MongoSettings:
    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self._db = tx.db
        self._s = tx.session
        self.tenant_id = tenant_id

    async def queue(self, queue_id: str) -> QueueChatSettings:
        doc = await self._db[QUEUE_SETTINGS].find_one({"_id": doc_id(self.tenant_id, queue_id)}, session=self._s)
        return queue_settings_from_doc(queue_id, doc)

    async def save_queue(self, settings: QueueChatSettings) -> None:
        doc = queue_settings_to_doc(self.tenant_id, settings)
        await self._db[QUEUE_SETTINGS].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=self._s)

    async def reasons(self) -> list[WrapUpReason]:
        return reasons_from_doc(await self._db[WRAP_UP_REASONS].find_one({"_id": self.tenant_id}, session=self._s))

    async def save_reasons(self, reasons: list[WrapUpReason]) -> None:
        doc = reasons_to_doc(self.tenant_id, reasons)
        await self._db[WRAP_UP_REASONS].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=self._s)


def mongo_repositories(tx: Transaction, tenant_id: str) -> ChatRepositories:
    return ChatRepositories(MongoConversations(tx, tenant_id), MongoMessages(tx, tenant_id),
                            MongoSettings(tx, tenant_id), MongoAfterChat(tx, tenant_id),
                            attachments=MongoAttachments(tx, tenant_id),
                            masking=TransactionMaskingStore(tx, tenant_id),
                            erasure=TransactionErasureStore(tx, tenant_id),
                            sentiment=TransactionSentimentStore(tx, tenant_id))
