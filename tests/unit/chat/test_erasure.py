"""Chat obeys a contact's erasure (privacy) on the fakes, and serves a customer's export: for the erased contact's customer ids the originals and
files go, every message reads "[erased]", the customer is "Erased customer" with no e-mail or context, the
record keeps ids and counts only, chat.CustomerErased says what it touched; other customers and tenants are
untouched; a second ContactErased changes nothing."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from services.chat import erasure_cases  # noqa: F401  (registers ContactErased)
from services.chat.adapters.blobs import FILES
from services.chat.adapters.documents import CONVERSATIONS, MESSAGES
from services.chat.adapters.masking import ORIGINALS
from services.chat.domain.erasure import ERASED_NAME, ERASED_TEXT
from services.chat.entrypoints.http_export import export_api
from shared.contracts import chat as c
from shared.contracts import customer
from shared.contracts.envelope import wrap
from shared.mongo import consuming
from tests.unit.chat.fakes import InMemoryChatQueries
from tests.unit.chat.fakes_attachments import uploaded
from tests.unit.chat.fakes_masking import InMemoryMaskingQueries
from tests.unit.chat.harness import T0, Chat
from tests.unit.chat.harness import customer as customer_actor
from tests.unit.chat.test_attachments import file, send
from tests.unit.chat.test_masking_service import CARD, EMAIL, PHONE, start

pytestmark = pytest.mark.unit


@pytest.fixture
def chat() -> Chat:
    return Chat()


async def erased(chat: Chat, customer_ids: list[str], tenant: str = "t1") -> None:
    event = customer.ContactErased(contact_id="k1", customer_ids=customer_ids, counts={}, erased_by="root", at=T0)
    env = wrap(event, tenant_id=tenant, key="k1", producer="customer")
    with consuming(env.event_id):
        await chat.handlers.handle_customer_event(env)


def docs(chat: Chat, collection: str, conversation_id: str, tenant: str = "t1") -> list[dict]:
    return [d for d in chat.uow.docs.get(collection, {}).values()
            if d.get("tenant_id", d.get("metadata", {}).get("tenant_id")) == tenant
            and d.get("conversation_id", d.get("metadata", {}).get("conversation_id")) == conversation_id]


async def test_the_erased_customers_conversations_lose_originals_files_texts_and_name(chat):
    await start(chat)  # c1 of cu1: a card, an e-mail and a phone number, masked, originals kept
    await chat.assign("c1", "a1")
    uploaded(chat.uow, "t1", file("f1"))
    await chat.accepted(send(customer_actor("cu1"), "m-2", ["f1"], text=f"again {CARD}"))
    await chat.start("c2", customer_id="cu2")  # someone else
    await chat.start("c1", tenant="t2")  # the same ids in another tenant
    assert docs(chat, ORIGINALS, "c1") and docs(chat, FILES, "c1")

    await erased(chat, ["cu1"])
    assert docs(chat, ORIGINALS, "c1") == [] and docs(chat, FILES, "c1") == []
    assert {m["text"] for m in docs(chat, MESSAGES, "c1")} == {ERASED_TEXT}
    assert all(m["attachments"] == [] for m in docs(chat, MESSAGES, "c1"))
    conversation = chat.uow.docs[CONVERSATIONS]["t1|c1"]
    assert conversation["customer"] == {"customer_id": "cu1", "name": ERASED_NAME, "authenticated": False,
                                        "email": None}
    assert conversation["context"]["prechat"] == {} and conversation["context"]["trail"] == []
    stored = json.dumps([docs(chat, CONVERSATIONS, "c1"), docs(chat, MESSAGES, "c1")], default=str)
    assert not any(s in stored for s in (CARD, EMAIL, PHONE, "1111", "7542", "gmail"))

    news = chat.events(c.CustomerErased)
    assert len(news) == 1 and news[0].conversation_ids == ["c1"] and news[0].customer_ids == ["cu1"]
    assert news[0].counts["conversations"] == 1 and news[0].counts["attachments"] == 1
    assert news[0].counts["originals"] >= 2 and news[0].counts["messages"] >= 2
    record = chat.uow.docs["erasures"]["t1|k1"]
    assert record["runs"][0]["counts"] == news[0].counts and record["runs"][0]["by"] == "root"

    # others untouched
    assert chat.uow.docs[CONVERSATIONS]["t1|c2"]["customer"]["name"] == "Melissa"
    assert chat.uow.docs[CONVERSATIONS]["t2|c1"]["customer"]["name"] == "Melissa"
    assert ERASED_TEXT not in {m["text"] for m in docs(chat, MESSAGES, "c1", tenant="t2")}

    # again: nothing changes, zero counts
    before = json.dumps({k: v for k, v in chat.uow.docs.items() if k != "erasures"}, default=str, sort_keys=True)
    await erased(chat, ["cu1"])
    assert json.dumps({k: v for k, v in chat.uow.docs.items() if k != "erasures"}, default=str,
                      sort_keys=True) == before
    assert chat.events(c.CustomerErased)[-1].counts == {"conversations": 0, "messages": 0, "originals": 0,
                                                        "attachments": 0}


class InMemoryFileRecords:
    """entrypoints/http_export.py's FileRecords over the fake unit of work's committed files documents."""

    def __init__(self, uow) -> None:
        self._uow = uow

    async def of(self, tenant_id: str, conversation_id: str) -> list[dict]:
        return [d for d in self._uow.docs.get(FILES, {}).values() if d["metadata"]["tenant_id"] == tenant_id
                and d["metadata"]["conversation_id"] == conversation_id]


async def test_a_customers_export_holds_its_conversations_messages_files_and_originals_for_allowed_roles(chat):
    await start(chat)
    await chat.assign("c1", "a1")
    uploaded(chat.uow, "t1", file("f1"))
    await chat.accepted(send(customer_actor("cu1"), "m-2", ["f1"], text=f"again {CARD}"))
    await chat.start("c2", customer_id="cu2")
    app = FastAPI()
    app.include_router(export_api(InMemoryChatQueries(chat.uow), InMemoryMaskingQueries(chat.uow),
                                  InMemoryFileRecords(chat.uow)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as http:
        admin = (await http.get("/internal/tenants/t1/customers/cu1/export", params={"role": "admin"})).json()
        agent = (await http.get("/internal/tenants/t1/customers/cu1/export", params={"role": "agent"})).json()
        nobody = (await http.get("/internal/tenants/t2/customers/cu1/export", params={"role": "admin"})).json()
    [held] = admin["conversations"]
    assert held["conversation"]["conversation_id"] == "c1" and admin["originals_refused"] is None
    assert [a["attachment_id"] for a in held["attachments"]] == ["f1"] and held["attachments"][0]["sha256"]
    assert CARD not in json.dumps(held["messages"]) and any("1111" in m["text"] for m in held["messages"])
    assert f"again {CARD}" in held["originals"]["messages"].values()
    assert held["originals"]["conversation"]["customer"]["email"] == EMAIL
    assert agent["conversations"][0]["originals"] is None and "not agent" in agent["originals_refused"]
    assert CARD not in json.dumps(agent) and nobody["conversations"] == []

    await erased(chat, ["cu1"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as http:
        after = (await http.get("/internal/tenants/t1/customers/cu1/export", params={"role": "admin"})).json()
    [held] = after["conversations"]
    assert held["attachments"] == [] and held["originals"] == {"conversation": {}, "messages": {}}
    assert {m["text"] for m in held["messages"]} == {ERASED_TEXT}
