"""A contact erased on request (customer.ContactErased): its cases stay, without its link, name or description;
notes on it and on its cases and its service requests' details read "[erased]"; cases' links of its chat
customers go; the run is recorded (ids and counts only); another contact's records are untouched."""

from __future__ import annotations

import pytest

from shared.contracts import cases as c
from shared.contracts import customer
from tests.unit.cases.harness import T0, Cases, started

pytestmark = pytest.mark.unit


async def test_a_contacts_erasure_leaves_its_cases_without_anything_personal():
    cases = Cases()
    await cases.feed(customer.CustomerLinked(customer_id="visitor-1", conversation_id="conv1", contact_id="ann",
                                             account_id=None, name="Ann", company=None, at=T0), producer="customer")
    await cases.feed(customer.ContactChanged(contact_id="ann", version=1, full_name="Ann Lee", account_id=None,
                                             changed=["full_name"], at=T0), producer="customer")
    await cases.feed(started("conv1"))
    await cases.ok(c.OpenCase(case_id="k1", fields=c.CaseFields(title="Refund", description="Ann's card was charged "
                                                                "twice", contact_id="ann")))
    await cases.ok(c.OpenCase(case_id="k2", fields=c.CaseFields(title="Other", description="Bob's", contact_id="bob")))
    await cases.ok(c.AddQuickNote(note_id="n1", record_kind="contact", record_id="ann", text="Ann prefers calls"))
    await cases.ok(c.AddQuickNote(note_id="n2", record_kind="case", record_id="k1", text="Ann's IBAN is ..."))
    await cases.ok(c.AddQuickNote(note_id="n3", record_kind="case", record_id="k2", text="Bob's note"))
    await cases.ok(c.RegisterServiceRequest(service_request_id="sr1", conversation_id="conv1", title="New card",
                                            details="Send to Ann's home address"))

    erased = customer.ContactErased(contact_id="ann", customer_ids=["visitor-1"], counts={}, erased_by="root", at=T0)
    await cases.feed(erased, producer="customer")

    k1 = cases.stored("cases", "k1")
    assert (k1["fields"]["contact_id"], k1["fields"]["description"], k1["customer_name"], k1.get("contact_id")) == (
        None, "[erased]", "", None)
    assert k1["fields"]["title"] == "Refund"  # the record of work stays
    assert cases.stored("notes", "n1")["text"] == cases.stored("notes", "n2")["text"] == "[erased]"
    assert cases.stored("notes", "n3")["text"] == "Bob's note"
    assert cases.stored("cases", "k2")["fields"]["description"] == "Bob's"
    sr = cases.stored("service_requests", "sr1")
    assert (sr["details"], sr["contact_id"]) == ("[erased]", None)
    assert "t1|visitor-1" not in cases.uow.docs.get("customer_links", {})
    assert "t1|contact|ann" not in cases.uow.docs.get("customer_names", {})
    run = cases.stored("erasures", "ann")["runs"][0]
    assert run["counts"] == {"cases": 1, "notes": 2, "service_requests": 1, "names": 1, "links": 1,
                             "conversations": 1}
    assert "Ann" not in str(cases.stored("erasures", "ann"))

    # the next conversation of that visitor is not linked to anything any more
    await cases.feed(started("conv2"))
    assert cases.stored("conversations", "conv2")["contact_id"] is None
