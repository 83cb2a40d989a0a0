"""C4 through the gateway: a card number and an e-mail a customer sends arrive masked on the agent's socket, in
the offer preview, in a plain consumer of chat.events and in the dead letters of a broken record; chat's log
never carries them; an admin the policy allows reads the originals, an agent gets 403; searching the card
number finds nothing, an ordinary word finds the conversation."""

from __future__ import annotations

import asyncio
import json
import random
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from stdnum import luhn

from shared.contracts import chat
from shared.contracts.catalogue import CHAT_COMMANDS, CHAT_EVENTS, DEAD_LETTERS
from shared.contracts.envelope import Actor, encode, wrap
from shared.testing.kafka import produce
from tests.e2e.helpers import accept, available, message, offer_for

pytestmark = pytest.mark.e2e


def new_card() -> tuple[str, str]:
    """A Luhn-valid Visa number of this run only (so no other test's traffic can hold it), and its masked form."""
    body = "4" + "".join(random.choice("0123456789") for _ in range(14))
    digits = body + luhn.calc_check_digit(body)
    return " ".join(digits[i:i + 4] for i in range(0, 16, 4)), "*" * 12 + digits[-4:]


async def records_until(bootstrap: str, topic: str, done, timeout_s: float = 30.0) -> list[str]:
    """A plain consumer (no group, from the beginning), as an analyst's would be: raw record values, until
    `done(values)` holds or the deadline passes."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    values: list[str] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done(values):
            assert loop.time() < deadline, f"{topic}: condition not met in {timeout_s} s ({len(values)} records)"
            batches = await consumer.getmany(timeout_ms=500)
            values += [r.value.decode() for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    return values


async def test_a_card_number_and_an_email_leave_chat_masked_everywhere(tenant):
    card, masked_card = new_card()
    plain_card = card.replace(" ", "")
    email = f"melissa.{uuid.uuid4().hex[:8]}@gmail.com"
    masked_email = email[0] + "*" * (email.index("@") - 1) + email[email.index("@"):]
    secrets = (card, plain_card, email)

    agent = await tenant.agent("alice")
    await tenant.queue("billing", ["alice"])
    assert (await tenant.admin.patch("/v1/admin/staff/admin", {"supervises": ["billing"]})).status_code == 200
    desk = await tenant.stream(agent)
    await available(agent)

    customer, started = await tenant.customer("billing", message=f"Refund please, card {card}, mail {email}")
    cid = started["conversation_id"]
    offer = await offer_for(desk, cid)
    assert masked_card in offer["preview"] and masked_email in offer["preview"], offer
    await accept(agent, desk, cid)
    sent = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                               {"client_message_id": "m2", "text": f"The card again: {card}"})
    assert sent.status_code == 200, sent.text
    frame = await desk.wait_for(message(f"The card again: {masked_card}"), what="the masked message on the desk")
    for seen in (json.dumps(offer), json.dumps(frame), json.dumps(desk.frames)):
        assert not any(s in seen for s in secrets)

    # A plain consumer of chat.events (the analysts' topic) sees masked text only.
    ours = lambda values: [v for v in values if cid in v]  # noqa: E731
    events = await records_until(tenant.system.kafka_bootstrap, CHAT_EVENTS.name,
                                 lambda values: sum('"chat.MessagePosted"' in v for v in ours(values)) >= 2)
    assert any(masked_card in v for v in ours(events)) and any(masked_email in v for v in ours(events))
    assert not any(s in v for v in events for s in secrets)

    # A broken record on chat.commands (its payload fails validation) is dead-lettered masked.
    envelope = wrap(chat.SendMessage(conversation_id=cid, client_message_id="m3", text=f"card {card}, {email}",
                                     actor=Actor(user_id=started["customer_id"], role="customer")),
                    tenant_id=tenant.id, key=cid, producer="test")
    broken = json.loads(encode(envelope))
    broken["payload"]["private"] = "not a boolean"
    broken_id = envelope.event_id
    await produce(tenant.system.kafka_bootstrap, CHAT_COMMANDS.name, json.dumps(broken).encode(), cid.encode())
    letters = await records_until(tenant.system.kafka_bootstrap, DEAD_LETTERS.name,
                                  lambda values: any(broken_id in v for v in values))
    letter = json.loads(next(v for v in letters if broken_id in v))["payload"]
    assert masked_card in letter["value"] and masked_email in letter["value"], letter
    assert not any(s in letter["value"] or s in letter["reason"] for s in secrets), letter
    assert "private" in letter["reason"]

    # The originals: for the admin (the default policy's only role), not for the agent.
    refused = await agent.get(f"/v1/agent/conversations/{cid}/messages", originals="true")
    assert refused.status_code == 403, refused.text
    assert "admin" in refused.json()["detail"]["detail"]
    originals = await tenant.admin.get(f"/v1/agent/conversations/{cid}/messages", originals="true")
    assert originals.status_code == 200, originals.text
    texts = [m["text"] for m in originals.json()["messages"]]
    assert texts[:2] == [f"Refund please, card {card}, mail {email}", f"The card again: {card}"]
    transcript = await tenant.admin.get(f"/v1/conversations/{cid}/messages")
    assert not any(s in transcript.text for s in secrets) and masked_card in transcript.text

    # Search: masked text only.
    for query in (card, plain_card, email):
        found = await agent.get("/v1/agent/search", q=query)
        assert found.status_code == 200 and found.json()["hits"] == [], (query, found.text)
    found = await agent.get("/v1/agent/search", q="refund", customer_id=started["customer_id"])
    assert found.status_code == 200, found.text
    assert [h["conversation_id"] for h in found.json()["hits"]] == [cid]
    assert found.json()["hits"][0]["text"] == f"Refund please, card {masked_card}, mail {masked_email}"

    # Nothing chat logged carries them (the dead letter's error line included).
    assert "dead-lettered" in tenant.system.service_log("chat")
    assert not any(s in tenant.system.service_log("chat") for s in secrets)


async def test_an_admin_chooses_what_is_masked_and_who_reads_originals(tenant):
    assert (await tenant.agent("bob")).token
    policy = await tenant.admin.get("/v1/admin/masking")
    assert policy.status_code == 200 and policy.json()["configured"] is False
    assert policy.json()["originals_roles"] == ["admin"]
    bob = await tenant.sign_in("bob")
    assert (await bob.put("/v1/admin/masking", {"email": False})).status_code == 403
    changed = await tenant.admin.put("/v1/admin/masking", {"email": False, "originals_roles": ["agent", "admin"]})
    assert changed.status_code == 200, changed.text
    bad = await tenant.admin.put("/v1/admin/masking", {"phone_regions": ["XX"]})
    assert bad.status_code == 422 and "XX" in bad.json()["reason"], bad.text
    now = (await tenant.admin.get("/v1/admin/masking")).json()
    assert now["email"] is False and now["configured"] is True and now["originals_roles"] == ["admin", "agent"]

    await tenant.queue("sales", ["bob"])
    desk = await tenant.stream(bob)
    await available(bob)
    card, masked_card = new_card()
    _, started = await tenant.customer("sales", message=f"card {card}, mail dana@example.com")
    cid = started["conversation_id"]
    offer = await offer_for(desk, cid)
    assert offer["preview"] == f"card {masked_card}, mail dana@example.com"
    await accept(bob, desk, cid)
    originals = await bob.get(f"/v1/agent/conversations/{cid}/messages", originals="true")
    assert originals.status_code == 200, originals.text
    assert originals.json()["messages"][0]["text"] == f"card {card}, mail dana@example.com"
