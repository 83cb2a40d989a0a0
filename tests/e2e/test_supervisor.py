"""Supervisors (G5) through the gateway: the live board of their queues (agents' presence and load, waiting
and taken conversations) and read-only observation (a send is refused with why)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import available, eventually, offer_for

pytestmark = pytest.mark.e2e


def row_of(board: dict, cid: str) -> dict | None:
    return next((r for r in board["conversations"] if r["conversation_id"] == cid), None)


async def test_the_board_is_live_and_observing_is_read_only(tenant):
    sam = await tenant.agent("sam", role="supervisor", supervises=["support"])
    vera = await tenant.agent("vera", role="supervisor", supervises=["sales"])
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    await tenant.queue("sales", ["bob"])
    watch, desk = await tenant.stream(sam), await tenant.stream(alice)
    assert (await alice.get("/v1/supervisor/board")).status_code == 403  # agents have no board

    await available(alice)
    seen = await watch.wait_for(lambda f: f["type"] == "board_agent" and f["row"]["agent_id"] == "alice"
                                and f["row"]["presence"] == "available", what="alice available on the board")
    assert seen["row"]["queues"] == ["support"]

    customer, started = await tenant.customer("support", "My parcel is lost")
    cid = started["conversation_id"]
    waiting = await watch.wait_for(lambda f: f["type"] == "board_conversation" and f["conversation_id"] == cid
                                   and f["row"]["waiting"], what="the conversation waiting on the board")
    assert waiting["row"]["customer_name"].startswith("Visitor ") and waiting["row"]["queue_id"] == "support"
    board = await eventually(lambda: _board(sam), lambda b: row_of(b, cid) is not None, "the board read")
    assert board["queues"] == ["support"] and any(a["agent_id"] == "alice" for a in board["agents"])
    assert "parcel" in row_of(board, cid)["preview"]

    offer = await offer_for(desk, cid)
    assert (await alice.post(f"/v1/conversations/{cid}/accept", {"offer_id": offer["offer_id"]})).status_code == 200
    await watch.wait_for(lambda f: f["type"] == "board_conversation" and f["conversation_id"] == cid
                         and f["row"]["state"] == "active" and f["row"]["agent_id"] == "alice",
                         what="alice's conversation active on the board")
    loaded = await watch.wait_for(lambda f: f["type"] == "board_agent" and f["row"]["agent_id"] == "alice"
                                  and f["row"]["load"] == 1, what="alice's load")
    assert loaded["row"]["capacity"] == {"chat": 2}
    board = await eventually(lambda: _board(sam), lambda b: (row_of(b, cid) or {}).get("state") == "active",
                             "the board read after the accept")
    assert board["waiting"] == [] and row_of(board, cid)["waited_s"] is not None

    observed = await sam.post(f"/v1/supervisor/conversations/{cid}/observe")
    assert observed.status_code == 200, observed.text
    assert any(m["text"] == "My parcel is lost" for m in observed.json()["messages"])
    assert (await vera.post(f"/v1/supervisor/conversations/{cid}/observe")).status_code == 404  # not her queue
    assert (await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                {"client_message_id": "q2", "text": "Any news?"})).status_code == 200
    copy = await watch.wait_for(lambda f: f["type"] == "message" and f["text"] == "Any news?",
                                what="the observed conversation's message on the supervisor's socket")
    assert copy["observing"] is True and copy["conversation_id"] == cid

    refused = await sam.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "s1", "text": "Hi!"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"]["error"] == "read_only" and "read-only" in refused.json()["detail"]["detail"]

    assert (await sam.request("DELETE", f"/v1/supervisor/conversations/{cid}/observe")).status_code == 200
    assert (await alice.post(f"/v1/conversations/{cid}/messages",
                             {"client_message_id": "a1", "text": "Looking into it"})).status_code == 200
    await desk.wait_for(lambda f: f["type"] == "message" and f["text"] == "Looking into it")
    await watch.wait_for(lambda f: f["type"] == "board_conversation" and f["conversation_id"] == cid,
                         what="a board frame after alice's reply")  # the board still follows it
    assert not any(f["type"] == "message" and f["text"] == "Looking into it" for f in watch.frames)


async def _board(api) -> dict:
    response = await api.get("/v1/supervisor/board")
    assert response.status_code == 200, response.text
    return response.json()
