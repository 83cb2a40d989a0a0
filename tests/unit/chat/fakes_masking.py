"""services/chat/adapters/masking.py's read queries over the fake unit of work's committed documents."""

from __future__ import annotations

from typing import Any

from services.chat.adapters.documents import CONVERSATIONS, MESSAGES
from services.chat.adapters.masking import (
    MASKING_POLICY,
    ORIGINALS,
    SEARCH_CANDIDATES,
    conversation_original_id,
    message_original_id,
)
from services.chat.domain.search import SearchQuery
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

    async def search(self, tenant_id: str, query: SearchQuery, *, conversation_ids: list[str] | None
                     ) -> tuple[list[Doc], dict[str, Doc], bool]:
        """The same documents the Mongo query finds: every whole word and a word with the prefix in `terms`."""
        found = [m for m in self._coll(MESSAGES).values()
                 if m["tenant_id"] == tenant_id and not m["private"]
                 and (conversation_ids is None or m["conversation_id"] in conversation_ids)
                 and all(w in m["terms"] for w in query.whole)
                 and any(t.startswith(query.prefix) for t in m["terms"])]
        found.sort(key=lambda m: m["sent_at"], reverse=True)
        conversations = {c["conversation_id"]: c for c in self._coll(CONVERSATIONS).values()
                         if c["tenant_id"] == tenant_id and c["conversation_id"] in {m["conversation_id"] for m in found}}
        return found[:SEARCH_CANDIDATES], conversations, len(found) < SEARCH_CANDIDATES
