"""Linking a chat customer to a contact or an account (U5) on the fakes: to an existing contact, to a contact
created from the conversation in the same transaction, relinking (said in the event), unknown records and bad
choices refused, and the customer's rows on every line it is on showing the contact's name and company, also
after the contact or the account is edited."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts import customer as c
from shared.contracts.envelope import Actor
from tests.unit.customer.test_lines import Lines, started
from tests.unit.customer.test_profiles import ADMIN, AGENT, contact

pytestmark = pytest.mark.unit


@pytest.fixture
def lines() -> Lines:
    return Lines()


def link(customer: str = "cu1", conversation: str = "c1", **target: Any) -> c.LinkCustomer:
    return c.LinkCustomer(customer_id=customer, conversation_id=conversation, actor=AGENT, **target)


async def horns(lines: Lines) -> None:
    await lines.ok(c.CreateAccount(account_id="a1", actor=ADMIN, fields=c.AccountFields(name="Roga i Kopyta")))


def row(lines: Lines, line: str = "support", customer: str = "cu1") -> tuple[str, str | None]:
    stored = lines.row(line, customer)
    return stored["name"], stored["company"]


async def test_linking_to_an_existing_contact_shows_its_name_and_company_on_every_line(lines):
    await horns(lines)
    await lines.ok(contact("k1", full_name="Jānis Bērziņš", account_id="a1", email="janis@example.lv"))
    await lines.chat_says(started("c1", name="Visitor 7"))
    await lines.chat_says(started("c2", name="Visitor 7").model_copy(update={"queue_id": "sales"}))
    answer = await lines.ok(link(contact_id="k1"))
    assert answer.result_id == "k1"
    assert row(lines) == row(lines, "sales") == ("Jānis Bērziņš", "Roga i Kopyta")
    assert lines.row("support", "cu1")["words"] == ["janis", "berzins"]  # searched by the contact's name
    (event,) = lines.events(c.CustomerLinked)
    assert (event.customer_id, event.conversation_id, event.contact_id, event.account_id, event.name,
            event.company, event.created) == ("cu1", "c1", "k1", "a1", "Jānis Bērziņš", "Roga i Kopyta", False)
    assert "janis@" not in event.model_dump_json()
    changed = [e for e in lines.events(c.LineUserChanged) if e.company]
    assert {(e.line_id, e.name, e.company) for e in changed} == {("support", "Jānis Bērziņš", "Roga i Kopyta"),
                                                                ("sales", "Jānis Bērziņš", "Roga i Kopyta")}

    await lines.chat_says(started("c3", name="Visitor 7").model_copy(update={"queue_id": "billing"}))
    assert row(lines, "billing") == ("Jānis Bērziņš", "Roga i Kopyta")  # a line joined later shows the link too
    await lines.chat_says(started("c4", name="Visitor 7"))  # chat's name again: the row keeps the contact's
    assert row(lines) == ("Jānis Bērziņš", "Roga i Kopyta")


async def test_a_contact_created_from_the_conversation_is_linked_in_the_same_transaction(lines):
    await lines.chat_says(started("c1", name="Visitor 3"))
    answer = await lines.ok(link(contact_id="new-1", create=c.ContactFields(full_name="Dana Ozola", position="CFO",
                                                                            phone="+37129123456")))
    assert answer.result_id == "new-1"
    assert lines.stored("contact", "new-1")["fields"]["phone"] == "+37129123456"
    assert row(lines) == ("Dana Ozola", "CFO")  # no account: its position (as for own staff)
    (created,) = lines.events(c.ContactChanged)
    (linked,) = lines.events(c.CustomerLinked)
    assert created.contact_id == linked.contact_id == "new-1" and linked.created
    assert "29123456" not in linked.model_dump_json()

    reason = await lines.refused(link(contact_id="new-2", create=c.ContactFields(position="no name")),
                                 "invalid_argument")
    assert "full_name" in reason
    assert "t1|new-2" not in lines.uow.docs["contacts"]  # a refused link creates nothing
    assert lines.uow.docs["customer_identities"]["t1|cu1"]["contact_id"] == "new-1"


async def test_linking_again_replaces_the_link_and_says_so(lines):
    await horns(lines)
    await lines.ok(contact("k1", full_name="First Person"))
    await lines.ok(contact("k2", full_name="Second Person", email="second@example.com"))
    await lines.chat_says(started("c1"))
    await lines.ok(link(contact_id="k1"))
    await lines.ok(link(contact_id="k2"))
    assert row(lines) == ("Second Person", None)
    await lines.ok(link(account_id="a1"))
    assert row(lines) == ("Dana", "Roga i Kopyta")  # an account alone: chat's name, the company
    first, second, third = lines.events(c.CustomerLinked)
    assert (first.replaced_contact_id, second.replaced_contact_id, third.replaced_contact_id) == (None, "k1", "k2")
    assert (third.contact_id, third.account_id, third.name) == (None, "a1", None)
    assert lines.uow.docs["identity_refs"]["t1|contact|k1"]["customers"] == []

    await lines.ok(c.UpdateContact(contact_id="k1", version=1, actor=AGENT, changes=c.ContactFields(
        full_name="Renamed")))
    assert row(lines) == ("Dana", "Roga i Kopyta")  # no longer linked to k1


async def test_rows_follow_the_contacts_and_the_accounts_edits(lines):
    await horns(lines)
    await lines.ok(c.CreateAccount(account_id="a2", actor=ADMIN, fields=c.AccountFields(name="Other Ltd")))
    await lines.ok(contact("k1", full_name="Jānis Bērziņš", position="CTO"))
    await lines.chat_says(started("c1"))
    await lines.chat_says(started("c2", customer="cu2", name="Visitor 9"))
    await lines.ok(link(contact_id="k1"))
    await lines.ok(link("cu2", "c2", contact_id="k1"))  # the same person from another device
    assert row(lines) == row(lines, customer="cu2") == ("Jānis Bērziņš", "CTO")

    await lines.ok(c.UpdateContact(contact_id="k1", version=1, actor=AGENT, changes=c.ContactFields(
        full_name="Jānis Ozols", account_id="a1")))
    assert row(lines) == row(lines, customer="cu2") == ("Jānis Ozols", "Roga i Kopyta")
    await lines.ok(c.UpdateAccount(account_id="a1", version=1, actor=ADMIN, changes=c.AccountFields(name="Horns")))
    assert row(lines) == row(lines, customer="cu2") == ("Jānis Ozols", "Horns")
    await lines.ok(c.UpdateContact(contact_id="k1", version=2, actor=AGENT, changes=c.ContactFields(account_id="a2")))
    assert row(lines) == ("Jānis Ozols", "Other Ltd")
    await lines.ok(c.UpdateAccount(account_id="a1", version=2, actor=ADMIN, changes=c.AccountFields(name="Old")))
    assert row(lines) == ("Jānis Ozols", "Other Ltd")  # no longer its company
    assert lines.uow.docs["identity_refs"]["t1|account|a1"]["customers"] == []


async def test_unknown_records_bad_choices_and_customers_are_refused(lines):
    await lines.chat_says(started("c1"))
    assert "contact k9 does not exist" in await lines.refused(link(contact_id="k9"), "not_found")
    assert "account a9 does not exist" in await lines.refused(link(account_id="a9"), "not_found")
    await lines.ok(contact("k1"))
    await horns(lines)
    assert "exactly one" in await lines.refused(link(contact_id="k1", account_id="a1"), "invalid_argument")
    assert "exactly one" in await lines.refused(link(), "invalid_argument")
    assert await lines.refused(link(contact_id="k1").model_copy(update={"actor": Actor(user_id="cu1",
                                                                                         role="customer")}),
                               "forbidden")
    assert await lines.refused(link(contact_id="k1"), "not_found", tenant="t2")  # another tenant's contact
    assert lines.events(c.CustomerLinked) == [] and row(lines) == ("Dana", None)
