"""U5 in chat, on the fakes: a customer linked to a contact (customer.CustomerLinked) is named by the contact in the
linked conversation and in its other open ones (not in closed ones, not another customer's, not another tenant's),
announced with CustomerIdentified to the agents on it; the name is masked like any name; a redelivery changes
nothing."""

from __future__ import annotations

from typing import Any

import pytest

from services.chat.adapters.documents import CONVERSATIONS
from services.chat.adapters.masking import ORIGINALS
from shared.contracts import chat as c
from shared.contracts import customer as cu
from shared.contracts.envelope import Envelope, wrap
from shared.mongo import AlreadyProcessed, consuming
from tests.unit.chat.harness import Chat, customer

pytestmark = pytest.mark.unit


@pytest.fixture
def chat() -> Chat:
    return Chat()


async def linked(chat: Chat, conversation: str = "c1", customer: str = "cu1", name: str | None = "Jānis Bērziņš",
                 tenant: str = "t1", **fields: Any) -> Envelope[Any]:
    event = cu.CustomerLinked(customer_id=customer, conversation_id=conversation, contact_id="k1" if name else None,
                              account_id="a1", name=name, company="Horns", at=chat.now, **fields)
    env = wrap(event, tenant_id=tenant, key=customer, producer="customer")
    await deliver(chat, env)
    return env


async def deliver(chat: Chat, env: Envelope[Any]) -> None:
    with consuming(env.event_id):
        await chat.handlers.handle_customer_event(env)


def stored(chat: Chat, conversation: str, tenant: str = "t1") -> dict[str, Any]:
    return chat.uow.docs[CONVERSATIONS][f"{tenant}|{conversation}"]


async def test_the_linked_conversation_and_the_customers_other_open_ones_take_the_contacts_name(chat):
    await chat.active("c1", "a1")
    await chat.start("c2", queue_id="q2")  # the same customer, waiting elsewhere
    await chat.start("c3")
    await chat.accepted(c.EndConversation(conversation_id="c3", actor=customer("cu1")))  # closed before the link
    await chat.start("c4", customer_id="cu2")  # another customer
    chat.tick(5)
    env = await linked(chat)
    assert {cid: stored(chat, cid)["customer"]["name"] for cid in ("c1", "c2", "c3", "c4")} == {
        "c1": "Jānis Bērziņš", "c2": "Jānis Bērziņš", "c3": "Melissa", "c4": "Melissa"}
    assert stored(chat, "c1")["contact_id"] == "k1"
    told = {e.conversation_id: e for e in chat.events(c.CustomerIdentified)}
    assert set(told) == {"c1", "c2"}
    assert (told["c1"].customer_name, told["c1"].agents, told["c1"].contact_id) == ("Jānis Bērziņš", ["a1"], "k1")
    assert told["c2"].agents == []

    with pytest.raises(AlreadyProcessed):
        await deliver(chat, env)
    await linked(chat)  # the same link again (another event): nothing changes, nothing is announced
    assert len(chat.events(c.CustomerIdentified)) == 2


async def test_a_closed_conversation_linked_itself_takes_the_name_and_an_account_alone_keeps_it(chat):
    await chat.start("c1")
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=customer("cu1")))
    await linked(chat, name=None)  # an account only: no name to take
    assert stored(chat, "c1")["customer"]["name"] == "Melissa" and chat.events(c.CustomerIdentified) == []
    await linked(chat, name="Dana Ozola")
    assert stored(chat, "c1")["customer"]["name"] == "Dana Ozola"
    (told,) = chat.events(c.CustomerIdentified)
    assert told.conversation_id == "c1" and told.agents == []


async def test_the_name_is_masked_like_any_name_and_its_original_kept_beside(chat):
    await chat.active("c1", "a1")
    chat.tick()
    await linked(chat, name="+447966197542")
    assert stored(chat, "c1")["customer"]["name"] == "*********7542"
    assert chat.events(c.CustomerIdentified)[0].customer_name == "*********7542"
    kept = next(d for d in chat.uow.docs[ORIGINALS].values() if d["kind"] == "conversation")
    assert kept["fields"]["customer_name"] == "+447966197542"


async def test_another_tenants_link_changes_nothing_here(chat):
    await chat.active("c1", "a1")
    await linked(chat, tenant="t2")
    assert stored(chat, "c1")["customer"]["name"] == "Melissa"
    assert chat.events(c.CustomerIdentified, tenant="t2") == [] and chat.events(c.CustomerIdentified) == []


async def test_the_announcement_carries_the_links_time_not_chats(chat):
    # The gateway's view keeps the later of the two sides of a link (customer's CustomerLinked, chat's
    # CustomerIdentified); stamped with chat's own clock, chat's side of the same link looked later and, arriving
    # first, made the customer service's side (with the account and company) look stale: CI saw the account lost.
    await chat.active("c1", "a1")
    link_time = chat.now
    event = cu.CustomerLinked(customer_id="cu1", conversation_id="c1", contact_id="k1", account_id="a1",
                              name="Ann", company="Acme", at=link_time)
    chat.tick(3)  # chat hears it later
    await deliver(chat, wrap(event, tenant_id="t1", key="cu1", producer="customer"))
    (told,) = chat.events(c.CustomerIdentified)
    assert told.at == link_time
    assert stored(chat, "c1")["updated_at"] == chat.now  # the conversation itself changed now
