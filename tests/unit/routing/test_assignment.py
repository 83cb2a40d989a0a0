"""Agent choice: eligibility, preferences and each queue assignment method (R4, R5, R10)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.routing.domain.assignment import choose_agent, eligible_agents, pick_agent
from services.routing.domain.model import Agent, AssignmentMethod, Presence, QueueConfig, WorkItem

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def agent(agent_id, free=1, presence=Presence.AVAILABLE, skills=None, idle_since=None, channel="chat"):
    return Agent(
        agent_id,
        presence=presence,
        capacity={channel: 5},
        load={channel: 5 - free},
        skills=skills or {},
        last_assigned_at=idle_since,
    )


def team(*agents):
    return {a.agent_id: a for a in agents}


def queue(method=AssignmentMethod.ROUND_ROBIN, members=("a1", "a2", "a3"), **settings):
    members = members if isinstance(members, dict) else {agent_id: 1 for agent_id in members}
    return QueueConfig("q1", "Support", method=method, members=members, **settings)


def item(**fields):
    return WorkItem(conversation_id="c1", queue_id="q1", enqueued_at=T0, created_at=T0, **fields)


# --- eligibility --------------------------------------------------------------------------------------

def test_only_available_members_with_free_capacity_on_the_channel_are_eligible():
    agents = team(
        agent("a1"),
        agent("a2", presence=Presence.BUSY),
        agent("a3", free=0),
        agent("a4"),  # not a member
        agent("a5", channel="voice"),
        agent("a6", presence=Presence.RONA),
    )
    members = ("a1", "a2", "a3", "a5", "a6", "ghost")

    assert eligible_agents(item(), queue(members=members), agents) == ["a1"]


def test_an_agent_who_declined_max_declines_times_is_no_longer_offered_the_item():
    agents = team(agent("a1"), agent("a2"))
    work = item(declines={"a1": 2, "a2": 1})

    assert eligible_agents(work, queue(max_declines=2), agents) == ["a2"]
    assert choose_agent(item(declines={"a1": 2}), queue(members=("a1",), max_declines=2), agents) is None


def test_a_named_transfer_target_is_the_only_candidate_even_without_membership():
    agents = team(agent("a1"), agent("outsider"))

    assert choose_agent(item(target_agent_id="outsider"), queue(members=("a1",)), agents) == "outsider"
    assert choose_agent(item(target_agent_id="a1"), queue(), team(agent("a1", free=0), agent("a2"))) is None


def test_nobody_free_means_no_choice():
    assert choose_agent(item(), queue(), team(agent("a1", free=0))) is None
    assert pick_agent(item(), queue(members=()), {}) is None


# --- round robin -----------------------------------------------------------------------------------------

def test_round_robin_takes_the_first_eligible_agent_after_the_cursor_and_wraps():
    agents = team(agent("a1"), agent("a2", free=0), agent("a3"))

    assert choose_agent(item(), queue(rr_cursor=None), agents) == "a1"
    assert choose_agent(item(), queue(rr_cursor="a1"), agents) == "a3"  # a2 is full
    assert choose_agent(item(), queue(rr_cursor="a3"), agents) == "a1"


def test_round_robin_cursor_on_a_removed_member_continues_in_id_order():
    agents = team(agent("a1"), agent("a3"))

    assert choose_agent(item(), queue(members=("a1", "a3"), rr_cursor="a2"), agents) == "a3"


def test_pick_agent_says_which_rule_decided():
    agents = team(agent("a1"), agent("a2"))

    assert pick_agent(item(), queue(), agents).rule == AssignmentMethod.ROUND_ROBIN
    assert pick_agent(item(last_agent_id="a2"), queue(), agents).rule == "last_agent"
    assert pick_agent(item(responsible_agent_id="a2"), queue(), agents).rule == "responsible_agent"


# --- least loaded --------------------------------------------------------------------------------------

def test_least_loaded_picks_the_agent_with_most_free_capacity():
    agents = team(agent("a1", free=1), agent("a2", free=4), agent("a3", free=2))

    assert choose_agent(item(), queue(AssignmentMethod.LEAST_LOADED), agents) == "a2"


def test_least_loaded_ties_go_to_the_longest_idle_agent_and_never_assigned_counts_as_longest():
    recent, earlier = T0 + timedelta(minutes=5), T0
    agents = team(agent("a1", idle_since=recent), agent("a2", idle_since=earlier), agent("a3", idle_since=recent))

    assert choose_agent(item(), queue(AssignmentMethod.LEAST_LOADED), agents) == "a2"
    agents["a3"].last_assigned_at = None
    assert choose_agent(item(), queue(AssignmentMethod.LEAST_LOADED), agents) == "a3"


def test_least_loaded_full_ties_fall_back_to_agent_id():
    agents = team(agent("a2"), agent("a1"))

    assert choose_agent(item(), queue(AssignmentMethod.LEAST_LOADED, members=("a2", "a1")), agents) == "a1"


# --- skills ---------------------------------------------------------------------------------------------

def test_skills_prefers_an_exact_match_and_among_exact_matches_the_least_loaded():
    agents = team(
        agent("a1", free=5, skills={"billing": 9}),  # most free, but lacks english
        agent("a2", free=1, skills={"billing": 5, "english": 7}),
        agent("a3", free=3, skills={"billing": 6, "english": 3}),
    )

    chosen = choose_agent(item(skills={"billing": 5, "english": 3}), queue(AssignmentMethod.SKILLS), agents)

    assert chosen == "a3"


def test_skills_falls_back_to_the_closest_match_when_nobody_matches_exactly():
    agents = team(
        agent("a1", free=5, skills={"billing": 2}),  # 2/8
        agent("a2", free=1, skills={"billing": 6, "english": 1}),  # 6/8 + 1/4 = 1.0
        agent("a3", free=2, skills={"english": 4}),  # 0 + 1 = 1.0, more free than a2
    )

    chosen = choose_agent(item(skills={"billing": 8, "english": 4}), queue(AssignmentMethod.SKILLS), agents)

    assert chosen == "a3"


def test_skills_without_requirements_treats_everyone_as_exact_and_picks_the_least_loaded():
    agents = team(agent("a1", free=1), agent("a2", free=3, skills={"x": 1}))

    assert choose_agent(item(), queue(AssignmentMethod.SKILLS), agents) == "a2"


# --- specialist priority ------------------------------------------------------------------------------

def test_specialist_priority_takes_the_lowest_priority_number_then_the_least_loaded():
    members = {"a1": 2, "a2": 1, "a3": 1}
    agents = team(agent("a1", free=5), agent("a2", free=1), agent("a3", free=2))

    assert choose_agent(item(), queue(AssignmentMethod.SPECIALIST_PRIORITY, members=members), agents) == "a3"
    agents["a3"].load["chat"] = 5
    agents["a2"].load["chat"] = 5
    assert choose_agent(item(), queue(AssignmentMethod.SPECIALIST_PRIORITY, members=members), agents) == "a1"


# --- preferences ------------------------------------------------------------------------------------------

def test_the_responsible_agent_comes_before_the_last_agent_and_before_the_method():
    agents = team(agent("a1", free=5), agent("a2"), agent("a3"))
    work = item(responsible_agent_id="a3", last_agent_id="a2")
    method = queue(AssignmentMethod.LEAST_LOADED)

    assert choose_agent(work, method, agents) == "a3"
    assert choose_agent(work, queue(AssignmentMethod.LEAST_LOADED, prefer_responsible_agent=False), agents) == "a2"
    both_off = queue(AssignmentMethod.LEAST_LOADED, prefer_responsible_agent=False, prefer_last_agent=False)
    assert choose_agent(work, both_off, agents) == "a1"


def test_a_preferred_agent_who_cannot_take_the_item_is_skipped():
    agents = team(agent("a1"), agent("a2", presence=Presence.AWAY))

    assert choose_agent(item(responsible_agent_id="a2", last_agent_id="a2"), queue(), agents) == "a1"


def test_agents_who_declined_the_item_come_after_those_who_have_not():
    agents = team(agent("a1", free=5), agent("a2", free=1))
    work = item(declines={"a1": 1}, last_agent_id="a1")

    assert choose_agent(work, queue(AssignmentMethod.LEAST_LOADED), agents) == "a2"
    agents["a2"].presence = Presence.AWAY
    assert choose_agent(work, queue(AssignmentMethod.LEAST_LOADED), agents) == "a1"
