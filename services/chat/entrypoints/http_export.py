"""Chat's internal read API for privacy: one chat customer's export (for the gateway, which composes a
contact's export from customer's and chat's). Originals only for a role the tenant's masking policy allows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pymongo.asynchronous.database import AsyncDatabase

from services.chat.adapters.blobs import FILES, attachment_from_doc
from services.chat.adapters.masking import MaskingQueries, conversation_original_id, policy_from_doc
from services.chat.adapters.queries import ChatQueries
from services.chat.entrypoints.views import conversation_view, message_view
from shared.contracts.chat.export import AttachmentRecord, ConversationExport, CustomerExport, Originals

EXPORT_LIMIT = 10_000  # conversations, and messages per conversation, in one export
Role = Annotated[str, Query(pattern=r"^[a-z_]{1,32}$", description="The caller's role (the gateway's).")]


class FileRecords:
    """The files documents of a conversation (GridFS metadata; never the bytes)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db

    async def of(self, tenant_id: str, conversation_id: str) -> list[dict[str, Any]]:
        return await self._db[FILES].find({"metadata.tenant_id": tenant_id,
                                           "metadata.conversation_id": conversation_id}).to_list()


def export_api(queries: ChatQueries, masking: MaskingQueries, files: FileRecords) -> APIRouter:
    api = APIRouter(prefix="/internal/tenants/{tenant}")

    @api.get("/customers/{customer_id}/export")
    async def export_customer(tenant: str, customer_id: str, role: Role) -> CustomerExport:
        """Every conversation of the customer, newest first: the conversation, its messages (notes included),
        its files' metadata, and the originals when the policy lets `role` read them. No conversation: empty."""
        policy = policy_from_doc(await masking.policy(tenant))
        originals_allowed = policy.may_read_originals(role)
        docs = await queries.conversations(tenant, agent_id=None, state=None, customer_id=customer_id,
                                           limit=EXPORT_LIMIT + 1)
        now = datetime.now(UTC)
        exported = []
        for doc in docs[:EXPORT_LIMIT]:
            cid = doc["conversation_id"]
            messages = await queries.messages(tenant, cid, after_seq=0, limit=EXPORT_LIMIT, include_private=True)
            originals = None
            if originals_allowed:
                kept = await masking.originals(tenant, cid, [m["message_id"] for m in messages])
                originals = Originals(
                    conversation=next((k["fields"] for k in kept if k["_id"] == conversation_original_id(tenant, cid)),
                                      {}),
                    messages={k["message_id"]: k["text"] for k in kept if k.get("kind") == "message"})
            exported.append(ConversationExport(
                conversation=conversation_view(doc, now=now), messages=[message_view(m) for m in messages],
                attachments=[_record(f) for f in await files.of(tenant, cid)], originals=originals))
        refused = None if originals_allowed else (
            f"the masking policy of tenant {tenant} lets {', '.join(sorted(policy.originals_roles)) or 'nobody'} "
            f"read originals, not {role}")
        return CustomerExport(customer_id=customer_id, conversations=exported, originals_refused=refused,
                              truncated=len(docs) > EXPORT_LIMIT)

    return api


def _record(doc: dict[str, Any]) -> AttachmentRecord:
    a = attachment_from_doc(doc)
    return AttachmentRecord(attachment_id=a.attachment_id, name=a.name, content_type=a.content_type, size=a.size,
                            sha256=a.sha256, uploaded_at=a.uploaded_at, uploader=a.uploader, message_id=a.message_id,
                            private=a.private)
