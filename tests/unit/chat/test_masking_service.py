"""C4 in the chat service, on the fakes: masking where text enters (events, routing's preview and customer
name, stored documents), originals kept beside and readable only by the roles the policy allows, the policy
per tenant (admin only, announced), search over masked text, dead letters and log lines masked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.chat.adapters.documents import MESSAGES
from services.chat.adapters.masking import ORIGINALS
from services.chat.bootstrap import build
from services.chat.redaction import mask_log_line, redact
from services.chat.settings import ChatSettings
from shared.consumer import MessageDispatcher, Record
from shared.contracts import chat as c
from shared.contracts import routing as r
from tests.unit.chat.fakes import InMemoryChatQueries, in_memory_repositories
from tests.unit.chat.fakes_masking import InMemoryMaskingQueries
from tests.unit.chat.harness import ADMIN, Chat, agent, customer

pytestmark = pytest.mark.unit
CARD, MASKED_CARD = "4111 1111 1111 1111", "************1111"
EMAIL, MASKED_EMAIL = "melissa@gmail.com", "m******@gmail.com"
PHONE, MASKED_PHONE = "+447966197542", "*********7542"
FIRST = f"Hi, my card {CARD} was charged twice, write to {EMAIL}"
FIRST_MASKED = f"Hi, my card {MASKED_CARD} was charged twice, write to {MASKED_EMAIL}"


@pytest.fixture
def chat() -> Chat:
    return Chat()


async def start(chat: Chat, **fields) -> None:
    await chat.accepted(c.StartConversation(
        conversation_id="c1", queue_id="q1", actor=customer("cu1"), first_message=FIRST,
        customer=c.Customer(customer_id="cu1", name=PHONE, email=EMAIL),
        context=c.Context(prechat={"Phone": f"call {PHONE}"}, variables={"card": CARD},
                          visitor=c.Visitor(location=f"Riga, {PHONE}"),
                          trail=[c.TrailStep(kind="phrase_searched", title=f"refund {CARD}",
                                             at=datetime(2026, 1, 5, tzinfo=UTC))]), **fields))


def published_text(chat: Chat) -> str:
    return " ".join(e.model_dump_json() for e in chat.events() + chat.to_routing())


async def test_a_customers_start_is_masked_in_every_event_and_routing_command(chat):
    await start(chat)
    started = chat.events(c.ConversationStarted)[0]
    assert started.customer.name == MASKED_PHONE and started.customer.email == MASKED_EMAIL
    assert started.context.prechat == {"Phone": f"call {MASKED_PHONE}"}
    assert started.context.variables == {"card": MASKED_CARD}
    assert started.context.visitor.location == f"Riga, {MASKED_PHONE}"
    assert started.context.trail[0].title == f"refund {MASKED_CARD}"
    assert chat.events(c.MessagePosted)[0].text == FIRST_MASKED
    route = chat.to_routing(r.RouteConversation)[0]
    assert route.customer_name == MASKED_PHONE and MASKED_CARD in route.preview
    for secret in (CARD, EMAIL, PHONE, "4111111111111111"):
        assert secret not in published_text(chat)


async def test_stored_text_is_masked_and_the_original_is_kept_beside_only_when_it_differs(chat):
    await start(chat)
    await chat.assign()
    await chat.accepted(c.SendMessage(conversation_id="c1", client_message_id="m2", text="Thanks, checking now",
                                      actor=agent("a1")))
    await chat.accepted(c.SendMessage(conversation_id="c1", client_message_id="m3",
                                      text=f"I will call {PHONE}", actor=agent("a1")))
    texts = sorted(m["text"] for m in chat.uow.docs[MESSAGES].values())
    assert texts == sorted([FIRST_MASKED, "Thanks, checking now", f"I will call {MASKED_PHONE}"])
    kept = chat.uow.docs[ORIGINALS]
    assert sorted(d.get("text") for d in kept.values() if d["kind"] == "message") == [FIRST, f"I will call {PHONE}"]
    conversation = next(d for d in kept.values() if d["kind"] == "conversation")
    assert conversation["fields"]["customer"]["name"] == PHONE
    assert conversation["fields"]["context"]["variables"] == {"card": CARD}
    assert chat.events(c.MessagePosted)[-1].text == f"I will call {MASKED_PHONE}"


async def test_a_retried_send_keeps_one_original(chat):
    await start(chat)
    send = c.SendMessage(conversation_id="c1", client_message_id="m2", text=f"card {CARD}", actor=customer("cu1"))
    await chat.accepted(send)
    await chat.accepted(send.model_copy(update={"request_id": "again"}))
    assert sum(1 for d in chat.uow.docs[ORIGINALS].values() if d.get("text") == f"card {CARD}") == 1


async def test_the_policy_is_the_admins_and_is_announced(chat):
    refused = await chat.rejected(c.ConfigureMasking(email=False, actor=agent("a1")))
    assert refused.code == "forbidden"
    bad = await chat.rejected(c.ConfigureMasking(phone_regions=["XX"], actor=ADMIN))
    assert bad.code == "invalid_argument" and "XX" in bad.reason
    await chat.accepted(c.ConfigureMasking(email=False, originals_roles=["agent", "admin"], phone_regions=["LV"],
                                           actor=ADMIN))
    configured = chat.events(c.MaskingConfigured)[-1]
    assert configured.kinds == ["card", "iban", "ssn", "phone"]
    assert configured.originals_roles == ["admin", "agent"] and configured.phone_regions == ["LV"]
    await start(chat)
    assert chat.events(c.MessagePosted)[0].text == f"Hi, my card {MASKED_CARD} was charged twice, write to {EMAIL}"


async def test_policies_are_per_tenant(chat):
    await chat.accepted(c.ConfigureMasking(card=False, actor=ADMIN), tenant="t2")
    await start(chat)
    assert chat.events(c.MessagePosted)[0].text == FIRST_MASKED


async def test_a_wrap_up_note_is_masked(chat):
    await start(chat)
    await chat.assign()
    await chat.accepted(c.WrapUp(conversation_id="c1", note=f"customer gave {EMAIL}", actor=agent("a1")))
    assert EMAIL not in published_text(chat)
    assert chat.uow.docs["conversations"]["t1|c1"]["wrap_up_note"] == f"customer gave {MASKED_EMAIL}"


# --- the read API: originals and search ------------------------------------------------------------------

@pytest.fixture
async def http(chat) -> AsyncIterator[httpx.AsyncClient]:
    runtime, _ = build(ChatSettings(), uow=chat.uow, repositories=in_memory_repositories,
                       queries=InMemoryChatQueries(chat.uow), masking_queries=InMemoryMaskingQueries(chat.uow))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.asgi_app()),
                                 base_url="http://chat") as client:
        yield client
    await runtime.mongo.close()


async def test_originals_only_for_the_roles_the_policy_allows(chat, http):
    await start(chat)
    refused = await http.get("/internal/tenants/t1/conversations/c1/originals", params={"role": "agent"})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    page = await http.get("/internal/tenants/t1/conversations/c1/originals", params={"role": "admin"})
    assert page.status_code == 200
    body = page.json()
    assert body["messages"][0]["text"] == FIRST and body["messages"][0]["masked"] is True
    assert body["customer"]["name"] == PHONE and body["context"]["variables"] == {"card": CARD}
    plain = await http.get("/internal/tenants/t1/conversations/c1/messages")
    assert plain.json()["messages"][0]["text"] == FIRST_MASKED
    await chat.accepted(c.ConfigureMasking(originals_roles=["agent"], actor=ADMIN))
    assert (await http.get("/internal/tenants/t1/conversations/c1/originals",
                           params={"role": "agent"})).status_code == 200
    assert (await http.get("/internal/tenants/t1/conversations/c1/originals",
                           params={"role": "admin"})).status_code == 403
    assert (await http.get("/internal/tenants/t1/conversations/nope/originals",
                           params={"role": "agent"})).status_code == 404
    policy = (await http.get("/internal/tenants/t1/masking")).json()
    assert policy["originals_roles"] == ["agent"] and policy["configured"] is True


async def test_search_finds_words_but_never_a_masked_number(chat, http):
    await start(chat)

    async def hits(q: str, **body) -> list[str]:
        found = await http.post("/internal/tenants/t1/search", json={"q": q, **body})
        assert found.status_code == 200, found.text
        return [h["conversation_id"] for h in found.json()["hits"]]

    assert await hits("charged twice") == ["c1"]
    assert await hits("CHARGED", conversation_ids=["c1"]) == ["c1"]
    assert await hits("charged", conversation_ids=["someone-elses"]) == []
    for secret in (CARD, CARD.replace(" ", ""), EMAIL, "melissa", "4111 1111"):
        assert await hits(secret) == [], secret
    for no_words in ("  ", ".*"):  # words as typed, never a pattern
        assert (await http.post("/internal/tenants/t1/search", json={"q": no_words})).status_code == 422


# --- dead letters and logs ------------------------------------------------------------------------------

async def test_a_broken_records_dead_letter_is_masked():
    letters = []

    async def sink(env) -> None:
        letters.append(env.payload)

    dispatcher = MessageDispatcher(group="chat", dead_letter=sink, handlers={}, redact=redact)
    broken = {"event_id": "e1", "type": "chat.SendMessage", "schema_version": 1, "tenant_id": "t1", "key": "c1",
              "producer": "test", "occurred_at": "2026-01-05T09:00:00Z",
              "payload": {"conversation_id": "c1", "client_message_id": "m1", "text": f"card {CARD}",
                          "private": "not a bool", "customer_email": EMAIL}}
    await dispatcher.dispatch(Record("chat.commands", 0, 7, b"c1", json.dumps(broken).encode()))
    (letter,) = letters
    assert CARD not in letter.value and EMAIL not in letter.value and MASKED_CARD in letter.value
    assert CARD not in letter.reason and "4111111111111111" not in letter.reason
    json.loads(letter.value)  # still the record's JSON


def test_log_lines_are_masked():
    line = mask_log_line(None, "info", {"event": f"failed on {CARD}", "error": ValueError(f"bad {EMAIL}"),
                                        "attempt": 2, "timestamp": "2026-01-05T09:00:00Z", "ids": [PHONE]})
    assert line == {"event": f"failed on {MASKED_CARD}", "error": f"bad {MASKED_EMAIL}", "attempt": 2,
                    "timestamp": "2026-01-05T09:00:00Z", "ids": f"['{MASKED_PHONE}']"}

