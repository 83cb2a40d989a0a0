"""What erasing a customer removes or blanks in chat's database (privacy), and the record that it happened
(shared/erasures.py: ids, when, by whom, counts; never a name or a text).

Works in the unit of work's transaction through its generic document API (find, update_many, delete_many,
load, put), so MongoDB and the in-memory fakes run the same code. The files (GridFS: `attachments.files` and
their `attachments.chunks`) are deleted inside the same transaction as everything else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.chat.adapters.blobs import CHUNKS, FILES
from services.chat.adapters.documents import CONVERSATIONS, MESSAGES
from services.chat.adapters.masking import ORIGINALS
from services.chat.domain.erasure import ERASED_TEXT
from shared.erasures import record_erasure

Doc = dict[str, Any]


async def ensure_erasure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[FILES].create_index([("metadata.tenant_id", ASCENDING), ("metadata.conversation_id", ASCENDING)],
                                 name="of_conversation")
    await db[CONVERSATIONS].create_index([("tenant_id", ASCENDING), ("contact_id", ASCENDING)], name="of_contact",
                                         partialFilterExpression={"contact_id": {"$type": "string"}})


class TransactionErasureStore:
    """One tenant's erasure work inside a unit of work (MongoDB's Transaction or the fake's)."""

    def __init__(self, tx: Any, tenant_id: str) -> None:
        self._tx = tx
        self.t = tenant_id

    async def conversations_of(self, customer_ids: list[str], contact_id: str) -> list[str]:
        """The ids of the conversations of these customers, and of those linked to the contact (U5)."""
        found: set[str] = set()
        for customer_id in customer_ids:
            found |= {d["conversation_id"] for d in await self._tx.find(
                CONVERSATIONS, {"tenant_id": self.t, "customer.customer_id": customer_id})}
        found |= {d["conversation_id"] for d in await self._tx.find(
            CONVERSATIONS, {"tenant_id": self.t, "contact_id": contact_id})}
        return sorted(found)

    async def blank_messages(self, conversation_id: str) -> int:
        """Every message's text becomes ERASED_TEXT and it names no file any more; how many changed."""
        return await self._tx.update_many(MESSAGES, {"tenant_id": self.t, "conversation_id": conversation_id},
                                          {"text": ERASED_TEXT, "attachments": [], "terms": []})

    async def delete_originals(self, conversation_id: str) -> int:
        """What masking kept as given (messages' texts, the customer, the context, notes): all of it."""
        return await self._tx.delete_many(ORIGINALS, {"tenant_id": self.t, "conversation_id": conversation_id})

    async def delete_files(self, conversation_id: str) -> int:
        """Every file uploaded to the conversation (sent or not): its chunks and its files document."""
        files = await self._tx.find(FILES, {"metadata.tenant_id": self.t, "metadata.conversation_id": conversation_id})
        for doc in files:
            await self._tx.delete_many(CHUNKS, {"files_id": doc["_id"]})
            await self._tx.delete_many(FILES, {"_id": doc["_id"]})
        return len(files)

    async def keep_record(self, contact_id: str, *, customer_ids: list[str], conversation_ids: list[str],
                          counts: dict[str, int], by: str | None, at: datetime) -> None:
        """That chat obeyed the erasure: ids, when, on whose request, what by count (a repeat is one more run)."""
        await record_erasure(self._tx, self.t, contact_id, at=at, by=by, customer_ids=customer_ids,
                             conversation_ids=conversation_ids, counts=counts)
