"""services/chat/adapters/masking.py's read queries over the fake unit of work's committed documents."""

from __future__ import annotations

import re
from typing import Any

from services.chat.adapters.documents import CONVERSATIONS, MESSAGES, doc_id
from services.chat.adapters.masking import (
    MASKING_POLICY,
    ORIGINALS,
    conversation_original_id,
    message_original_id,
)
from shared.testing.fakes import FakeUnitOfWork

Doc = dict[str, Any]


class InMemoryMaskingQueries:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def _coll(self, name: str) -> dict[str, Doc]:
        return self._uow.docs.get(name, {})

    async def policy(self, tenant_id: str) -> Doc | None:
        return self._coll(MASKING_POLICY).get(tenant_id)

    async def originals(self, tenant_id: str, conversation_id: str, message_ids: list[str]) -> list[Doc]:
        ids = [conversation_original_id(tenant_id, conversation_id),
               *(message_original_id(tenant_id, m) for m in message_ids)]
        return [self._coll(ORIGINALS)[i] for i in ids if i in self._coll(ORIGINALS)]

    async def search(self, tenant_id: str, *, words: list[str], customer_id: str | None, limit: int
                     ) -> list[tuple[Doc, Doc]]:
        conversations = self._coll(CONVERSATIONS)
        found = []
        for m in self._coll(MESSAGES).values():
            conv = conversations.get(doc_id(tenant_id, m["conversation_id"]))
            if m["tenant_id"] != tenant_id or m["private"] or conv is None:
                continue
            if customer_id is not None and conv["customer"]["customer_id"] != customer_id:
                continue
            if all(re.search(re.escape(w), m["text"], re.IGNORECASE) for w in words):
                found.append((m, conv))
        return sorted(found, key=lambda pair: pair[0]["sent_at"], reverse=True)[:limit]
