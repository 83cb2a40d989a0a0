"""After the chat, through the gateway only: the customer rates an ended conversation (CSAT) when the tenant
switched the survey on, and downloads its transcript without private notes; an agent's '/greet' is the quick
reply, filled with the customer's and the agent's names."""

from __future__ import annotations

import pytest

from shared.contracts.catalogue import CHAT_EVENTS
from shared.testing.kafka import TopicReader
from tests.e2e.helpers import accept, available, message

pytestmark = pytest.mark.e2e


async def talk_and_end(tenant, alice, desk, *, name: str = "Dana"):
    """A customer's chat taken by alice, with a message each way and a private note, ended by the customer."""
    customer, started = await tenant.customer("support", "Hello, my parcel is late", name=name)
    widget = await tenant.customer_stream(started)
    cid = started["conversation_id"]
    await accept(alice, desk, cid)
    for body in ({"client_message_id": "a1", "text": "Let me look at it"},
                 {"client_message_id": "n1", "text": "Customer sounds upset", "private": True}):
        assert (await alice.post(f"/v1/conversations/{cid}/messages", body)).status_code == 200
    thanks = await customer.post(f"/v1/widget/conversations/{cid}/messages", {"client_message_id": "c2",
                                                                            "text": "Thank you"})
    assert thanks.status_code == 200, thanks.text
    ended = await customer.post(f"/v1/widget/conversations/{cid}/end")
    assert ended.status_code == 200, ended.text
    await widget.wait_for(lambda f: f["type"] == "conversation_state" and f["state"] == "wrap_up", what="wrap-up")
    return customer, widget, cid


async def test_the_customer_rates_an_ended_chat_once_and_analysts_see_it(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    switched = await tenant.admin.put("/v1/admin/survey", {"enabled": True, "question": "How did we do?"})
    assert switched.status_code == 200, switched.text
    assert (await alice.put("/v1/admin/survey", {"enabled": False})).status_code == 403
    assert (await tenant.admin.get("/v1/admin/survey")).json()["enabled"] is True
    desk = await tenant.stream(alice)
    await available(alice)

    async with TopicReader(tenant.system.kafka_bootstrap, CHAT_EVENTS.name) as events:
        customer, widget, cid = await talk_and_end(tenant, alice, desk)
        invite = await widget.wait_for(lambda f: f["type"] == "survey_invite", what="the survey invitation")
        assert invite["question"] == "How did we do?"
        state = (await customer.get(f"/v1/widget/conversations/{cid}/survey")).json()
        assert state["pending"] is True and state["survey"] is None

        early = await customer.post(f"/v1/widget/conversations/{cid}/survey", {"rating": 6})
        assert early.status_code == 422, early.text  # out of range: refused at the gateway
        rated = await customer.post(f"/v1/widget/conversations/{cid}/survey",
                                    {"rating": 5, "comment": "Quick and kind, thank you"})
        assert rated.status_code == 200 and rated.json()["status"] == "accepted", rated.text

        submitted = await events.wait_for(lambda envs: [e for e in envs if e.type == "chat.SurveySubmitted"
                                                        and e.tenant_id == tenant.id])
        (survey,) = [e.payload for e in submitted]
        assert (survey.conversation_id, survey.queue_id, survey.agent_id, survey.rating, survey.comment) == (
            cid, "support", "alice", 5, "Quick and kind, thank you")

    view = (await alice.get(f"/v1/conversations/{cid}")).json()
    assert view["survey"]["rating"] == 5 and view["survey"]["comment"] == "Quick and kind, thank you"
    assert view["survey_pending"] is False
    again = await customer.post(f"/v1/widget/conversations/{cid}/survey", {"rating": 1})
    assert again.status_code == 409 and again.json()["code"] == "conflict", again.text

    # Switched off: a later conversation is neither invited nor rated.
    assert (await tenant.admin.put("/v1/admin/survey", {"enabled": False})).status_code == 200
    done = await alice.post(f"/v1/conversations/{cid}/wrap-up", {})
    assert done.status_code == 200, done.text
    other, other_widget, other_cid = await talk_and_end(tenant, alice, desk, name="Eve")
    refused = await other.post(f"/v1/widget/conversations/{other_cid}/survey", {"rating": 4})
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed", refused.text
    assert not [f for f in other_widget.frames if f["type"] == "survey_invite"]
    assert (await other.get(f"/v1/widget/conversations/{other_cid}/survey")).json()["pending"] is False


async def test_the_customers_transcript_has_both_sides_and_never_the_private_note(tenant):
    alice = await tenant.agent("alice", display_name="Alice Smith")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    customer, _, cid = await talk_and_end(tenant, alice, desk)

    text = await customer.get(f"/v1/widget/conversations/{cid}/transcript")
    assert text.status_code == 200, text.text
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["content-disposition"] == f'attachment; filename="transcript-{cid}.txt"'
    body = text.text
    assert "] Dana: Hello, my parcel is late" in body and "] Alice Smith: Let me look at it" in body
    assert "] Dana: Thank you" in body and "] System: Customer ended the conversation" in body
    assert "upset" not in body and "private note" not in body

    entries = (await customer.get(f"/v1/widget/conversations/{cid}/transcript", format="json")).json()["entries"]
    assert [(e["sender_kind"], e["text"]) for e in entries] == [
        ("customer", "Hello, my parcel is late"), ("agent", "Let me look at it"), ("customer", "Thank you"),
        ("system", "Customer ended the conversation")]
    assert (await customer.get(f"/v1/widget/conversations/{cid}/transcript", format="pdf")).status_code == 422
    assert (await customer.get("/v1/widget/conversations/someone-elses/transcript")).status_code == 404

    # Alice, who holds it, may read notes: her transcript has it, marked.
    staff = await alice.get(f"/v1/conversations/{cid}/transcript")
    assert staff.status_code == 200 and "] Alice Smith (private note): Customer sounds upset" in staff.text


async def test_an_agents_slash_greet_is_the_quick_reply_with_the_names_filled(tenant):
    alice = await tenant.agent("alice", display_name="Alice Smith")
    await tenant.queue("support", ["alice"])
    put = await tenant.admin.put("/v1/admin/quick-replies/greet", {"text": "Hello {customer_name}, I am {agent_name}"})
    assert put.status_code == 200, put.text
    bad = await tenant.admin.put("/v1/admin/quick-replies/Greet!", {"text": "Hi"})
    assert bad.status_code == 422, bad.text
    assert (await alice.put("/v1/admin/quick-replies/greet", {"text": "Hi"})).status_code == 403
    mine = await alice.put("/v1/agent/quick-replies/bye", {"text": "Goodbye {customer_name}"})
    assert mine.status_code == 200, mine.text
    listed = (await alice.get("/v1/agent/quick-replies")).json()["replies"]
    assert [(r["name"], r["scope"]) for r in listed] == [("bye", "agent"), ("greet", "tenant")]

    desk = await tenant.stream(alice)
    await available(alice)
    _, started = await tenant.customer("support", "Hi there", name="Dana")
    widget = await tenant.customer_stream(started)
    cid = started["conversation_id"]
    await accept(alice, desk, cid)

    offered = (await alice.get(f"/v1/agent/conversations/{cid}/quick-replies", prefix="gr")).json()["replies"]
    assert [(r["name"], r["text"]) for r in offered] == [("greet", "Hello Dana, I am Alice Smith")]
    sent = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "q1", "text": "/greet"})
    assert sent.status_code == 200, sent.text
    await widget.wait_for(message("Hello Dana, I am Alice Smith"), what="the greeting, filled")
    unknown = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "q2", "text": "/nope"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_quick_reply", unknown.text
