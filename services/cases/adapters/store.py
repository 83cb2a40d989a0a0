"""Cases, service requests and what cases knows of conversations and customers <-> MongoDB documents, and the
repositories the use cases load and save them with.

The repositories speak only the unit of work's transaction (load, find, find_one, put), so the same code runs
on MongoDB and on shared/testing/fakes.py. Ids are prefixed with the tenant. Collections:
- `cases`: one per case, with its search keys (`title_words`, `customer_words`, `number`);
- `case_numbers`: one counter per tenant; taking a number is a versioned put, so two concurrent opens conflict
  and one runs again (numbers are unique; a unique index on (tenant, number) backs that up);
- `conversations`: what cases knows of each conversation (its customer, the contact and account that customer
  is linked to, the case it is linked to, whether it is an offline message);
- `customer_links`: chat customer id -> contact and account (customer.CustomerLinked);
- `customer_names`: contact and account names (customer.ContactChanged, AccountChanged), for case search;
- `service_requests`; `notes` (quick notes on a case, contact or account)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.cases.domain.cases import Case, ServiceRequest, case_number
from shared.contracts.answers import Rejected
from shared.contracts.cases.common import ACTIVE_STATUSES, CaseFields
from shared.text import words

CASES, NUMBERS, CONVERSATIONS, LINKS, NAMES, SERVICE_REQUESTS, NOTES = (
    "cases", "case_numbers", "conversations", "customer_links", "customer_names", "service_requests", "notes")


def doc_id(tenant_id: str, record_id: str) -> str:
    return f"{tenant_id}|{record_id}"


def case_doc(tenant_id: str, case: Case, customer_name: str) -> dict[str, Any]:
    return {"_id": doc_id(tenant_id, case.id), "tenant_id": tenant_id, "id": case.id, "number": case.number,
            "fields": case.fields.model_dump(mode="json"), "origin": case.origin, "version": case.version,
            "created_at": case.created_at, "updated_at": case.updated_at, "conversations": case.conversations,
            # search and list keys, top level so they can be indexed
            "status": case.fields.status, "active": case.active, "title_words": words(case.fields.title or ""),
            "customer_name": customer_name, "customer_words": words(customer_name),
            # absent when empty (the partial indexes skip them; an equality query implies $exists)
            **{k: v for k in ("contact_id", "account_id") if (v := getattr(case.fields, k)) is not None}}


def case_from(doc: dict[str, Any]) -> Case:
    return Case(doc["id"], doc["number"], CaseFields.model_validate(doc["fields"]), doc["origin"], doc["version"],
                doc["created_at"], doc["updated_at"], list(doc["conversations"]))


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    t = ("tenant_id", ASCENDING)
    await db[CASES].create_index([t, ("number", ASCENDING)], name="number", unique=True)
    await db[CASES].create_index([t, ("title_words", ASCENDING), ("updated_at", DESCENDING)], name="title_words")
    await db[CASES].create_index([t, ("customer_words", ASCENDING), ("updated_at", DESCENDING)],
                                 name="customer_words")
    for field in ("contact_id", "account_id"):
        # a customer's recent cases, newest first; and its active ones (auto-link)
        await db[CASES].create_index([t, (field, ASCENDING), ("created_at", DESCENDING)], name=f"by_{field}",
                                     partialFilterExpression={field: {"$exists": True}})
        await db[CASES].create_index([t, (field, ASCENDING), ("active", ASCENDING)], name=f"active_by_{field}",
                                     partialFilterExpression={field: {"$exists": True}})
    await db[CASES].create_index([t, ("updated_at", DESCENDING)], name="recent")
    await db[SERVICE_REQUESTS].create_index([t, ("conversation_id", ASCENDING)], name="by_conversation")
    await db[SERVICE_REQUESTS].create_index([t, ("contact_id", ASCENDING), ("created_at", DESCENDING)],
                                            name="by_contact")


@dataclass
class ConversationFacts:
    """What cases knows of one conversation. `started`: chat's ConversationStarted has been followed. A staff
    command about the conversation (the gateway checked that it exists) can come first, when cases lags behind
    chat.events: its case or service request is kept (started False, case_id set) and gets the conversation's
    customer when the start arrives (conversation_cases.py)."""
    conversation_id: str
    customer_id: str | None = None
    customer_name: str = ""
    contact_id: str | None = None
    account_id: str | None = None
    case_id: str | None = None
    offline: bool = False
    described: bool = False  # an offline message's case has its text
    version: int = 0
    started: bool = False
    customer_for: str | None = None  # a case opened from it before its start, which takes its customer then


class CaseStore:
    """One tenant's cases, numbers, conversations, customer links and service requests, in a unit of work."""

    def __init__(self, tx: Any, tenant_id: str) -> None:
        self.tx = tx
        self.t = tenant_id
        self._versions: dict[str, int | None] = {}

    # cases
    async def get(self, case_id: str) -> Case | None:
        doc = await self.tx.load(CASES, doc_id(self.t, case_id))
        self._versions[case_id] = doc["version"] if doc else None
        return case_from(doc) if doc else None

    async def save(self, case: Case) -> None:
        name = await self.customer_name(case.fields.contact_id, case.fields.account_id)
        await self.tx.put(CASES, case_doc(self.t, case, name), read_version=self._versions.get(case.id))
        self._versions[case.id] = case.version

    async def touch(self, case: Case) -> None:
        """Save a change that is not an edit (a linked conversation) under the same version: an inline edit made
        against it still applies. Two such changes at once conflict in the database and one runs again."""
        doc = case_doc(self.t, case, await self.customer_name(case.fields.contact_id, case.fields.account_id))
        await self.tx.put(CASES, doc, read_version=case.version)

    async def next_number(self) -> str:
        doc = await self.tx.load(NUMBERS, self.t)
        last = doc["last"] if doc else 0
        await self.tx.put(NUMBERS, {"_id": self.t, "tenant_id": self.t, "last": last + 1, "version": last + 1},
                          read_version=last or None)
        return case_number(last + 1)

    async def cases_of(self, *, contact_id: str | None, account_id: str | None) -> list[Case]:
        """The customer's cases (its contact's, or else its account's)."""
        if contact_id:
            docs = await self.tx.find(CASES, {"tenant_id": self.t, "contact_id": contact_id, "active": True})
        elif account_id:
            docs = await self.tx.find(CASES, {"tenant_id": self.t, "account_id": account_id, "active": True})
        else:
            return []
        return [case_from(d) for d in docs if d["status"] in ACTIVE_STATUSES]

    # what cases knows of conversations and customers
    async def conversation(self, conversation_id: str) -> ConversationFacts:
        doc = await self.tx.load(CONVERSATIONS, doc_id(self.t, conversation_id))
        if doc is None:
            return ConversationFacts(conversation_id)
        return ConversationFacts(conversation_id, doc["customer_id"], doc["customer_name"], doc["contact_id"],
                                 doc["account_id"], doc["case_id"], doc["offline"], doc["described"],
                                 doc["version"], doc.get("started", True),  # (kept before there were early commands)
                                 doc.get("customer_for"))

    async def save_conversation(self, facts: ConversationFacts) -> None:
        doc = {"_id": doc_id(self.t, facts.conversation_id), "tenant_id": self.t,
               "conversation_id": facts.conversation_id, "customer_id": facts.customer_id,
               "customer_name": facts.customer_name, "contact_id": facts.contact_id, "account_id": facts.account_id,
               "case_id": facts.case_id, "offline": facts.offline, "described": facts.described,
               "started": facts.started, "customer_for": facts.customer_for, "version": facts.version + 1}
        await self.tx.put(CONVERSATIONS, doc, read_version=facts.version or None)
        facts.version += 1

    async def link_of(self, customer_id: str) -> tuple[str | None, str | None]:
        """The contact and account a chat customer is linked to (customer.CustomerLinked)."""
        doc = await self.tx.load(LINKS, doc_id(self.t, customer_id))
        return (doc["contact_id"], doc["account_id"]) if doc else (None, None)

    async def set_link(self, customer_id: str, contact_id: str | None, account_id: str | None) -> None:
        doc = await self.tx.load(LINKS, doc_id(self.t, customer_id))
        await self.tx.put(LINKS, {"_id": doc_id(self.t, customer_id), "tenant_id": self.t,
                                  "customer_id": customer_id, "contact_id": contact_id, "account_id": account_id,
                                  "version": (doc["version"] if doc else 0) + 1},
                          read_version=doc["version"] if doc else None)

    async def customer_name(self, contact_id: str | None, account_id: str | None) -> str:
        for kind, record_id in (("contact", contact_id), ("account", account_id)):
            if record_id:
                doc = await self.tx.load(NAMES, doc_id(self.t, f"{kind}|{record_id}"))
                if doc:
                    return str(doc["name"])
        return ""

    async def set_name(self, kind: str, record_id: str, name: str, version: int) -> bool:
        """Remember a contact's or account's name at `version`; False if a newer one is known."""
        key = doc_id(self.t, f"{kind}|{record_id}")
        doc = await self.tx.load(NAMES, key)
        if doc is not None and doc["record_version"] >= version:
            return False
        await self.tx.put(NAMES, {"_id": key, "tenant_id": self.t, "kind": kind, "record_id": record_id,
                                  "name": name, "record_version": version, "version": (doc["version"] if doc else 0) + 1},
                          read_version=doc["version"] if doc else None)
        return True

    async def rename_customer(self, kind: str, record_id: str) -> None:
        """Cases of this contact (or account, for cases without a contact) show its new name."""
        equal = {"tenant_id": self.t, f"{kind}_id": record_id}
        if kind == "account":
            equal["contact_id"] = None
        for doc in await self.tx.find(CASES, equal):
            name = await self.customer_name(doc.get("contact_id"), doc.get("account_id"))
            await self.tx.update_many(CASES, {"_id": doc["_id"]}, {"customer_name": name,
                                                                   "customer_words": words(name)})

    # quick notes (the timeline shows them)
    async def save_note(self, note_id: str, kind: str, record_id: str, text: str, *, by: str | None,
                        at: datetime) -> None:
        if await self.tx.load(NOTES, doc_id(self.t, note_id)) is not None:
            raise Rejected("conflict", f"note {note_id} already exists")
        await self.tx.put(NOTES, {"_id": doc_id(self.t, note_id), "tenant_id": self.t, "id": note_id,
                                  "record_kind": kind, "record_id": record_id, "text": text, "by": by, "at": at,
                                  "version": 1}, read_version=None)

    async def note(self, note_id: str) -> dict[str, Any] | None:
        return await self.tx.load(NOTES, doc_id(self.t, note_id))

    # service requests
    async def service_request(self, request_id: str) -> ServiceRequest | None:
        doc = await self.tx.load(SERVICE_REQUESTS, doc_id(self.t, request_id))
        self._versions[f"sr|{request_id}"] = doc["version"] if doc else None
        return self._service_request(doc) if doc else None

    async def service_requests_of(self, conversation_id: str) -> list[ServiceRequest]:
        docs = await self.tx.find(SERVICE_REQUESTS, {"tenant_id": self.t, "conversation_id": conversation_id})
        for doc in docs:
            self._versions[f"sr|{doc['id']}"] = doc["version"]
        return [self._service_request(doc) for doc in docs]

    @staticmethod
    def _service_request(doc: dict[str, Any]) -> ServiceRequest:
        return ServiceRequest(doc["id"], doc["conversation_id"], doc["contact_id"], doc["title"], doc["details"],
                              doc["status"], doc["version"], doc["created_at"], doc["updated_at"])

    async def save_service_request(self, sr: ServiceRequest) -> None:
        doc = {"_id": doc_id(self.t, sr.id), "tenant_id": self.t, "id": sr.id, "conversation_id": sr.conversation_id,
               "contact_id": sr.contact_id, "title": sr.title, "details": sr.details, "status": sr.status,
               "version": sr.version, "created_at": sr.created_at, "updated_at": sr.updated_at}
        await self.tx.put(SERVICE_REQUESTS, doc, read_version=self._versions.get(f"sr|{sr.id}"))
        self._versions[f"sr|{sr.id}"] = sr.version

