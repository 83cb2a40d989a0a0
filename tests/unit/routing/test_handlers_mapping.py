"""The service layer's tables: every routing command has a use case; the domain emits the published
contract events directly, and every value its enums can take fits the contract."""

from __future__ import annotations

import inspect
import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.routing import use_cases
from services.routing.domain import router
from services.routing.domain.model import AssignmentMethod, Presence
from shared.contracts import routing as contract

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def test_every_command_has_a_use_case():
    missing = [c.__name__ for c in contract.COMMANDS if c not in use_cases.USE_CASES]
    assert not missing, f"commands routing would never handle: {missing}"
    assert set(use_cases.USE_CASES) == set(contract.COMMANDS)  # and no use case for a command that is not published


def test_every_use_case_scopes_its_command():
    """Each scope function accepts a real command of its type (catches a wrong field name in a scope)."""
    samples = {
        contract.ConfigureQueue: contract.ConfigureQueue(queue_id="q1", name="Q1", members={"a1": 1}),
        contract.RemoveQueue: contract.RemoveQueue(queue_id="q1"),
        contract.ChangeQueueMembers: contract.ChangeQueueMembers(queue_id="q1", add={"a1": 1}, remove=["a2"]),
        contract.ConfigureAgent: contract.ConfigureAgent(agent_id="a1", capacity={"chat": 2}),
        contract.ConfigureAgents: contract.ConfigureAgents(batch_id="b1", agents={
            "a1": contract.AgentSettings(capacity={"chat": 2}), "a2": contract.AgentSettings(skills={"x": 3})}),
        contract.SetPresence: contract.SetPresence(agent_id="a1", presence="available"),
        contract.RouteConversation: contract.RouteConversation(conversation_id="c1", queue_id="q1",
                                                               last_agent_id="a1", responsible_agent_id="a2"),
        contract.AcceptOffer: contract.AcceptOffer(conversation_id="c1", agent_id="a1", offer_id="o1"),
        contract.DeclineOffer: contract.DeclineOffer(conversation_id="c1", agent_id="a1", offer_id="o1"),
        contract.TakeConversation: contract.TakeConversation(conversation_id="c1", agent_id="a1"),
        contract.OpenConversation: contract.OpenConversation(conversation_id="c1", agent_id="a1", queue_id="q1"),
        contract.TransferConversation: contract.TransferConversation(conversation_id="c1", agent_id="a1",
                                                                     to_agent_id="a2"),
        contract.EscalateConversation: contract.EscalateConversation(conversation_id="c1", agent_id="a1"),
        contract.InviteToConference: contract.InviteToConference(conversation_id="c1", agent_id="a1",
                                                                 invitee_id="a2"),
        contract.AcceptConferenceInvite: contract.AcceptConferenceInvite(conversation_id="c1", agent_id="a2"),
        contract.DeclineConferenceInvite: contract.DeclineConferenceInvite(conversation_id="c1", agent_id="a2"),
        contract.LeaveConference: contract.LeaveConference(conversation_id="c1", agent_id="a2"),
        contract.EndConference: contract.EndConference(conversation_id="c1", agent_id="a1"),
        contract.CloseToWaiting: contract.CloseToWaiting(conversation_id="c1", agent_id="a1"),
        contract.EndConversation: contract.EndConversation(conversation_id="c1"),
        contract.ChangeConversationSkills: contract.ChangeConversationSkills(conversation_id="c1", agent_id="a1"),
    }
    assert set(samples) == set(contract.COMMANDS), "a new command: add a sample here"
    for cls, cmd in samples.items():
        scope = use_cases.USE_CASES[cls].scope(cmd)
        key = getattr(cmd, cls.KEY)
        touched = scope.conversations | scope.agents | scope.queues
        if cls is contract.ConfigureAgents:  # keyed by its batch: every agent it names is loaded
            assert scope.agents == set(cmd.agents)
            continue
        assert key in touched, f"{cls.__name__}: scope {scope} does not include its own key {key!r}"
        for field in ("agent_id", "invitee_id", "to_agent_id", "last_agent_id", "responsible_agent_id"):
            if getattr(cmd, field, None):
                assert getattr(cmd, field) in scope.agents, f"{cls.__name__}.{field} not loaded"
        for field in ("queue_id", "to_queue_id"):
            if getattr(cmd, field, None):
                assert getattr(cmd, field) in scope.queues, f"{cls.__name__}.{field} not loaded"


@pytest.mark.parametrize("presence", list(Presence))
def test_every_presence_is_publishable(presence):
    event = contract.PresenceChanged(agent_id="a1", previous=Presence.OFFLINE, presence=presence, automatic=False,
                                     reason="set by agent")
    assert event.presence == presence.value
    assert event.model_dump(mode="json")["presence"] == presence.value


@pytest.mark.parametrize("method", list(AssignmentMethod))
def test_every_assignment_method_is_publishable(method):
    assert method.value in typing.get_args(contract.MethodName)
    assert method.value in typing.get_args(contract.ConfigureQueue.model_fields["method"].annotation)


def test_every_published_event_except_command_answers_is_emitted_by_the_domain():
    domain_source = "".join(p.read_text() for p in Path(inspect.getfile(router)).parent.glob("*.py"))
    answers = {"CommandAccepted", "CommandRejected"}
    never = sorted(c.__name__ for c in contract.EVENTS
                   if c.__name__ not in answers and f"ev.{c.__name__}(" not in domain_source
                   and c.__name__ != "QueueConfigured")
    assert not never, f"contract events routing never emits: {never}"
    assert "ev.QueueConfigured(" in domain_source


def test_every_event_field_and_command_field_is_described():
    missing = [f"{cls.__name__}.{name}" for cls in (*contract.COMMANDS, *contract.EVENTS)
               for name, field in cls.model_fields.items() if not field.description]
    assert not missing, f"fields without a description (AsyncAPI shows them bare): {missing}"


def test_every_command_and_event_says_what_it_is():
    bare = [cls.__name__ for cls in (*contract.COMMANDS, *contract.EVENTS) if not cls.__dict__.get("__doc__")]
    assert not bare, f"messages without their own docstring (AsyncAPI describes them by it): {bare}"
