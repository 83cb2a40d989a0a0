"""Chat's internal read API (FastAPI, JSON): what the gateway reads over HTTP for its views. Never
exposed publicly; every path is per tenant, and an unknown conversation is a 404 with the reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query

from services.chat.adapters.queries import ChatQueries
from services.chat.entrypoints.http_after_chat import after_chat_reads
from services.chat.entrypoints.views import (
    conversation_view,
    message_view,
    reasons_view,
    settings_view,
)
from shared.contracts.chat.common import ConversationState, MAX_SEQ
from shared.contracts.chat.reads import (
    ConversationList,
    ConversationView,
    MessagePage,
    QueueChatSettingsView,
    WrapUpReasonList,
)
from shared.read_api import internal_api

NOT_FOUND = {404: {"description": "No such conversation in this tenant (the detail says which)."}}


def read_api(queries: ChatQueries, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    api = APIRouter(prefix="/internal/tenants/{tenant}")

    async def existing(tenant: str, conversation_id: str) -> dict:
        doc = await queries.conversation(tenant, conversation_id)
        if doc is None:
            raise HTTPException(404, f"conversation {conversation_id} does not exist in tenant {tenant}")
        return doc

    @api.get("/conversations/{conversation_id}", responses=NOT_FOUND)
    async def get_conversation(tenant: str, conversation_id: str) -> ConversationView:
        """One conversation: state, queue, customer, context, wait and start time, agents, wrap-up, unread."""
        return conversation_view(await existing(tenant, conversation_id), now=clock())

    @api.get("/conversations/{conversation_id}/messages", responses=NOT_FOUND)
    async def get_messages(tenant: str, conversation_id: str, after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
                           limit: Annotated[int, Query(ge=1, le=500)] = 100,
                           include_private: bool = False) -> MessagePage:
        """Messages after `after_seq`, in sequence order; private notes only when asked for (agents' views)."""
        conversation = await existing(tenant, conversation_id)
        docs = await queries.messages(tenant, conversation_id, after_seq=after_seq, limit=limit,
                                      include_private=include_private)
        return MessagePage(conversation_id=conversation_id, messages=[message_view(d) for d in docs],
                           last_seq=conversation["seq"])

    @api.get("/conversations")
    async def list_conversations(tenant: str, agent_id: str | None = None, state: ConversationState | None = None,
                                 customer_id: str | None = None,
                                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ConversationList:
        """Work lists: an agent's conversations (those it works now; closed ones: those it held last), by
        state and/or customer, most recently updated first."""
        docs = await queries.conversations(tenant, agent_id=agent_id, state=state, customer_id=customer_id,
                                           limit=limit)
        now = clock()
        return ConversationList(conversations=[conversation_view(d, now=now) for d in docs])

    @api.get("/wrap-up-reasons")
    async def get_wrap_up_reasons(tenant: str) -> WrapUpReasonList:
        """The tenant's wrap-up reasons (empty until configured)."""
        return reasons_view(await queries.wrap_up_reasons(tenant))

    @api.get("/queues/{queue_id}/chat-settings")
    async def get_queue_chat_settings(tenant: str, queue_id: str) -> QueueChatSettingsView:
        """A queue's chat settings (the defaults, configured=false, for a queue nobody configured)."""
        return settings_view(queue_id, await queries.queue_settings(tenant, queue_id), now=clock())

    api.include_router(after_chat_reads(queries))  # survey setting, quick replies
    return internal_api("chat", "Conversations, messages and chat settings, for the gateway. Not public.", api)
