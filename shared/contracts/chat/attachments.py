"""Attachments (C9) in chat's contract: what a message carries about its files, the tenant's limits, and what
chat's internal attachment API answers. The bytes never travel over Kafka: the gateway streams them to chat's
internal HTTP API, which stores them and hands back an id that SendMessage then names (a claim check)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # 10 MiB
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024  # no tenant may allow more (the gateway's hard cap by default)
MAX_ATTACHMENTS_PER_MESSAGE = 10
DEFAULT_CONTENT_TYPES: tuple[str, ...] = (
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "text/csv",
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
)
CONTENT_TYPE = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$"


class AttachmentInfo(BaseModel):
    """A file attached to a message, as messages, frames and message reads show it."""
    model_config = ConfigDict(extra="ignore", frozen=True)
    attachment_id: str = Field(description="Chat's id of the file (download it by this id).")
    name: str = Field(description="The file name, cleaned (no path, no control characters, no leading dots).")
    content_type: str = Field(description="The declared type, checked against the tenant's list (and the "
                                          "content's magic bytes for images, PDF and office files).")
    size: int = Field(description="Bytes.")


class AttachmentSettingsView(BaseModel):
    """The tenant's attachment limits (the defaults with configured=false until an admin sets them)."""
    max_bytes: int = Field(description="Largest file accepted, in bytes.")
    allowed_types: list[str] = Field(description="Content types accepted (lower case, without parameters).")
    configured: bool = Field(description="False: nobody configured them, these are the defaults.")


class UploadedAttachment(AttachmentInfo):
    """What chat answers to an upload: the stored file, not yet attached to a message."""
    sha256: str = Field(description="Hex SHA-256 of the bytes as stored.")
    uploaded_at: datetime
    expires_at: datetime = Field(description="Deleted unless a message attaches it before then.")
