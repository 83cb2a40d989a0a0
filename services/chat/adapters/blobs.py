"""Attachments in chat's database: the bytes in GridFS (bucket `attachments`: `attachments.files` and
`attachments.chunks`), each file's attachment record in its files document's `metadata`, and the tenant's
limits (`attachment_settings`). Uploads and downloads stream (no file is held in memory whole); attaching
a file to a message is a conditional update inside the command's transaction (MongoAttachments); unattached
files older than the keep time are swept (BlobStore.sweep)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.chat.adapters.documents import doc_id
from services.chat.domain.attachments import HEAD_BYTES, Attachment, AttachmentPolicy, Refused, check_content
from shared.contracts.chat.common import Sender
from shared.mongo import ConcurrencyConflict, Transaction

BUCKET = "attachments"
FILES, CHUNKS, ATTACHMENT_SETTINGS = f"{BUCKET}.files", f"{BUCKET}.chunks", "attachment_settings"
Doc = dict[str, Any]


# --- documents (the in-memory fakes store the same) ----------------------------------------------------

def attachment_metadata(tenant_id: str, a: Attachment) -> Doc:
    return {"tenant_id": tenant_id, "attachment_id": a.attachment_id, "conversation_id": a.conversation_id,
            "uploader": a.uploader.model_dump(), "name": a.name, "content_type": a.content_type,
            "sha256": a.sha256, "message_id": a.message_id, "private": a.private}


def files_doc(tenant_id: str, a: Attachment) -> Doc:
    """The GridFS files document of an attachment (as GridFS writes it, with our metadata)."""
    return {"_id": doc_id(tenant_id, a.attachment_id), "length": a.size, "filename": a.name,
            "uploadDate": a.uploaded_at, "metadata": attachment_metadata(tenant_id, a)}


def attachment_from_doc(doc: Doc) -> Attachment:
    m = doc["metadata"]
    return Attachment(attachment_id=m["attachment_id"], conversation_id=m["conversation_id"],
                      uploader=Sender.model_validate(m["uploader"]), name=m["name"],
                      content_type=m["content_type"], size=doc["length"], sha256=m["sha256"],
                      uploaded_at=doc["uploadDate"], message_id=m["message_id"], private=m["private"])


def policy_to_doc(tenant_id: str, p: AttachmentPolicy) -> Doc:
    return {"_id": tenant_id, "tenant_id": tenant_id, "max_bytes": p.max_bytes,
            "allowed_types": list(p.allowed_types)}


def policy_from_doc(doc: Doc | None) -> AttachmentPolicy:
    if doc is None:
        return AttachmentPolicy()
    return AttachmentPolicy(max_bytes=doc["max_bytes"], allowed_types=tuple(doc["allowed_types"]), configured=True)


ATTACHED_ONCE = {"metadata.message_id": None}  # the condition under which a file may be attached or swept


# --- inside a command's transaction --------------------------------------------------------------------

class MongoAttachments:
    """The tenant's attachment records and limits, read and changed in the unit of work's transaction."""

    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self._db = tx.db
        self._s = tx.session
        self.tenant_id = tenant_id

    async def get(self, attachment_id: str) -> Attachment | None:
        doc = await self._db[FILES].find_one({"_id": doc_id(self.tenant_id, attachment_id)}, session=self._s)
        return attachment_from_doc(doc) if doc else None

    async def save_attached(self, attachment: Attachment) -> None:
        """Record that the file belongs to its message now: only if it was still unattached (not swept)."""
        done = await self._db[FILES].update_one(
            {"_id": doc_id(self.tenant_id, attachment.attachment_id), **ATTACHED_ONCE},
            {"$set": {"metadata.message_id": attachment.message_id, "metadata.private": attachment.private}},
            session=self._s)
        if done.matched_count != 1:
            raise ConcurrencyConflict(f"attachment {attachment.attachment_id} changed since it was read")

    async def policy(self) -> AttachmentPolicy:
        return policy_from_doc(await self._db[ATTACHMENT_SETTINGS].find_one({"_id": self.tenant_id},
                                                                           session=self._s))

    async def save_policy(self, policy: AttachmentPolicy) -> None:
        doc = policy_to_doc(self.tenant_id, policy)
        await self._db[ATTACHMENT_SETTINGS].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=self._s)


# --- the bytes: streamed in and out, outside any transaction --------------------------------------------

@dataclass
class Upload:
    tenant_id: str
    attachment_id: str
    conversation_id: str
    uploader: Sender
    name: str
    content_type: str


class BlobStore:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)

    async def ensure_indexes(self) -> None:
        await self._db[FILES].create_index([("metadata.message_id", ASCENDING), ("uploadDate", ASCENDING)],
                                           name="unattached_by_age")

    async def policy(self, tenant_id: str) -> AttachmentPolicy:
        return policy_from_doc(await self._db[ATTACHMENT_SETTINGS].find_one({"_id": tenant_id}))

    async def store(self, upload: Upload, chunks: AsyncIterator[bytes], policy: AttachmentPolicy) -> Attachment:
        """Stream the bytes into GridFS, checking the size limit as they come and the content's first bytes
        against the declared type; on any refusal or error nothing is kept (the chunks written are removed).
        The files document appears complete, metadata included, only when the last chunk is in."""
        grid_in = self._bucket.open_upload_stream_with_id(doc_id(upload.tenant_id, upload.attachment_id),
                                                          upload.name)
        digest, size, head, checked = hashlib.sha256(), 0, b"", False
        try:
            async for chunk in chunks:
                size += len(chunk)
                policy.check_size(size)
                if not checked:  # hold the first bytes back until the type is checked
                    head += chunk
                    if len(head) < HEAD_BYTES:
                        continue
                    check_content(upload.content_type, head)
                    checked, chunk = True, head
                digest.update(chunk)
                await grid_in.write(chunk)
            if size == 0:
                raise Refused(422, "the file is empty")
            if not checked:
                check_content(upload.content_type, head)
                digest.update(head)
                await grid_in.write(head)
            attachment = Attachment(attachment_id=upload.attachment_id, conversation_id=upload.conversation_id,
                                    uploader=upload.uploader, name=upload.name, content_type=upload.content_type,
                                    size=size, sha256=digest.hexdigest(), uploaded_at=datetime.min)
            await grid_in.set("metadata", attachment_metadata(upload.tenant_id, attachment))
            await grid_in.close()
        except BaseException:
            await grid_in.abort()
            raise
        stored = await self._db[FILES].find_one({"_id": doc_id(upload.tenant_id, upload.attachment_id)})
        assert stored is not None
        return attachment_from_doc(stored)

    async def find(self, tenant_id: str, attachment_id: str) -> Attachment | None:
        doc = await self._db[FILES].find_one({"_id": doc_id(tenant_id, attachment_id)})
        return attachment_from_doc(doc) if doc else None

    async def read(self, tenant_id: str, attachment_id: str) -> AsyncIterator[bytes]:
        """The stored bytes, chunk by chunk (a file swept meanwhile ends the stream early)."""
        try:
            grid_out = await self._bucket.open_download_stream(doc_id(tenant_id, attachment_id))
        except NoFile:
            return
        while chunk := await grid_out.readchunk():
            yield chunk

    async def sweep(self, *, uploaded_before: datetime, batch: int = 500) -> int:
        """Delete files never attached to a message and uploaded before the cut-off; returns how many. A file
        attached meanwhile is kept: the delete has the same condition as the attach (see ATTACHED_ONCE)."""
        removed = 0
        cursor = self._db[FILES].find({**ATTACHED_ONCE, "uploadDate": {"$lt": uploaded_before}},
                                      {"_id": 1}).limit(batch)
        async for doc in cursor:
            gone = await self._db[FILES].delete_one({"_id": doc["_id"], **ATTACHED_ONCE})
            if gone.deleted_count:
                await self._db[CHUNKS].delete_many({"files_id": doc["_id"]})
                removed += 1
        return removed
