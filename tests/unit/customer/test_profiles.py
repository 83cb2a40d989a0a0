"""Customer's contact and account use cases through its real handlers on the in-memory unit of work:
checked and normalised fields, inline edits against a version, unique e-mail and login, references."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.customer.handlers import CustomerHandlers
from shared.contracts import customer as c
from shared.contracts.answers import CommandAccepted, CommandRejected
from shared.contracts.catalogue import CUSTOMER_EVENTS
from shared.contracts.envelope import Actor, wrap
from shared.mongo import consuming
from shared.testing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit

AGENT = Actor(user_id="alice", role="agent")
ADMIN = Actor(user_id="root", role="admin")
T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


class Customer:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.handlers = CustomerHandlers(self.uow, clock=lambda: T0)

    async def send(self, command: c.CustomerCommand, tenant: str = "t1") -> CommandAccepted | CommandRejected:
        env = wrap(command, tenant_id=tenant, key=getattr(command, command.KEY), producer="gateway")
        with consuming(env.event_id):
            await self.handlers.handle_command(env)
        return [e.payload for e in self.uow.emitted(CUSTOMER_EVENTS.name) if isinstance(
            e.payload, CommandAccepted | CommandRejected) and e.payload.request_id == command.request_id][-1]

    async def ok(self, command: c.CustomerCommand, tenant: str = "t1") -> CommandAccepted:
        answer = await self.send(command, tenant)
        assert isinstance(answer, CommandAccepted), answer
        return answer

    async def refused(self, command: c.CustomerCommand, code: str, tenant: str = "t1") -> str:
        answer = await self.send(command, tenant)
        assert isinstance(answer, CommandRejected) and answer.code == code, answer
        return answer.reason

    def events(self, type_: type) -> list[Any]:
        return [e.payload for e in self.uow.emitted(CUSTOMER_EVENTS.name) if isinstance(e.payload, type_)]

    def stored(self, kind: str, record_id: str, tenant: str = "t1") -> dict[str, Any]:
        return self.uow.docs[f"{kind}s"][f"{tenant}|{record_id}"]


@pytest.fixture
def customer() -> Customer:
    return Customer()


def contact(cid: str = "k1", **fields: Any) -> c.CreateContact:
    return c.CreateContact(contact_id=cid, actor=AGENT, fields=c.ContactFields(**{"full_name": "Ķīsis Bērziņš",
                                                                                 **fields}))


async def test_a_contact_is_created_with_its_fields_checked_and_normalised(customer):
    answer = await customer.ok(contact(email="Janis@Example.LV", phone="29 123 456", region="LV", login_id="janis"))
    assert answer.result_id == "k1"
    doc = customer.stored("contact", "k1")
    assert doc["fields"]["email"] == "Janis@example.lv" and doc["fields"]["phone"] == "+37129123456"
    assert doc["words"] == ["kisis", "berzins"] and doc["version"] == 1
    (event,) = customer.events(c.ContactChanged)
    assert (event.full_name, event.version, event.changed) == ("Ķīsis Bērziņš", 1,
                                                               ["email", "full_name", "login_id", "phone", "region"])
    assert "Janis@" not in event.model_dump_json() and "29123456" not in event.model_dump_json()


async def test_malformed_input_is_refused_with_the_reason(customer):
    assert "not an e-mail" in await customer.refused(contact(email="janis.example.lv"), "invalid_argument")
    assert "phone" in await customer.refused(contact(phone="12345"), "invalid_argument")
    assert "needs one" in await customer.refused(
        c.CreateContact(contact_id="k2", actor=AGENT, fields=c.ContactFields(email="a@b.lv")), "invalid_argument")
    assert "not a valid RU tax id" in await customer.refused(c.CreateAccount(
        account_id="a1", actor=ADMIN, fields=c.AccountFields(name="Horns", tax_id="7707083894", country="RU")),
        "invalid_argument")
    await customer.ok(c.CreateAccount(account_id="a1", actor=ADMIN, fields=c.AccountFields(
        name="Roga i Kopyta", tax_id="7707083893", country="RU")))
    assert customer.stored("account", "a1")["tax_id"] == "7707083893"


async def test_an_inline_edit_needs_the_current_version(customer):
    await customer.ok(contact(position="Engineer"))
    await customer.ok(c.UpdateContact(contact_id="k1", version=1, actor=AGENT,
                                      changes=c.ContactFields(position="Lead engineer"), clear=[]))
    reason = await customer.refused(c.UpdateContact(contact_id="k1", version=1, actor=AGENT,
                                                    changes=c.ContactFields(department="R&D")), "version_conflict")
    assert "version 2" in reason
    assert customer.stored("contact", "k1")["fields"]["department"] is None
    await customer.ok(c.UpdateContact(contact_id="k1", version=2, actor=AGENT, clear=["position"]))
    doc = customer.stored("contact", "k1")
    assert doc["version"] == 3 and doc["fields"]["position"] is None
    assert [e.changed for e in customer.events(c.ContactChanged)][1:] == [["position"], ["position"]]


async def test_an_edit_that_changes_nothing_keeps_the_version_and_says_nothing(customer):
    await customer.ok(contact(email="a@b.lv"))
    await customer.ok(c.UpdateContact(contact_id="k1", version=1, actor=AGENT,
                                      changes=c.ContactFields(email="a@B.LV")))  # the same address, normalised
    assert customer.stored("contact", "k1")["version"] == 1 and len(customer.events(c.ContactChanged)) == 1


async def test_the_required_name_cannot_be_cleared_and_a_field_not_both_set_and_cleared(customer):
    await customer.ok(contact())
    assert "cannot be without" in await customer.refused(
        c.UpdateContact(contact_id="k1", version=1, actor=AGENT, clear=["full_name"]), "invalid_argument")
    assert "both set and cleared" in await customer.refused(c.UpdateContact(
        contact_id="k1", version=1, actor=AGENT, changes=c.ContactFields(region="LV"), clear=["region"]),
        "invalid_argument")


async def test_e_mail_and_login_are_unique_in_a_tenant_not_across_tenants(customer):
    await customer.ok(contact("k1", email="X@example.com", login_id="x"))
    assert "already contact k1's" in await customer.refused(contact("k2", email="x@example.com"), "conflict")
    assert "already contact k1's" in await customer.refused(contact("k3", login_id="x"), "conflict")
    await customer.ok(contact("k2", email="x@example.com", login_id="x"), tenant="t2")
    await customer.ok(contact("k4", email="y@example.com"))
    assert "already" in await customer.refused(c.UpdateContact(
        contact_id="k4", version=1, actor=AGENT, changes=c.ContactFields(email="x@example.com")), "conflict")


async def test_references_must_exist_and_accounts_are_for_supervisors_and_admins(customer):
    assert "account a1 does not exist" in await customer.refused(contact(account_id="a1"), "invalid_argument")
    assert "may not" in await customer.refused(c.CreateAccount(
        account_id="a1", actor=AGENT, fields=c.AccountFields(name="Acme")), "forbidden")
    await customer.ok(c.CreateAccount(account_id="a1", actor=ADMIN, fields=c.AccountFields(name="Acme")))
    await customer.ok(contact(account_id="a1"))
    assert "contact nobody does not exist" in await customer.refused(c.UpdateAccount(
        account_id="a1", version=1, actor=ADMIN, changes=c.AccountFields(primary_contact_id="nobody")),
        "invalid_argument")
    await customer.ok(c.UpdateAccount(account_id="a1", version=1, actor=ADMIN,
                                      changes=c.AccountFields(primary_contact_id="k1")))
    assert "not_found" == (await customer.send(c.UpdateContact(contact_id="zz", version=1, actor=AGENT))).code


async def test_a_repeated_request_is_answered_once(customer):
    first = contact()
    await customer.ok(first)
    again = await customer.send(first.model_copy(update={"fields": c.ContactFields(full_name="Other")}))
    assert isinstance(again, CommandAccepted) and again.result_id == "k1"
    assert customer.stored("contact", "k1")["fields"]["full_name"] == "Ķīsis Bērziņš"
