"""Erasing a contact (privacy) on the fakes: the contact, its links, its customers' line rows, line records and
agents' ties go, an account naming it as primary contact lets go of it, ContactErased carries ids and counts
only, the record that it happened keeps no personal data; again is harmless; unknown or another tenant's: 404."""

from __future__ import annotations

import json

import pytest

from shared.contracts import customer as c
from shared.contracts.envelope import Actor
from tests.unit.customer.test_lines import Lines, message, started, state
from tests.unit.customer.test_profiles import ADMIN, AGENT, T0, contact

pytestmark = pytest.mark.unit

SUPERVISOR = Actor(user_id="sue", role="supervisor")


@pytest.fixture
def lines() -> Lines:
    return Lines()


async def linked_contact(lines: Lines) -> None:
    """k1 (Jānis, e-mail, phone) with account a1 whose primary contact it is; chat customer cu1 on two lines,
    linked to k1; alice's favourite; cu2 on the line too, not linked."""
    await lines.ok(contact("k1", email="janis@example.lv", phone="+37129123456"))
    await lines.ok(c.CreateAccount(account_id="a1", actor=ADMIN, fields=c.AccountFields(name="Roga",
                                                                                         primary_contact_id="k1")))
    await lines.ok(c.UpdateContact(contact_id="k1", version=1, actor=AGENT, changes=c.ContactFields(account_id="a1")))
    await lines.chat_says(started("c1", customer="cu1", line="support", name="Visitor 1"))
    await lines.chat_says(started("c2", customer="cu1", line="sales", name="Visitor 1"))
    await lines.chat_says(started("c3", customer="cu2", line="support", name="Visitor 2"))
    await lines.ok(c.LinkCustomer(customer_id="cu1", conversation_id="c1", contact_id="k1", actor=AGENT))
    await lines.ok(c.TieToUser(customer_id="cu1", favourite=True, actor=AGENT))


def of(lines: Lines, collection: str, customer_id: str) -> list[dict]:
    return [d for d in lines.uow.docs.get(collection, {}).values() if d.get("customer_id") == customer_id]


async def test_erasure_deletes_the_contact_and_what_hangs_on_it_and_keeps_only_the_record(lines):
    await linked_contact(lines)
    assert of(lines, "line_users", "cu1") and of(lines, "agent_ties", "cu1") and of(lines, "customer_identities", "cu1")
    await lines.refused(c.EraseContact(contact_id="k1", actor=AGENT), "forbidden")
    await lines.refused(c.EraseContact(contact_id="k1", actor=SUPERVISOR), "forbidden")

    answer = await lines.ok(c.EraseContact(contact_id="k1", actor=ADMIN))
    assert answer.result_id == "k1"
    assert "t1|k1" not in lines.uow.docs["contacts"]
    for collection in ("line_users", "line_conversations", "agent_ties", "customer_identities"):
        assert of(lines, collection, "cu1") == [], collection
    assert "t1|contact|k1" not in lines.uow.docs.get("identity_refs", {})
    assert of(lines, "line_users", "cu2") and of(lines, "line_conversations", "cu2")  # another user: untouched
    account = lines.stored("account", "a1")
    assert account["fields"]["primary_contact_id"] is None and account["version"] == 2
    assert lines.uow.docs["identity_refs"].get("t1|account|a1", {"customers": []})["customers"] == []

    erased = lines.events(c.ContactErased)
    assert len(erased) == 1 and erased[0].customer_ids == ["cu1"] and erased[0].erased_by == "root"
    assert erased[0].counts == {"accounts_unlinked": 1, "agent_ties": 1, "contacts": 1, "line_conversations": 2,
                                "line_rows": 2, "link_refs": 1, "links": 1}
    record = lines.uow.docs["erasures"]["t1|k1"]
    assert record["runs"][0]["customer_ids"] == ["cu1"] and record["runs"][0]["by"] == "root"
    kept = json.dumps([record, erased[0].model_dump(mode="json")], default=str)
    for personal in ("janis", "Jānis", "37129123456", "Visitor 1", "Bērziņš"):
        assert personal.lower() not in kept.lower(), personal

    # Chat's later events about cu1's conversations find nothing to follow (no row comes back from them).
    await lines.chat_says(message("c1", "still there?", T0))
    await lines.chat_says(state("c1", "closed", []))
    assert of(lines, "line_users", "cu1") == [] and of(lines, "line_conversations", "cu1") == []


async def test_erasing_again_is_harmless_and_unknown_or_foreign_contacts_are_not_found(lines):
    await linked_contact(lines)
    await lines.ok(c.EraseContact(contact_id="k1", actor=ADMIN))
    before = {k: v for k, v in lines.uow.docs.items() if k not in ("erasures", "command_answers")}
    again = await lines.ok(c.EraseContact(contact_id="k1", actor=ADMIN))
    assert again.result_id == "k1"
    assert {k: v for k, v in lines.uow.docs.items() if k not in ("erasures", "command_answers")} == before
    repeat = lines.events(c.ContactErased)[-1]
    assert repeat.repeated and repeat.customer_ids == ["cu1"] and repeat.counts == {}
    assert len(lines.uow.docs["erasures"]["t1|k1"]["runs"]) == 2

    assert "does not exist" in await lines.refused(c.EraseContact(contact_id="nobody", actor=ADMIN), "not_found")
    await lines.ok(contact("k9"), tenant="t2")
    await lines.refused(c.EraseContact(contact_id="k9", actor=ADMIN), "not_found")
    assert "t2|k9" in lines.uow.docs["contacts"]
