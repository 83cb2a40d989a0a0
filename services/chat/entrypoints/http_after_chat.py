"""Chat's internal reads after the chat (included in entrypoints/http.py's read API, same prefix): the
tenant's survey setting, and the quick replies available to an agent, as stored or filled for a conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from services.chat.adapters.after_chat import reply_from_doc, survey_from_doc
from services.chat.adapters.documents import conversation_from_doc
from services.chat.adapters.queries import ChatQueries
from services.chat.domain import quick_replies
from shared.contracts.chat.reads import QuickReplyList, QuickReplyView, SurveySettingsView

NOT_FOUND = {404: {"description": "No such conversation in this tenant (the detail says which)."}}
Prefix = Annotated[str, Query(max_length=32, pattern=r"^[a-z0-9_-]*$", description="Names starting with this.")]


def after_chat_reads(queries: ChatQueries) -> APIRouter:
    api = APIRouter()

    @api.get("/survey-settings")
    async def get_survey_settings(tenant: str) -> SurveySettingsView:
        """The tenant's post-chat survey (off, configured=false, until an admin configures it)."""
        s = survey_from_doc(await queries.survey_settings(tenant))
        return SurveySettingsView(enabled=s.enabled, question=s.question, configured=s.configured)

    @api.get("/quick-replies")
    async def list_quick_replies(tenant: str, agent_id: str | None = None, prefix: Prefix = "") -> QuickReplyList:
        """The tenant's quick replies, and with `agent_id` that staff member's own too (its own wins over the
        tenant's of the same name), by name, as stored (variables not filled)."""
        replies = [reply_from_doc(d) for d in await queries.quick_replies(tenant, agent_id=agent_id)]
        return QuickReplyList(replies=[QuickReplyView(name=r.name, scope=r.scope, owner=r.owner, text=r.text)
                                       for r in quick_replies.available(replies, prefix=prefix)])

    @api.get("/conversations/{conversation_id}/quick-replies", responses=NOT_FOUND)
    async def conversation_quick_replies(tenant: str, conversation_id: str, agent_id: str,
                                         agent_name: Annotated[str | None, Query(max_length=200)] = None,
                                         prefix: Prefix = "") -> QuickReplyList:
        """The quick replies available to `agent_id` whose names start with `prefix`, filled for this
        conversation ({agent_name}: `agent_name`, else the agent's id), as sending '/name' would post them."""
        doc = await queries.conversation(tenant, conversation_id)
        if doc is None:
            raise HTTPException(404, f"conversation {conversation_id} does not exist in tenant {tenant}")
        conversation = conversation_from_doc(doc)
        values = quick_replies.variables(customer_name=conversation.customer.name, agent_name=agent_name or agent_id,
                                         queue=conversation.queue_id)
        replies = [reply_from_doc(d) for d in await queries.quick_replies(tenant, agent_id=agent_id)]
        return QuickReplyList(replies=[
            QuickReplyView(name=r.name, scope=r.scope, owner=r.owner, text=quick_replies.fill(r.text, values))
            for r in quick_replies.available(replies, prefix=prefix)])

    return api
