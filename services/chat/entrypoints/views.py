"""What chat's internal read API answers, built from the stored documents (adapters/documents.py); the
response models are chat's read contract (shared/contracts/chat/reads.py), which the gateway reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.chat.adapters.documents import (
    conversation_from_doc,
    message_from_doc,
    queue_settings_from_doc,
    reasons_from_doc,
)
from services.chat.domain import survey
from services.chat.domain.hours import is_open, next_opening
from shared.contracts.chat.reads import (
    ConversationView,
    MessageView,
    QueueChatSettingsView,
    WrapUpReasonList,
)


def conversation_view(doc: dict[str, Any], *, now: datetime) -> ConversationView:
    c = conversation_from_doc(doc)
    waited_until = c.first_assigned_at or c.closed_at or now
    return ConversationView(
        conversation_id=c.conversation_id, tenant_id=doc["tenant_id"], state=c.state.value, queue_id=c.queue_id,
        customer=c.customer, contact_id=c.contact_id, context=c.context, skills=c.skills, priority=c.priority, proactive=c.proactive,
        offline=c.offline, agents=c.agents, group=c.group, colleagues=c.colleagues, topic=c.topic,
        assignee=c.assignee, offered_to=c.offered_to,
        last_agent_id=c.last_agent_id,
        started_at=c.started_at, first_assigned_at=c.first_assigned_at,
        wait_s=max(0.0, (waited_until - c.started_at).total_seconds()), waiting_until=c.waiting_until,
        ended_by=c.ended_by, wrap_up_reason=c.wrap_up_reason, wrap_up_note=c.wrap_up_note, closed_at=c.closed_at,
        last_seq=c.seq, message_count=c.message_count, unread=c.unread, customer_unread=c.customer_unread,
        created_at=c.started_at, updated_at=c.updated_at or c.started_at, survey=survey.result_of(c),
        survey_pending=survey.pending(c))


def message_view(doc: dict[str, Any]) -> MessageView:
    m = message_from_doc(doc)
    return MessageView(message_id=m.message_id, conversation_id=m.conversation_id, seq=m.seq,
                       client_message_id=m.client_message_id, sender=m.sender, text=m.text, private=m.private,
                       sent_at=m.sent_at, attachments=list(m.attachments))


def settings_view(queue_id: str, doc: dict[str, Any] | None, *, now: datetime) -> QueueChatSettingsView:
    s = queue_settings_from_doc(queue_id, doc)
    return QueueChatSettingsView(queue_id=queue_id, wrap_up_required=s.wrap_up_required, persistent=s.persistent,
                                 configured=s.configured, operating_hours=s.operating_hours,
                                 offline_messages=s.offline_messages, open_now=is_open(s.operating_hours, now),
                                 opens_at=next_opening(s.operating_hours, now))


def reasons_view(doc: dict[str, Any] | None) -> WrapUpReasonList:
    return WrapUpReasonList(reasons=reasons_from_doc(doc))
