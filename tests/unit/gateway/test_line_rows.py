"""A support line's row shows its preview (the last message of the user's conversation on the line) only to whoever
may read that conversation's preview or messages (services/gateway/line_rows.py)."""

import pytest

from services.gateway.auth.permissions import Role
from services.gateway.identity import Staff
from services.gateway.line_rows import may_see_preview

pytestmark = pytest.mark.unit


def staff(user: str, role: Role = Role.AGENT, supervises: tuple[str, ...] = ()) -> Staff:
    return Staff("t1", user, role, "s1", supervises)


def view(state: str, agents: list[str] | None = None) -> dict:
    return {"_id": "t1:c1", "tenant_id": "t1", "queue_id": "support", "state": state, "agents": agents or [],
            "offered": [], "invited": [], "served_by": list(agents or []), "customer_id": "visitor-1"}


def test_a_line_member_with_nothing_to_do_with_a_taken_conversation_sees_no_preview():
    taken = view("active", ["alice", "carol"])
    assert not may_see_preview(staff("dave"), taken, queue_member=True, favourite=False)
    assert not may_see_preview(staff("vera", Role.SUPERVISOR, ("sales",)), taken, queue_member=False, favourite=False)
    assert not may_see_preview(staff("admin", Role.ADMIN), taken, queue_member=False, favourite=False)


def test_whoever_may_read_the_conversation_sees_the_preview():
    taken = view("active", ["alice", "carol"])
    assert may_see_preview(staff("alice"), taken, queue_member=True, favourite=False)  # assigned
    assert may_see_preview(staff("carol"), taken, queue_member=False, favourite=False)  # in the conference
    assert may_see_preview(staff("erin"), taken, queue_member=False, favourite=True)  # a favourite's follower
    assert may_see_preview(staff("sam", Role.SUPERVISOR, ("support",)), taken, queue_member=False, favourite=False)
    assert may_see_preview(staff("alice"), view("closed", ["alice"]) | {"agents": []}, queue_member=True,
                           favourite=False)  # the agent who had it last: the Closed list


def test_a_waiting_conversations_preview_is_the_open_lists_and_an_unknown_one_shows_nothing():
    assert may_see_preview(staff("dave"), view("queued"), queue_member=True, favourite=False)
    assert not may_see_preview(staff("dave"), None, queue_member=True, favourite=False)


def test_a_conversation_the_gateway_has_not_seen_yet_is_one_just_started_on_the_line():
    """chat's start and customer's row reach the gateway on different topics; the row may come first (the clean-clone
    CI run of 0623e3b saw the line's member get Dana's row with an empty preview). It waits in the line: its members
    and the line's supervisors see the preview, nobody else does."""
    from services.gateway.line_rows import just_started
    new = just_started("support", "visitor-1")
    assert may_see_preview(staff("dave"), new, queue_member=True, favourite=False)
    assert may_see_preview(staff("sam", Role.SUPERVISOR, ("support",)), new, queue_member=False, favourite=False)
    assert not may_see_preview(staff("vera", Role.SUPERVISOR, ("sales",)), new, queue_member=False, favourite=False)
    assert not may_see_preview(staff("admin", Role.ADMIN), new, queue_member=False, favourite=False)
