"""Supervisors (G5) through the gateway: the live board of their queues (agents' presence and load, waiting
and taken conversations) and read-only observation (a send is refused with why)."""

from __future__ import annotations

import asyncio

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


async def test_two_admins_changing_one_queues_members_at_once_both_keep_their_change(tenant):
    """Through the gateway's PATCH of a queue's members: one admin adds bob while another removes alice, at the
    same moment, both starting from the same list; both changes stay (PUT would have lost one). An unknown
    queue is refused with its reason."""
    second_admin = await tenant.agent("root2", role="admin")
    sam = await tenant.agent("sam", role="supervisor", supervises=["support"])
    for agent in ("alice", "bob", "carol"):
        await tenant.agent(agent)
    await tenant.queue("support", ["alice", "carol"])
    added, removed = await asyncio.gather(
        tenant.admin.patch("/v1/admin/queues/support/members", {"add": {"bob": 2}}),
        second_admin.patch("/v1/admin/queues/support/members", {"remove": ["alice"]}))
    assert (added.status_code, removed.status_code) == (200, 200), (added.text, removed.text)
    board = await eventually(lambda: _board(sam), lambda b: {a["agent_id"] for a in b["agents"]} == {"bob", "carol"},
                             "bob added and alice removed")
    assert {a["agent_id"]: a["queues"] for a in board["agents"]} == {"bob": ["support"], "carol": ["support"]}
    unknown = await tenant.admin.patch("/v1/admin/queues/nope/members", {"add": {"bob": 1}})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_queue", unknown.text


async def test_an_admin_sets_up_many_agents_at_once_and_a_bad_setting_refuses_them_all(tenant):
    sam = await tenant.agent("sam", role="supervisor", supervises=["team"])
    team = {f"agent-{n}": {"capacity": {"chat": 3}, "skills": {"billing": 5}} for n in range(200)}
    done = await tenant.admin.put("/v1/admin/agents", {"agents": team})
    assert done.status_code == 200, done.text
    assert (await tenant.admin.patch("/v1/admin/queues/team/members", {"add": {"agent-1": 1}})).status_code == 404
    await tenant.queue("team", list(team))
    board = await eventually(lambda: _board(sam), lambda b: len(b["agents"]) == 200
                             and all(a["capacity"] == {"chat": 3} for a in b["agents"]),
                             "200 agents on the board, with routing's capacity")
    assert {a["agent_id"] for a in board["agents"]} == set(team)

    refused = await tenant.admin.put("/v1/admin/agents", {"agents": {"new-1": {"capacity": {"chat": 2}},
                                                                     "new-2": {"skills": {"billing": 99}}}})
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_config", refused.text
    too_many = await tenant.admin.put("/v1/admin/agents", {"agents": {f"x{n}": {} for n in range(1001)}})
    assert too_many.status_code == 422
    agent = await tenant.sign_in("sam")
    assert (await agent.put("/v1/admin/agents", {"agents": {"a": {}}})).status_code == 403
