"""Chat's storage adapters over shared/testing/fakes.py's FakeUnitOfWork, for use-case and read API tests.

Documents are the same as in MongoDB (services/chat/adapters/documents.py), a conversation's save is
version-checked the same way, and the read queries answer from the committed documents."""

from __future__ import annotations

from typing import Any

from services.chat.adapters.documents import (CONVERSATIONS, MESSAGES, QUEUE_SETTINGS, WRAP_UP_REASONS,
                                              conversation_from_doc, conversation_to_doc, doc_id, message_from_doc,
                                              message_to_doc, queue_settings_from_doc, queue_settings_to_doc,
                                              reasons_from_doc, reasons_to_doc)
from services.chat.adapters.erasure import TransactionErasureStore
from services.chat.adapters.masking import TransactionMaskingStore
from services.chat.adapters.sentiment import TransactionSentimentStore
from services.chat.context import ChatRepositories
from services.chat.domain.conversation import Conversation
from services.chat.domain.messages import Message
from services.chat.domain.settings import QueueChatSettings
from shared.contracts.chat.common import Sender, WrapUpReason
from shared.mongo import ConcurrencyConflict
from shared.testing.fakes import FakeTransaction, FakeUnitOfWork
from tests.unit.chat.fakes_after_chat import InMemoryAfterChat, InMemoryAfterChatQueries
from tests.unit.chat.fakes_attachments import InMemoryAttachments

Doc = dict[str, Any]


class InMemoryConversations:
    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:
        self._docs = tx.collection(CONVERSATIONS)
        self.tenant_id = tenant_id
        self._versions: dict[str, int] = {}

    async def get(self, conversation_id: str) -> Conversation | None:
        doc = self._docs.get(doc_id(self.tenant_id, conversation_id))
        if doc is None:
            return None
        self._versions[conversation_id] = doc["version"]
        return conversation_from_doc(doc)

    async def save(self, conversation: Conversation) -> None:
        key = doc_id(self.tenant_id, conversation.conversation_id)
        read = self._versions.get(conversation.conversation_id)
        stored = self._docs.get(key)
        if (stored["version"] if stored else None) != read:
            raise ConcurrencyConflict(f"conversation {conversation.conversation_id} changed since it was read")
        conversation.version = (read or 0) + 1
        self._docs[key] = conversation_to_doc(self.tenant_id, conversation)
        self._versions[conversation.conversation_id] = conversation.version

    async def open_of_customer(self, customer_id: str) -> list[str]:
        return [d["conversation_id"] for d in self._docs.values() if d["tenant_id"] == self.tenant_id
                and d["customer"]["customer_id"] == customer_id and d["state"] != "closed"]


class InMemoryMessages:
    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:
        self._docs = tx.collection(MESSAGES)
        self.tenant_id = tenant_id

    def _of(self, conversation_id: str) -> list[Doc]:
        return [d for d in self._docs.values()
                if d["tenant_id"] == self.tenant_id and d["conversation_id"] == conversation_id]

    async def add(self, message: Message) -> None:
        taken = {(d["seq"]) for d in self._of(message.conversation_id)}
        if message.seq in taken:  # the unique (conversation, seq) index
            raise ConcurrencyConflict(f"message {message.seq} of {message.conversation_id} stored concurrently")
        doc = message_to_doc(self.tenant_id, message)
        self._docs[doc["_id"]] = doc

    async def by_client_id(self, conversation_id: str, sender: Sender, client_message_id: str) -> Message | None:
        for d in self._of(conversation_id):
            if d["sender"] == sender.model_dump() and d["client_message_id"] == client_message_id:
                return message_from_doc(d)
        return None

    async def count_unread(self, conversation_id: str, reader: Sender, *, after_seq: int) -> int:
        return sum(1 for d in self._of(conversation_id) if d["seq"] > after_seq and d["sender"] != reader.model_dump()
                   and not (reader.kind == "customer" and d["private"]))


class InMemorySettings:
    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:
        self._tx = tx
        self.tenant_id = tenant_id

    async def queue(self, queue_id: str) -> QueueChatSettings:
        return queue_settings_from_doc(queue_id, self._tx.collection(QUEUE_SETTINGS).get(doc_id(self.tenant_id,
                                                                                                 queue_id)))

    async def save_queue(self, settings: QueueChatSettings) -> None:
        doc = queue_settings_to_doc(self.tenant_id, settings)
        self._tx.collection(QUEUE_SETTINGS)[doc["_id"]] = doc

    async def reasons(self) -> list[WrapUpReason]:
        return reasons_from_doc(self._tx.collection(WRAP_UP_REASONS).get(self.tenant_id))

    async def save_reasons(self, reasons: list[WrapUpReason]) -> None:
        doc = reasons_to_doc(self.tenant_id, reasons)
        self._tx.collection(WRAP_UP_REASONS)[doc["_id"]] = doc


def in_memory_repositories(tx: FakeTransaction, tenant_id: str) -> ChatRepositories:
    return ChatRepositories(InMemoryConversations(tx, tenant_id), InMemoryMessages(tx, tenant_id),
                            InMemorySettings(tx, tenant_id), InMemoryAfterChat(tx, tenant_id),
                            attachments=InMemoryAttachments(tx, tenant_id),
                            masking=TransactionMaskingStore(tx, tenant_id),
                            erasure=TransactionErasureStore(tx, tenant_id),
                            sentiment=TransactionSentimentStore(tx, tenant_id))


class InMemoryChatQueries(InMemoryAfterChatQueries):
    """services/chat/adapters/queries.py's queries over the fake unit of work's committed documents."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def _coll(self, name: str) -> dict[str, Doc]:
        return self._uow.docs.get(name, {})

    async def conversation(self, tenant_id: str, conversation_id: str) -> Doc | None:
        return self._coll(CONVERSATIONS).get(doc_id(tenant_id, conversation_id))

    async def messages(self, tenant_id: str, conversation_id: str, *, after_seq: int, limit: int,
                       include_private: bool) -> list[Doc]:
        found = [d for d in self._coll(MESSAGES).values() if d["tenant_id"] == tenant_id
                 and d["conversation_id"] == conversation_id and d["seq"] > after_seq
                 and (include_private or not d["private"])]
        return sorted(found, key=lambda d: d["seq"])[:limit]

    async def conversations(self, tenant_id: str, *, agent_id: str | None, state: str | None,
                            customer_id: str | None, limit: int) -> list[Doc]:
        def wanted(d: Doc) -> bool:
            if d["tenant_id"] != tenant_id or (state is not None and d["state"] != state):
                return False
            if customer_id is not None and d["customer"]["customer_id"] != customer_id:
                return False
            if agent_id is None:
                return True
            return agent_id in d["agents"] or (d["state"] == "closed" and d["assignee"] == agent_id)
        found = [d for d in self._coll(CONVERSATIONS).values() if wanted(d)]
        return sorted(found, key=lambda d: d["updated_at"], reverse=True)[:limit]

    async def queue_settings(self, tenant_id: str, queue_id: str) -> Doc | None:
        return self._coll(QUEUE_SETTINGS).get(doc_id(tenant_id, queue_id))

    async def wrap_up_reasons(self, tenant_id: str) -> Doc | None:
        return self._coll(WRAP_UP_REASONS).get(tenant_id)
