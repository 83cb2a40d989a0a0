"""Cases (K1) and service requests (K3) through the real handlers on the in-memory unit of work: numbers,
inline edits against a version, status transitions, linking, automatic linking of a customer's single active
case, cases from offline messages, tenants apart."""

from __future__ import annotations

import pytest

from shared.contracts import cases as c
from shared.contracts import customer
from tests.unit.cases.harness import T0, Cases, posted, started

pytestmark = pytest.mark.unit


@pytest.fixture
def cases() -> Cases:
    return Cases()


def open_case(case_id: str = "k1", title: str = "Printer jams", **fields: object) -> c.OpenCase:
    return c.OpenCase(case_id=case_id, fields=c.CaseFields(title=title, **fields))


def linked(customer_id: str = "visitor-1", conversation_id: str = "conv1", contact_id: str | None = "ann",
           account_id: str | None = None) -> customer.CustomerLinked:
    return customer.CustomerLinked(customer_id=customer_id, conversation_id=conversation_id, contact_id=contact_id,
                                   account_id=account_id, name="Ann", company=None, at=T0)


async def test_numbers_follow_each_other_per_tenant_and_a_new_case_is_new_and_normal(cases):
    await cases.ok(open_case("k1"))
    await cases.ok(open_case("k2"))
    await cases.ok(open_case("k1"), tenant="t2")
    opened = cases.events(c.CaseChanged)
    assert [(e.case_id, e.number) for e in opened] == [("k1", "CAS-000001"), ("k2", "CAS-000002"),
                                                       ("k1", "CAS-000001")]
    assert (opened[0].status, opened[0].priority, opened[0].version, opened[0].by) == ("new", "normal", 1, "alice")
    assert await cases.refused(open_case("k1"), "conflict") == "case k1 already exists"
    assert "title" in await cases.refused(open_case("k3", title="   "), "invalid_argument")


async def test_a_stale_edit_is_refused_with_the_current_version(cases):
    await cases.ok(open_case())
    await cases.ok(c.EditCase(case_id="k1", version=1, changes=c.CaseFields(priority="high")))
    reason = await cases.refused(c.EditCase(case_id="k1", version=1, changes=c.CaseFields(title="Other")),
                                 "version_conflict")
    assert "at version 2" in reason
    last = cases.events(c.CaseChanged)[-1]
    assert (last.version, last.priority, last.title, last.changed) == (2, "high", "Printer jams", ["priority"])
    # nothing changed: no event, no new version
    await cases.ok(c.EditCase(case_id="k1", version=2, changes=c.CaseFields(priority="high")))
    assert cases.events(c.CaseChanged)[-1].version == 2


async def test_status_moves_only_along_the_allowed_transitions(cases):
    await cases.ok(open_case())
    await cases.ok(c.EditCase(case_id="k1", version=1, changes=c.CaseFields(status="resolved")))
    reason = await cases.refused(c.EditCase(case_id="k1", version=2, changes=c.CaseFields(status="on_hold")),
                                 "invalid_state")
    assert "from resolved to on_hold" in reason and "allowed: active" in reason
    await cases.ok(c.EditCase(case_id="k1", version=2, changes=c.CaseFields(status="active")))
    assert await cases.refused(c.EditCase(case_id="k1", version=3, clear=["status"]), "invalid_argument")
    assert await cases.refused(c.EditCase(case_id="missing", version=1), "not_found")


async def test_another_tenant_cannot_touch_a_case(cases):
    await cases.ok(open_case())
    await cases.refused(c.EditCase(case_id="k1", version=1, changes=c.CaseFields(title="x")), "not_found",
                        tenant="t2")


async def test_opened_from_a_conversation_it_takes_its_customer_and_links_it(cases):
    await cases.feed(linked(), producer="customer")
    await cases.feed(started())
    await cases.ok(c.OpenCase(case_id="k1", fields=c.CaseFields(title="Refund"), conversation_id="conv1"))
    case = cases.events(c.CaseChanged)[-1]
    assert (case.contact_id, case.origin) == ("ann", "conversation")
    link = cases.events(c.ConversationLinked)[-1]
    assert (link.case_id, link.conversation_id, link.automatic) == ("k1", "conv1", False)


async def test_a_case_opened_before_cases_heard_of_the_conversation_takes_its_customer_at_its_start(cases):
    """Found by the chaos profile (seed 49599): under faults cases lagged behind chat.events and refused
    OpenCase 'unknown_conversation' for a conversation the gateway had checked. It opens, links, and takes the
    conversation's customer when the start arrives; the start neither links nor opens anything else."""
    await cases.feed(linked(), producer="customer")
    await cases.ok(c.OpenCase(case_id="k1", fields=c.CaseFields(title="Refund"), conversation_id="conv1"))
    assert cases.events(c.CaseChanged)[-1].contact_id is None
    assert cases.stored("cases", "k1")["conversations"] == ["conv1"]
    await cases.feed(started())
    case = cases.events(c.CaseChanged)[-1]
    assert (case.case_id, case.contact_id, case.version, case.changed, case.by) == ("k1", "ann", 2,
                                                                                  ["contact_id"], None)
    assert [(e.case_id, e.automatic) for e in cases.events(c.ConversationLinked)] == [("k1", False)]
    # the next conversation of that customer is linked to its single active case, as usual
    await cases.feed(started("conv2"))
    assert [(e.conversation_id, e.automatic) for e in cases.events(c.ConversationLinked)] == [
        ("conv1", False), ("conv2", True)]


async def test_a_customer_named_on_an_early_case_stays_and_an_early_link_is_kept(cases):
    await cases.feed(linked(), producer="customer")
    await cases.ok(open_case("k1", contact_id="bob"))
    await cases.ok(c.OpenCase(case_id="k2", fields=c.CaseFields(title="x", contact_id="bob"), conversation_id="conv1"))
    await cases.ok(open_case("k3"))
    await cases.ok(c.LinkConversation(case_id="k3", conversation_id="conv2"))
    await cases.feed(started("conv1"))
    await cases.feed(started("conv2"))
    assert cases.stored("cases", "k2")["fields"]["contact_id"] == "bob"
    assert cases.stored("cases", "k3")["fields"].get("contact_id") is None  # linked, not opened from it
    assert [(e.case_id, e.conversation_id) for e in cases.events(c.ConversationLinked)] == [("k2", "conv1"),
                                                                                          ("k3", "conv2")]
    assert cases.stored("cases", "k3")["conversations"] == ["conv2"]


async def test_an_offline_message_a_case_was_opened_from_early_gets_no_second_case(cases):
    await cases.ok(c.OpenCase(case_id="k1", fields=c.CaseFields(title="Call back", description="by phone"),
                              conversation_id="off1"))
    await cases.feed(started("off1", name="Bob", offline=True))
    await cases.feed(posted("off1", text="Please call me back"))
    assert "t1|offline-off1" not in cases.uow.docs["cases"]
    assert cases.stored("cases", "k1")["fields"]["description"] == "by phone"


async def test_a_customer_with_exactly_one_active_case_gets_it_linked_when_a_conversation_starts(cases):
    await cases.feed(linked(), producer="customer")
    await cases.ok(open_case("k1", contact_id="ann"))
    await cases.feed(started("conv2"))
    link = cases.events(c.ConversationLinked)[-1]
    assert (link.case_id, link.conversation_id, link.automatic) == ("k1", "conv2", True)
    # two active cases: nothing is linked
    await cases.ok(open_case("k2", contact_id="ann"))
    await cases.feed(started("conv3"))
    assert [e.conversation_id for e in cases.events(c.ConversationLinked)] == ["conv2"]
    # one resolved, one active: the active one
    await cases.ok(c.EditCase(case_id="k1", version=1, changes=c.CaseFields(status="resolved")))
    await cases.feed(started("conv4"))
    assert (cases.events(c.ConversationLinked)[-1].case_id, cases.events(c.ConversationLinked)[-1].conversation_id
            ) == ("k2", "conv4")


async def test_a_customer_identified_during_the_conversation_gets_its_case_linked_then(cases):
    await cases.ok(open_case("k1", contact_id="ann"))
    await cases.feed(started("conv1"))
    assert cases.events(c.ConversationLinked) == []
    await cases.feed(linked(conversation_id="conv1"), producer="customer")
    assert [(e.case_id, e.automatic) for e in cases.events(c.ConversationLinked)] == [("k1", True)]


async def test_linking_moves_a_conversation_from_its_previous_case(cases):
    await cases.feed(started())
    await cases.ok(open_case("k1"))
    await cases.ok(open_case("k2"))
    await cases.ok(c.LinkConversation(case_id="k1", conversation_id="conv1"))
    await cases.ok(c.LinkConversation(case_id="k2", conversation_id="conv1"))
    assert cases.events(c.ConversationLinked)[-1].previous_case_id == "k1"
    assert cases.stored("cases", "k1")["conversations"] == []
    assert cases.stored("cases", "k2")["conversations"] == ["conv1"]
    # linking keeps the version: an inline edit made before still applies
    await cases.ok(c.EditCase(case_id="k2", version=1, changes=c.CaseFields(priority="low")))


async def test_an_offline_message_becomes_a_case_described_by_its_text_once(cases):
    await cases.feed(started("off1", name="Bob", offline=True))
    await cases.feed(posted("off1", text="Please call me back about my invoice"))
    await cases.feed(posted("off1", text="a second line", seq=2))
    opened = [e for e in cases.events(c.CaseChanged) if e.case_id == "offline-off1"]
    assert opened[0].origin == "offline_message" and opened[0].title == "Offline message from Bob"
    assert cases.stored("cases", "offline-off1")["fields"]["description"] == "Please call me back about my invoice"
    assert cases.events(c.ConversationLinked)[-1].conversation_id == "off1"


async def test_a_repeated_event_changes_nothing_twice(cases):
    await cases.feed(linked(), producer="customer")
    await cases.ok(open_case("k1", contact_id="ann"))
    env = await cases.feed(started("conv2"))
    await cases.feed_again(env)
    assert len(cases.events(c.ConversationLinked)) == 1


async def test_case_search_keys_follow_the_customers_name(cases):
    await cases.ok(open_case("k1", contact_id="ann"))
    await cases.feed(customer.ContactChanged(contact_id="ann", version=1, full_name="Ann Lee", account_id=None,
                                             changed=["full_name"], at=T0), producer="customer")
    assert cases.stored("cases", "k1")["customer_words"] == ["ann", "lee"]
    # an older version arriving late changes nothing
    await cases.feed(customer.ContactChanged(contact_id="ann", version=3, full_name="Ann Ström", account_id=None,
                                             changed=["full_name"], at=T0), producer="customer")
    await cases.feed(customer.ContactChanged(contact_id="ann", version=2, full_name="Ann Old", account_id=None,
                                             changed=["full_name"], at=T0), producer="customer")
    assert cases.stored("cases", "k1")["customer_words"] == ["ann", "strom"]


async def test_service_requests_are_registered_from_a_chat_and_move_through_their_statuses(cases):
    await cases.feed(linked(), producer="customer")
    await cases.feed(started())
    await cases.ok(c.RegisterServiceRequest(service_request_id="sr1", conversation_id="conv1", title="New card"))
    sr = cases.events(c.ServiceRequestChanged)[-1]
    assert (sr.contact_id, sr.status, sr.version) == ("ann", "registered", 1)
    await cases.ok(c.ChangeServiceRequest(service_request_id="sr1", version=1, status="in_progress"))
    await cases.refused(c.ChangeServiceRequest(service_request_id="sr1", version=1, status="done"),
                        "version_conflict")
    await cases.ok(c.ChangeServiceRequest(service_request_id="sr1", version=2, status="done"))
    assert "finished" in await cases.refused(
        c.ChangeServiceRequest(service_request_id="sr1", version=3, status="in_progress"), "invalid_state")


async def test_a_service_request_registered_before_the_start_gets_the_conversations_contact(cases):
    await cases.feed(linked(), producer="customer")
    await cases.ok(c.RegisterServiceRequest(service_request_id="sr1", conversation_id="conv1", title="New card"))
    await cases.ok(c.RegisterServiceRequest(service_request_id="sr2", conversation_id="conv1", title="Named",
                                            contact_id="bob"))
    assert cases.events(c.ServiceRequestChanged)[0].contact_id is None
    await cases.feed(started())
    last = cases.events(c.ServiceRequestChanged)[-1]
    assert (last.service_request_id, last.contact_id, last.version, last.status) == ("sr1", "ann", 2, "registered")
    assert cases.stored("service_requests", "sr2")["contact_id"] == "bob"
    assert len(cases.events(c.ServiceRequestChanged)) == 3


async def test_customers_may_not_send_case_commands(cases):
    from shared.contracts.envelope import Actor
    answer = await cases.send(open_case(), actor=Actor(user_id="visitor-1", role="customer"))
    assert answer.code == "forbidden"
