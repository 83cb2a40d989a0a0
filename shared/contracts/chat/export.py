"""Chat's read contract for a customer's export (privacy): every conversation of one chat customer with its
messages (notes included), its files' metadata and, for a role the masking policy allows, what masking kept
as given. Owned by chat; the gateway composes it into a contact's export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.contracts.chat.common import Sender
from shared.contracts.chat.reads import ConversationView, MessageView


class AttachmentRecord(BaseModel):
    attachment_id: str
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploader: Sender
    message_id: str | None = Field(description="The message it was sent with (None: uploaded, never sent).")
    private: bool


class Originals(BaseModel):
    """What masking kept as given (only what masking changed)."""
    conversation: dict[str, Any] = Field(description="The customer, context, wrap-up note, survey comment as given.")
    messages: dict[str, str] = Field(description="Message id -> its text as written.")


class ConversationExport(BaseModel):
    conversation: ConversationView
    messages: list[MessageView] = Field(description="Every message in order, private notes included.")
    attachments: list[AttachmentRecord]
    originals: Originals | None = Field(description="None when the caller's role may not read originals.")


class CustomerExport(BaseModel):
    customer_id: str
    conversations: list[ConversationExport]
    originals_refused: str | None = Field(description="Why originals are left out (the masking policy), if they are.")
    truncated: bool = Field(description="More conversations than one export carries (EXPORT_LIMIT).")
