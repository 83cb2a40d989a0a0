"""Chat's internal read API for masking (C4) and history search (C6), mounted beside entrypoints/http.py's routes:
the tenant's policy, the originals of a conversation (only for a role the policy allows: the gateway
passes the caller's role and has already checked the caller may read the conversation), and search over
masked message text (never the originals)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from services.chat.adapters.documents import message_from_doc
from services.chat.adapters.masking import (
    MaskingQueries,
    conversation_original_id,
    message_original_id,
    policy_from_doc,
)
from services.chat.adapters.queries import ChatQueries
from services.chat.domain.masking import MaskingPolicy
from services.chat.domain.search import parse_query
from services.chat.search_cases import search_history
from shared.contracts.chat.common import Context, Customer, MAX_SEQ
from shared.contracts.chat.privacy import (
    MaskingPolicyView,
    OriginalMessage,
    OriginalsPage,
    SearchRequest,
    SearchResults,
)

Role = Annotated[str, Query(pattern=r"^[a-z_]{1,32}$", description="The caller's role (the gateway's).")]


def policy_view(policy: MaskingPolicy) -> MaskingPolicyView:
    return MaskingPolicyView(card=policy.card, iban=policy.iban, ssn=policy.ssn, email=policy.email,
                             phone=policy.phone, originals_roles=sorted(policy.originals_roles),
                             phone_regions=list(policy.phone_regions), configured=policy.configured)


def masking_api(queries: ChatQueries, masking: MaskingQueries) -> APIRouter:
    api = APIRouter(prefix="/internal/tenants/{tenant}")

    @api.get("/masking")
    async def get_masking_policy(tenant: str) -> MaskingPolicyView:
        """The tenant's masking policy (the defaults, configured=false, if it never set one)."""
        return policy_view(policy_from_doc(await masking.policy(tenant)))

    @api.get("/conversations/{conversation_id}/originals",
             responses={403: {"description": "The policy does not let this role read originals (the reason)."},
                        404: {"description": "No such conversation in this tenant."}})
    async def get_originals(tenant: str, conversation_id: str, role: Role,
                            after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
                            limit: Annotated[int, Query(ge=1, le=500)] = 100,
                            include_private: bool = False) -> OriginalsPage:
        """The conversation as it was given: customer, context and messages with their original text."""
        policy = policy_from_doc(await masking.policy(tenant))
        if not policy.may_read_originals(role):
            allowed = ", ".join(sorted(policy.originals_roles)) or "nobody"
            raise HTTPException(403, f"the masking policy of tenant {tenant} lets {allowed} read originals, "
                                     f"not {role}")
        conversation = await queries.conversation(tenant, conversation_id)
        if conversation is None:
            raise HTTPException(404, f"conversation {conversation_id} does not exist in tenant {tenant}")
        docs = await queries.messages(tenant, conversation_id, after_seq=after_seq, limit=limit,
                                      include_private=include_private)
        kept = {d["_id"]: d for d in await masking.originals(tenant, conversation_id,
                                                               [d["message_id"] for d in docs])}
        fields: dict[str, Any] = kept.get(conversation_original_id(tenant, conversation_id), {}).get("fields", {})
        messages = []
        for doc in docs:
            m = message_from_doc(doc)
            original = kept.get(message_original_id(tenant, m.message_id))
            messages.append(OriginalMessage(message_id=m.message_id, seq=m.seq, sender=m.sender,
                                            text=original["text"] if original else m.text, masked=original is not None,
                                            private=m.private, sent_at=m.sent_at))
        return OriginalsPage(
            conversation_id=conversation_id,
            customer=Customer.model_validate(fields.get("customer", conversation["customer"])),
            context=Context.model_validate(fields.get("context", conversation["context"])),
            messages=messages, last_seq=conversation["seq"])

    @api.post("/search", responses={422: {"description": "The query has no words."}})
    async def search_messages(tenant: str, body: SearchRequest) -> SearchResults:
        """History search (C6): messages whose masked text holds every word of `q`, in the given conversations
        or the tenant's, best first. Only masked text is indexed, so a card number or an e-mail address finds
        nothing (only what masking keeps, such as a card's last 4 digits)."""
        query = parse_query(body.q)
        if query is None:
            raise HTTPException(422, "the query has no words")
        return await search_history(masking, tenant, query, conversation_ids=body.conversation_ids,
                                    limit=body.limit)

    return api
