"""The read API's queries (MongoDB): a case, search (K1: number, title, customer), a customer's recent cases,
a conversation's case, service requests. Every query is per tenant and backed by an index (store.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.cases.adapters.store import CASES, CONVERSATIONS, SERVICE_REQUESTS, doc_id
from services.cases.domain.cases import TRANSITIONS, case_number
from shared.contracts.cases.reads import CaseHit, CaseView, ConversationCase, ServiceRequestView
from shared.text import prefix_query, words

Doc = dict[str, Any]
RANK = {"number": 0, "id": 0, "customer_id": 1, "title": 2, "title_prefix": 3, "customer": 4}


def case_view(doc: Doc) -> CaseView:
    return CaseView.model_validate({**doc["fields"], "case_id": doc["id"], "number": doc["number"],
                                    "version": doc["version"], "origin": doc["origin"],
                                    "conversations": doc["conversations"],
                                    "allowed_statuses": list(TRANSITIONS[doc["fields"]["status"]]),
                                    "customer_name": doc.get("customer_name", ""), "created_at": doc["created_at"],
                                    "updated_at": doc["updated_at"]})


def _hit(doc: Doc, matched: str) -> CaseHit:
    f = doc["fields"]
    return CaseHit(case_id=doc["id"], number=doc["number"], title=f["title"], status=f["status"],
                   priority=f["priority"], contact_id=f.get("contact_id"), account_id=f.get("account_id"),
                   customer_name=doc.get("customer_name", ""), created_at=doc["created_at"],
                   updated_at=doc["updated_at"], matched=matched)  # type: ignore[arg-type]


def sr_view(doc: Doc) -> ServiceRequestView:
    return ServiceRequestView(service_request_id=doc["id"], **{k: doc[k] for k in (
        "conversation_id", "contact_id", "title", "details", "status", "version", "created_at", "updated_at")})


class CaseQueries:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db

    async def get(self, tenant_id: str, case_id: str) -> CaseView | None:
        doc = await self.db[CASES].find_one({"_id": doc_id(tenant_id, case_id)})
        return case_view(doc) if doc else None

    async def search(self, tenant_id: str, q: str, *, limit: int = 20) -> list[CaseHit]:
        q = q.strip()
        found: dict[str, tuple[int, Any, CaseHit]] = {}

        def keep(doc: Doc, matched: str) -> None:
            rank = RANK[matched]
            if doc["id"] not in found or rank < found[doc["id"]][0]:
                found[doc["id"]] = (rank, doc["updated_at"], _hit(doc, matched))

        # Every way q may match, asked at once (up to six indexed queries: one round trip's wait instead of six in a
        # row), then kept in this order.
        t = {"tenant_id": tenant_id}
        asked: list[tuple[Awaitable[list[Doc]], Callable[[Doc], str]]] = []
        number = re.fullmatch(r"(?:cas-?)?0*(\d{1,9})", q, re.IGNORECASE)
        if number:
            asked.append((self.db[CASES].find({**t, "number": case_number(int(number[1]))}).to_list(),
                          lambda _: "number"))
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}", q):
            asked.append((self.db[CASES].find({"_id": doc_id(tenant_id, q)}).to_list(), lambda _: "id"))
            for field in ("contact_id", "account_id"):
                asked.append((self.db[CASES].find({**t, field: q}).sort("created_at", DESCENDING).limit(limit)
                              .to_list(), lambda _: "customer_id"))
        tokens = words(q)
        if tokens:
            asked.append((self.db[CASES].find({**t, **prefix_query(tokens, "title_words")}).hint("title_words")
                          .limit(limit).to_list(),
                          lambda doc: "title" if set(tokens) <= set(doc["title_words"]) else "title_prefix"))
            asked.append((self.db[CASES].find({**t, **prefix_query(tokens, "customer_words")})
                          .hint("customer_words").limit(limit).to_list(), lambda _: "customer"))
        results = await asyncio.gather(*(query for query, _ in asked))
        for (_, matched), docs in zip(asked, results, strict=True):
            for doc in docs:
                keep(doc, matched(doc))
        ranked = sorted(found.values(), key=lambda r: (r[0], -r[1].timestamp()))
        return [hit for _, _, hit in ranked[:limit]]

    async def recent(self, tenant_id: str, *, contact_id: str | None = None, account_id: str | None = None,
                     limit: int = 10) -> list[CaseHit]:
        """A customer's cases, newest first (the contact's, or the account's)."""
        field, value = ("contact_id", contact_id) if contact_id else ("account_id", account_id)
        cursor = self.db[CASES].find({"tenant_id": tenant_id, field: value}).sort("created_at", DESCENDING)
        return [_hit(doc, "customer_id") async for doc in cursor.limit(limit)]

    async def conversation(self, tenant_id: str, conversation_id: str) -> ConversationCase | None:
        doc = await self.db[CONVERSATIONS].find_one({"_id": doc_id(tenant_id, conversation_id)})
        if doc is None:
            return None
        return ConversationCase(conversation_id=conversation_id, case_id=doc["case_id"],
                                contact_id=doc["contact_id"], account_id=doc["account_id"])

    async def service_request(self, tenant_id: str, request_id: str) -> ServiceRequestView | None:
        doc = await self.db[SERVICE_REQUESTS].find_one({"_id": doc_id(tenant_id, request_id)})
        return sr_view(doc) if doc else None

    async def service_requests(self, tenant_id: str, *, conversation_id: str | None = None,
                               contact_id: str | None = None, limit: int = 50) -> list[ServiceRequestView]:
        equal = {"tenant_id": tenant_id, **({"conversation_id": conversation_id} if conversation_id else {}),
                 **({"contact_id": contact_id} if contact_id else {})}
        cursor = self.db[SERVICE_REQUESTS].find(equal).sort("created_at", DESCENDING).limit(limit)
        return [sr_view(doc) async for doc in cursor]
