"""What a frontend relies on: every event once and in order across reconnects, resync past the replay window,
retried sends stored once, private notes never on the customer's side, idempotency keys."""

from __future__ import annotations

import asyncio
import time

import pytest

from shared.testing.system import REPLAY_WINDOW_S
from tests.e2e.helpers import accept, available, message

pytestmark = pytest.mark.e2e


async def _talking(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    customer, started = await tenant.customer("support", "Hi")
    await accept(alice, desk, started["conversation_id"])
    return alice, desk, customer, started


async def test_a_reconnecting_client_gets_what_it_missed_once_and_in_order(tenant):
    alice, desk, customer, started = await _talking(tenant)
    cid = started["conversation_id"]
    widget = await tenant.customer_stream(started, after=0)
    await widget.wait_for(lambda f: f["type"] == "conversation_state" and f["state"] == "active")
    await desk.close()
    await widget.close()
    last_desk, last_widget = desk.last_position, widget.last_position
    for n in range(5):  # while both are away
        assert (await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                    {"client_message_id": f"away-{n}", "text": f"away {n}"})).status_code == 200
        assert (await alice.post(f"/v1/conversations/{cid}/messages",
                                 {"client_message_id": f"back-{n}", "text": f"back {n}"})).status_code == 200
    desk2 = await tenant.stream(alice, after=last_desk)
    widget2 = await tenant.customer_stream(started, after=last_widget)
    await desk2.wait_for(message("back 4"))
    await widget2.wait_for(message("back 4"))
    for stream, last in ((desk2, last_desk), (widget2, last_widget)):
        positions = [f["position"] for f in stream.frames]
        assert positions == list(range(last + 1, last + 1 + len(positions))), positions  # no gap, no repeat
        texts = [f["text"] for f in stream.frames if f["type"] == "message"]
        assert texts == [t for n in range(5) for t in (f"away {n}", f"back {n}")]


async def test_a_client_that_was_away_longer_than_the_window_is_told_to_resync(tenant):
    alice, desk, customer, started = await _talking(tenant)
    cid = started["conversation_id"]
    await desk.close()
    stale = desk.last_position
    gone = time.monotonic()
    assert (await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                {"client_message_id": "m", "text": "are you there?"})).status_code == 200
    while time.monotonic() - gone < REPLAY_WINDOW_S + 1:  # the gateway runs with a short window in these tests
        await asyncio.sleep(0.5)
    late = await tenant.stream(alice, after=stale)
    resync = await late.wait_for(lambda f: True, what="the first frame")
    assert resync["type"] == "resync" and resync["position"] >= stale + 1
    assert not any(f["type"] == "message" for f in late.frames)  # nothing half-replayed
    # after a resync the client reads the state and goes on live from the position it was given
    assert (await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                {"client_message_id": "m2", "text": "hello?"})).status_code == 200
    live = await late.wait_for(message("hello?"))
    assert live["position"] > resync["position"]
    history = (await alice.get(f"/v1/conversations/{cid}/messages")).json()
    assert "are you there?" in [m["text"] for m in history["messages"]]


async def test_a_retried_send_is_stored_once_and_answers_with_the_original(tenant):
    alice, desk, customer, started = await _talking(tenant)
    cid = started["conversation_id"]
    body = {"client_message_id": "weak-network-1", "text": "Did this arrive?"}
    first = await customer.post(f"/v1/widget/conversations/{cid}/messages", body)
    again = await customer.post(f"/v1/widget/conversations/{cid}/messages", body)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["result_id"] == again.json()["result_id"] is not None
    await desk.wait_for(message("Did this arrive?"))
    assert (await alice.post(f"/v1/conversations/{cid}/messages",
                             {"client_message_id": "after", "text": "yes"})).status_code == 200
    await desk.wait_for(message("yes"))
    assert [f["text"] for f in desk.frames if f["type"] == "message"].count("Did this arrive?") == 1
    history = (await customer.get(f"/v1/widget/conversations/{cid}/messages")).json()["messages"]
    assert [m["text"] for m in history].count("Did this arrive?") == 1


async def test_an_idempotency_key_makes_a_retried_command_answer_the_same_once(tenant):
    alice, desk, customer, started = await _talking(tenant)
    cid = started["conversation_id"]
    headers = {"Idempotency-Key": "retry-42"}
    first = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "k1", "text": "once"},
                             headers=headers)
    again = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "k1", "text": "once"},
                             headers=headers)
    assert first.json() == again.json() and first.json()["status"] == "accepted"
    ended = await alice.post(f"/v1/conversations/{cid}/end", headers={"Idempotency-Key": "end-1"})
    ended_again = await alice.post(f"/v1/conversations/{cid}/end", headers={"Idempotency-Key": "end-1"})
    assert ended.status_code == ended_again.status_code == 200  # not "invalid state" for the retry
    later = await alice.post(f"/v1/conversations/{cid}/end", headers={"Idempotency-Key": "end-2"})
    assert later.status_code == 409 and later.json()["code"] == "invalid_state", later.text


async def test_a_retried_transfer_gets_its_first_answer_after_the_agent_let_go(tenant):
    """Found by the chaos harness: the retry of a transfer that succeeded (its first answer lost) was refused
    with 403, the gateway checking that the agent holds the conversation before looking for the first answer."""
    alice, desk, customer, started = await _talking(tenant)
    cid = started["conversation_id"]
    path, body = f"/v1/conversations/{cid}/transfer", {"to_queue_id": "support", "reason": "to the team"}
    first = await alice.post(path, body, headers={"Idempotency-Key": "transfer-1"})
    assert first.status_code == 200, first.text
    await desk.wait_for(lambda f: f["type"] == "transferred_away" and f["conversation_id"] == cid)
    again = await alice.post(path, body, headers={"Idempotency-Key": "transfer-1"})
    assert again.status_code == 200 and again.json() == first.json(), again.text
    other = await alice.post(path, body, headers={"Idempotency-Key": "transfer-2"})
    assert other.status_code in (403, 404), other.text  # a new request is checked: she no longer holds it


async def test_a_new_visitors_retried_start_opens_one_conversation(tenant):
    """Found by the chaos harness: a visitor's first start whose answer was lost (its gateway died) was retried
    with the same Idempotency-Key but, having no visitor token yet, as a new visitor: a second conversation."""
    await tenant.queue("support", [])
    body = {"queue_id": "support", "message": "Is anyone there?"}
    path = f"/v1/widget/{tenant.id}/conversations"
    first = await tenant.admin.http.post(path, json=body, headers={"Idempotency-Key": "start-7f3a"})
    again = await tenant.admin.http.post(path, json=body, headers={"Idempotency-Key": "start-7f3a"})
    other = await tenant.admin.http.post(path, json=body, headers={"Idempotency-Key": "start-9c1d"})
    assert first.status_code == again.status_code == other.status_code == 200, (first.text, again.text)
    assert again.json()["conversation_id"] == first.json()["conversation_id"]
    assert again.json()["customer_id"] == first.json()["customer_id"]
    assert other.json()["conversation_id"] != first.json()["conversation_id"]
    assert other.json()["customer_id"] != first.json()["customer_id"]


async def test_private_notes_never_reach_the_customer(tenant):
    alice, desk, customer, started = await _talking(tenant)
    cid = started["conversation_id"]
    widget = await tenant.customer_stream(started, after=0)
    note = await alice.post(f"/v1/conversations/{cid}/messages",
                            {"client_message_id": "n1", "text": "Customer seems upset", "private": True})
    assert note.status_code == 200, note.text
    public = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "p1", "text": "Sorry!"})
    assert public.status_code == 200
    seen = await desk.wait_for(message("Customer seems upset"))
    assert seen["private"] is True
    await widget.wait_for(message("Sorry!"))  # sent after the note: the note had its chance to arrive
    assert not any("upset" in str(f) for f in widget.frames)
    history = (await customer.get(f"/v1/widget/conversations/{cid}/messages")).json()["messages"]
    assert "Sorry!" in [m["text"] for m in history] and not any("upset" in m["text"] for m in history)
    # the customer cannot write one either
    refused = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                  {"client_message_id": "n2", "text": "sneaky", "private": True})
    assert refused.status_code == 403
    staff_history = (await alice.get(f"/v1/conversations/{cid}/messages")).json()["messages"]
    assert "Customer seems upset" in [m["text"] for m in staff_history]


async def test_composer_rules_and_a_bad_body(tenant):
    alice, desk, customer, started = await _talking(tenant)
    cid = started["conversation_id"]
    angle = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "a", "text": "<b>hi</b>"})
    assert angle.status_code == 422 and angle.json()["code"] == "invalid_text", angle.text
    long = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "l", "text": "x" * 1001})
    assert long.status_code == 422 and long.json()["code"] == "invalid_text", long.text
    bad = await alice.post(f"/v1/conversations/{cid}/messages", {"text": ""})
    assert bad.status_code == 422
    assert "client_message_id" in {e["field"] for e in bad.json()["detail"]}, bad.json()
    empty = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "e", "text": ""})
    assert empty.status_code == 422 and "a text or at least one attachment" in empty.text, empty.text
