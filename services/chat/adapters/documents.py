"""Chat entities <-> MongoDB documents (the in-memory fakes of the unit tests store the same documents).
Ids are prefixed with the tenant, so tenants never collide; every document also carries tenant_id."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from services.chat.domain.conversation import Conversation
from services.chat.domain.lifecycle import State
from services.chat.domain.messages import Message
from services.chat.domain.search import terms
from services.chat.domain.settings import QueueChatSettings
from shared.contracts.chat.attachments import AttachmentInfo
from shared.contracts.chat.common import Context, Customer, OperatingHours, Sender, WrapUpReason

CONVERSATIONS, MESSAGES, QUEUE_SETTINGS, WRAP_UP_REASONS = "conversations", "messages", "queue_settings", \
    "wrap_up_reasons"
_NOT_STORED = {"new_messages"}


def doc_id(tenant_id: str, entity_id: str) -> str:
    return f"{tenant_id}|{entity_id}"


def conversation_to_doc(tenant_id: str, c: Conversation) -> dict[str, Any]:
    body = {f.name: getattr(c, f.name) for f in fields(c) if f.name not in _NOT_STORED}
    body.update(customer=c.customer.model_dump(), context=c.context.model_dump(), state=c.state.value,
                members=list(c.members), skills=dict(c.skills), agent_read=dict(c.agent_read), unread=dict(c.unread),
                agents=c.agents)  # agents: stored for "which conversations does agent X work?" queries
    return {"_id": doc_id(tenant_id, c.conversation_id), "tenant_id": tenant_id, **body}


def conversation_from_doc(doc: dict[str, Any]) -> Conversation:
    values = {f.name: doc[f.name] for f in fields(Conversation) if f.name in doc and f.name not in _NOT_STORED}
    values.update(customer=Customer.model_validate(doc["customer"]), context=Context.model_validate(doc["context"]),
                  state=State(doc["state"]))
    return Conversation(**values)


def message_to_doc(tenant_id: str, m: Message) -> dict[str, Any]:
    return {"_id": doc_id(tenant_id, m.message_id), "tenant_id": tenant_id, "conversation_id": m.conversation_id,
            "message_id": m.message_id, "seq": m.seq, "sender": m.sender.model_dump(), "text": m.text,
            "terms": terms(m.text),  # history search's words index (C6): the masked text's, never an original's
            "private": m.private, "client_message_id": m.client_message_id, "sent_at": m.sent_at,
            "attachments": [a.model_dump() for a in m.attachments]}


def message_from_doc(doc: dict[str, Any]) -> Message:
    return Message(message_id=doc["message_id"], conversation_id=doc["conversation_id"], seq=doc["seq"],
                   sender=Sender.model_validate(doc["sender"]), text=doc["text"], private=doc["private"],
                   client_message_id=doc["client_message_id"], sent_at=doc["sent_at"],
                   attachments=tuple(AttachmentInfo.model_validate(a) for a in doc.get("attachments", ())))


def queue_settings_to_doc(tenant_id: str, s: QueueChatSettings) -> dict[str, Any]:
    return {"_id": doc_id(tenant_id, s.queue_id), "tenant_id": tenant_id, "queue_id": s.queue_id,
            "wrap_up_required": s.wrap_up_required, "persistent": s.persistent,
            "operating_hours": s.operating_hours.model_dump(mode="json") if s.operating_hours else None,
            "offline_messages": s.offline_messages}


def queue_settings_from_doc(queue_id: str, doc: dict[str, Any] | None) -> QueueChatSettings:
    if doc is None:
        return QueueChatSettings(queue_id=queue_id)
    return QueueChatSettings(queue_id=queue_id, wrap_up_required=doc["wrap_up_required"],
                             persistent=doc["persistent"], configured=True,
                             operating_hours=OperatingHours.model_validate(doc["operating_hours"])
                             if doc.get("operating_hours") else None,
                             offline_messages=doc.get("offline_messages", True))


def reasons_to_doc(tenant_id: str, reasons: list[WrapUpReason]) -> dict[str, Any]:
    return {"_id": tenant_id, "tenant_id": tenant_id, "reasons": [r.model_dump() for r in reasons]}


def reasons_from_doc(doc: dict[str, Any] | None) -> list[WrapUpReason]:
    return [WrapUpReason.model_validate(r) for r in (doc or {}).get("reasons", [])]
