"""A waiting customer's place reaches their widget stream only, as a `queue_position` frame, and changes
nothing the gateway remembers about the conversation (projection.py, pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.gateway.projection import new_view, project
from shared.contracts import routing
from shared.contracts.envelope import wrap

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def place(position: int, wait: int | None):
    return wrap(routing.QueuePositionChanged(conversation_id="c1", queue_id="q1", position=position,
                                             estimated_wait_s=wait), tenant_id="t1", key="c1", producer="test",
                occurred_at=T0)


@pytest.mark.parametrize("wait", [90, None])
def test_the_place_goes_to_the_customer_alone_and_the_view_is_not_rewritten(wait):
    out = project(place(2, wait), new_view("t1", "c1") | {"agents": ["a1"], "offered": ["a2"]}, ["a3"])
    assert out.view is None and out.to_agents == []
    assert out.to_customer == [{"type": "queue_position", "conversation_id": "c1", "at": T0.isoformat(),
                                "queue_id": "q1", "place": 2, "estimated_wait_s": wait}]


def test_a_place_for_a_conversation_the_gateway_has_not_seen_yet_still_reaches_its_widget():
    out = project(place(1, 0), None, [])
    assert [f["place"] for f in out.to_customer] == [1] and out.view is None
