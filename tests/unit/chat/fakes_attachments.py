"""services/chat/adapters/blobs.py's MongoAttachments over the fake unit of work: the same GridFS files
documents (metadata included), attached once under the same condition."""

from __future__ import annotations

from services.chat.adapters.blobs import (ATTACHMENT_SETTINGS, FILES, attachment_from_doc, files_doc,
                                          policy_from_doc, policy_to_doc)
from services.chat.adapters.documents import doc_id
from services.chat.domain.attachments import Attachment, AttachmentPolicy
from shared.mongo import ConcurrencyConflict
from shared.testing.fakes import FakeTransaction, FakeUnitOfWork


class InMemoryAttachments:
    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:
        self._tx = tx
        self.tenant_id = tenant_id

    async def get(self, attachment_id: str) -> Attachment | None:
        doc = self._tx.collection(FILES).get(doc_id(self.tenant_id, attachment_id))
        return attachment_from_doc(doc) if doc else None

    async def save_attached(self, attachment: Attachment) -> None:
        doc = self._tx.collection(FILES).get(doc_id(self.tenant_id, attachment.attachment_id))
        if doc is None or doc["metadata"]["message_id"] is not None:
            raise ConcurrencyConflict(f"attachment {attachment.attachment_id} changed since it was read")
        doc["metadata"].update(message_id=attachment.message_id, private=attachment.private)

    async def policy(self) -> AttachmentPolicy:
        return policy_from_doc(self._tx.collection(ATTACHMENT_SETTINGS).get(self.tenant_id))

    async def save_policy(self, policy: AttachmentPolicy) -> None:
        self._tx.collection(ATTACHMENT_SETTINGS)[self.tenant_id] = policy_to_doc(self.tenant_id, policy)


def uploaded(uow: FakeUnitOfWork, tenant_id: str, attachment: Attachment) -> None:
    """A file as chat's upload API leaves it (committed, unattached), without the bytes."""
    doc = files_doc(tenant_id, attachment)
    uow.docs.setdefault(FILES, {})[doc["_id"]] = doc
