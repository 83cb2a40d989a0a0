"""C6 through the gateway: history search over masked text, ranked, with marked snippets, scoped to one
conversation, a customer's conversations or a contact's customers', and without a scope to all the caller may
read; another agent's conversations and the original card number are never found."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import accept, available, eventually, message
from tests.e2e.test_masking import new_card

pytestmark = pytest.mark.e2e


def texts(found) -> list[str]:
    assert found.status_code == 200, found.text
    return [h["text"] for h in found.json()["hits"]]


async def test_history_search_is_ranked_marked_scoped_and_authorised(tenant):
    card, masked_card = new_card()
    alice, bob = await tenant.agent("alice"), await tenant.agent("bob")
    sue = await tenant.agent("sue", role="supervisor")
    await tenant.queue("support", ["alice"])
    await tenant.queue("sales", ["bob"])
    assert (await tenant.admin.patch("/v1/admin/staff/sue", {"supervises": ["sales"]})).status_code == 200
    alice_desk, bob_desk = await tenant.stream(alice), await tenant.stream(bob)
    await available(alice)
    await available(bob)
    assert (await tenant.admin.post("/v1/contacts", {"contact_id": "ann", "full_name": "Ann Lindqvist"})
            ).status_code == 200

    # One visitor, two conversations with alice; another visitor's with bob.
    widget, first = await tenant.customer("support", "Hello, my parcel never arrived")
    c1 = first["conversation_id"]
    await accept(alice, alice_desk, c1)
    text = f"My card {card} was charged twice for the parcel, and the parcel is still not here"
    sent = await widget.post(f"/v1/widget/conversations/{c1}/messages", {"client_message_id": "m2", "text": text})
    assert sent.status_code == 200, sent.text
    await alice_desk.wait_for(message(text.replace(card, masked_card)), what="the masked message")
    _, second = await tenant.customer("support", "Parcel refund please", visitor_token=first["visitor_token"])
    c2 = second["conversation_id"]
    assert second["customer_id"] == first["customer_id"]
    await accept(alice, alice_desk, c2)
    _, third = await tenant.customer("sales", "Where is my parcel?")
    c3 = third["conversation_id"]
    await accept(bob, bob_desk, c3)

    # Alice, no scope: her conversations only, best first (the short message naming the parcel once ranks
    # above the long one naming it twice, whose snippet marks both), never bob's.
    found = await alice.get("/v1/agent/search", q="parcel")
    assert texts(found) == ["Parcel refund please", "Hello, my parcel never arrived",
                            text.replace(card, masked_card)], found.text
    hits = found.json()["hits"]
    assert [h["conversation_id"] for h in hits] == [c2, c1, c1]
    assert [f["text"] for f in hits[2]["snippet"] if f["match"]] == ["parcel", "parcel"]
    assert "".join(f["text"] for f in hits[2]["snippet"]) == text.replace(card, masked_card)
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    assert texts(await bob.get("/v1/agent/search", q="parcel")) == ["Where is my parcel?"]
    assert texts(await sue.get("/v1/agent/search", q="parcel")) == ["Where is my parcel?"]  # supervises sales
    assert texts(await alice.get("/v1/agent/search", q="charged twi")) == [text.replace(card, masked_card)]

    # Masked text only: the card number finds nothing, for anyone.
    for q in (card, card.replace(" ", ""), card[:9]):
        assert texts(await alice.get("/v1/agent/search", q=q)) == [], q

    # Within one conversation, one customer's, one contact's customers'.
    assert texts(await alice.get("/v1/agent/search", q="parcel", conversation_id=c2)) == ["Parcel refund please"]
    refused = await alice.get("/v1/agent/search", q="parcel", conversation_id=c3)
    assert refused.status_code in (403, 404), refused.text
    assert len(texts(await alice.get("/v1/agent/search", q="parcel", customer_id=first["customer_id"]))) == 3
    assert texts(await alice.get("/v1/agent/search", q="parcel", customer_id=third["customer_id"])) == []
    assert texts(await bob.get("/v1/agent/search", q="parcel", customer_id=first["customer_id"])) == []
    assert texts(await alice.get("/v1/agent/search", q="parcel", contact_id="ann")) == []  # nobody linked yet
    assert (await alice.post(f"/v1/conversations/{c1}/link", {"contact_id": "ann"})).status_code == 200
    linked = await eventually(lambda: alice.get("/v1/agent/search", q="parcel", contact_id="ann"),
                              lambda r: r.status_code == 200 and len(r.json()["hits"]) == 3, "the contact's history")
    assert {h["conversation_id"] for h in linked.json()["hits"]} == {c1, c2}
    assert (await alice.get("/v1/agent/search", q="parcel", contact_id="nobody")).status_code == 404

    # Refused: no words, two scopes at once.
    assert (await alice.get("/v1/agent/search", q="?!")).status_code == 422
    assert (await alice.get("/v1/agent/search", q="parcel", customer_id="x", conversation_id=c1)).status_code == 422
