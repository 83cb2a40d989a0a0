"""Waiting customers see their place in the queue move up live as the one agent accepts and ends chats, and
the widget's queue status tells whether anyone is online (through the gateway only: HTTP and WebSockets)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.testing.system import Api, Stream
from tests.e2e.helpers import accept, available, offer_for

pytestmark = pytest.mark.e2e


def placed(place: int) -> Any:
    return lambda f: f["type"] == "queue_position" and f["place"] == place


async def place_now(widget: Stream, place: int, who: str) -> dict[str, Any]:
    """Wait for a queue_position frame saying `place`; it must be the newest one (places only move up)."""
    frame = await widget.wait_for(placed(place), what=f"{who} at place {place}")
    newest = [f for f in widget.frames if f["type"] == "queue_position"][-1]
    assert newest["place"] == place, (who, newest)
    return frame


async def test_three_customers_move_up_as_the_agent_accepts_and_ends_and_status_follows_presence(tenant):
    alice = await tenant.agent("alice", capacity=1)
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    public = Api(tenant.system.gateway_url)  # the widget before any chat: no token
    status_path = f"/v1/widget/{tenant.id}/queues/support/status"
    try:
        nobody = await public.get(status_path)
        assert nobody.status_code == 200, nobody.text
        assert nobody.json() | {"opens_at": None} == {"open": True, "opens_at": None, "agents_online": False,
                                                      "estimated_wait_s": None, "offer_offline_message": True}
        assert (await public.get(f"/v1/widget/{tenant.id}/queues/nope/status")).status_code == 404

        await available(alice)
        staffed = (await public.get(status_path)).json()
        assert staffed["agents_online"] is True and staffed["offer_offline_message"] is False
        assert staffed["estimated_wait_s"] == 0  # alice has room now

        customers: list[tuple[Api, dict[str, Any], Stream]] = []
        for n in (1, 2, 3):  # one after the other, so the queue order is theirs
            api, started = await tenant.customer("support", f"Customer {n} here")
            widget = await tenant.customer_stream(started, after=0)
            first = await place_now(widget, n, f"customer {n}")
            assert first["conversation_id"] == started["conversation_id"]
            customers.append((api, started, widget))
        (c1, s1, w1), (c2, s2, w2), (c3, s3, w3) = customers
        assert (await w1.wait_for(placed(1)))["estimated_wait_s"] == 0  # offered to alice at once
        assert (await w2.wait_for(placed(2)))["estimated_wait_s"] is None  # nobody assigned yet: no pace known

        position = await c2.get(f"/v1/widget/conversations/{s2['conversation_id']}/position")
        assert position.status_code == 200, position.text
        assert position.json()["position"] == 2 and position.json()["waiting"] is True
        other = await c2.get(f"/v1/widget/conversations/{s3['conversation_id']}/position")
        assert other.status_code == 404  # not their conversation

        await accept(alice, desk, s1["conversation_id"])
        moved = await place_now(w2, 1, "customer 2")
        assert moved["estimated_wait_s"] is not None and moved["estimated_wait_s"] > 0  # one assignment to learn from
        await place_now(w3, 2, "customer 3")
        busy = (await public.get(status_path)).json()
        assert busy["agents_online"] is True and busy["estimated_wait_s"] > 0

        cid1 = s1["conversation_id"]
        assert (await alice.post(f"/v1/conversations/{cid1}/end")).status_code == 200
        assert (await alice.post(f"/v1/conversations/{cid1}/wrap-up", {})).status_code == 200
        await offer_for(desk, s2["conversation_id"])  # alice is free again: customer 2 rings on her desk
        await w2.wait_for(lambda f: f["type"] == "queue_position" and f["place"] == 1 and f["estimated_wait_s"] == 0,
                          what="customer 2 offered")
        await accept(alice, desk, s2["conversation_id"])
        await place_now(w3, 1, "customer 3")
        reconnected = await c3.get(f"/v1/widget/conversations/{s3['conversation_id']}/position")
        assert reconnected.json()["position"] == 1  # a widget that reconnects reads it at once
        done = await c1.get(f"/v1/widget/conversations/{cid1}/position")
        assert done.json() == {"conversation_id": cid1, "waiting": False, "position": None, "estimated_wait_s": None}

        offline = await alice.put("/v1/agent/presence", {"presence": "offline"})
        assert offline.status_code == 200, offline.text
        await w3.wait_for(lambda f: f["type"] == "queue_position" and f["estimated_wait_s"] is None
                          and f["place"] == 1, what="customer 3's estimate unknown once nobody is online")
        gone = (await public.get(status_path)).json()
        assert gone["agents_online"] is False and gone["offer_offline_message"] is True
        assert gone["estimated_wait_s"] is None
    finally:
        await public.close()
