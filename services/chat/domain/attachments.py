"""Attachments (C9), the rules: the tenant's limits, a file's name cleaned and its declared type checked
(against the tenant's list, and against the content's magic bytes where that is cheap), who may attach an
uploaded file to a message, and who may download it. Pure: adapters/blobs.py stores the bytes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime

from shared.contracts.answers import Rejected
from shared.contracts.chat.attachments import DEFAULT_CONTENT_TYPES, DEFAULT_MAX_BYTES, AttachmentInfo
from shared.contracts.chat.common import Sender

MAX_NAME = 200  # characters of a cleaned file name


class Refused(Exception):
    """An upload chat will not store: `status` 413 (too large) or 422 (bad name, type or content)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class AttachmentPolicy:
    """The tenant's limits (chat.ConfigureAttachments); the defaults until an admin sets them."""
    max_bytes: int = DEFAULT_MAX_BYTES
    allowed_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    configured: bool = False

    def check_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise Refused(413, f"the file is larger than this tenant's limit of {self.max_bytes} bytes")

    def check_type(self, content_type: str) -> None:
        if content_type not in self.allowed_types:
            raise Refused(422, f"files of type {content_type} are not accepted here; accepted: "
                               f"{', '.join(self.allowed_types)}")


def clean_name(raw: str) -> str:
    """The file name to keep: the last part of any path (/ or \\), without control or format characters
    (which includes right-to-left overrides that disguise an extension), without leading dots or spaces,
    at most MAX_NAME characters (the extension kept). Refused (422) if nothing is left."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = unicodedata.normalize("NFC", name).strip().lstrip(". ").strip()
    if not name:
        raise Refused(422, f"{raw[:50]!r} is not a usable file name (nothing is left without its path, "
                           "control characters and leading dots)")
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[:MAX_NAME - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:MAX_NAME].rstrip()
    return name


def normalise_type(declared: str | None) -> str:
    """`Text/Plain; charset=utf-8` -> `text/plain`; nothing declared is application/octet-stream."""
    bare = (declared or "").split(";", 1)[0].strip().lower()
    return bare or "application/octet-stream"


_ZIP, _OLE = (b"PK\x03\x04",), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/zip": _ZIP,
    "application/msword": _OLE, "application/vnd.ms-excel": _OLE, "application/vnd.ms-powerpoint": _OLE,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _ZIP,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _ZIP,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": _ZIP,
    "application/vnd.oasis.opendocument.text": _ZIP, "application/vnd.oasis.opendocument.spreadsheet": _ZIP,
}
TEXT_TYPES = ("text/plain", "text/csv")
HEAD_BYTES = 512  # what check_content needs of the file's start


def check_content(content_type: str, head: bytes) -> None:
    """The file's first bytes fit its declared type: the signature of images, PDF, zip and office files;
    text is UTF-8 without NUL bytes (a multi-byte character cut at the end of `head` is fine). Other
    types are not checked. Refused (422) otherwise."""
    if content_type == "image/webp":
        fits = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    elif content_type in MAGIC:
        fits = head.startswith(MAGIC[content_type])
    elif content_type in TEXT_TYPES:
        fits = b"\x00" not in head and _utf8_prefix(head)
    else:
        return
    if not fits:
        raise Refused(422, f"the content is not a {content_type} file (its first bytes do not match the type)")


def _utf8_prefix(head: bytes) -> bool:
    for cut in range(4):  # a character cut at the end of head by the chunking
        try:
            head[:len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


@dataclass(frozen=True)
class Attachment:
    """A stored file: uploaded to one conversation by one sender; attached to at most one message."""
    attachment_id: str
    conversation_id: str
    uploader: Sender
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    message_id: str | None = None
    private: bool = False  # attached to a private note: staff only

    @property
    def info(self) -> AttachmentInfo:
        return AttachmentInfo(attachment_id=self.attachment_id, name=self.name, content_type=self.content_type,
                              size=self.size)

    def attached_to(self, *, conversation_id: str, sender: Sender, message_id: str, private: bool) -> Attachment:
        """This file attached to the sender's new message; refused if it is not the sender's upload to this
        conversation (invalid_argument, the same words whoever's it is) or is attached already (conflict)."""
        if self.conversation_id != conversation_id or self.uploader != sender:
            raise Rejected("invalid_argument", f"attachment {self.attachment_id} was not uploaded by you to "
                                               f"conversation {conversation_id} (or was deleted unsent)")
        if self.message_id is not None:
            raise Rejected("conflict", f"attachment {self.attachment_id} is attached to a message already")
        return replace(self, message_id=message_id, private=private)

    def visible_to(self, *, conversation_id: str, reader: Sender, include_private: bool) -> bool:
        """Whether the reader (already allowed to read this conversation's messages, with or without private
        notes) may download it: a file not yet sent only by its uploader, a note's file only with the notes."""
        if self.conversation_id != conversation_id:
            return False
        if self.message_id is None:
            return reader == self.uploader
        return include_private or not self.private


def attachment_ids_unique(ids: list[str]) -> None:
    if len(set(ids)) != len(ids):
        raise Rejected("invalid_argument", "an attachment is named twice in the message")
