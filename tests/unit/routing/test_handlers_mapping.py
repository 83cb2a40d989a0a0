"""The service layer's tables: every routing command has a use case, every domain event a published contract."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum

import pytest

from services.routing import handlers
from services.routing.domain import events as domain_events
from services.routing.domain.model import AssignmentMethod, Presence
from shared.contracts import routing as contract

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)

DOMAIN_EVENTS = sorted(
    (cls for _, cls in inspect.getmembers(domain_events, inspect.isclass)
     if issubclass(cls, domain_events.DomainEvent) and cls is not domain_events.DomainEvent
     and cls.__module__ == domain_events.__name__),
    key=lambda cls: cls.__name__)

# Field values a router could really produce, by annotation (events.py uses postponed annotations: strings).
BY_TYPE = {
    "str": None,  # by name, below
    "str | None": None,
    "int": 2,
    "int | None": 45,
    "float": 12.5,
    "bool": True,
    "datetime": T0,
    "Mapping[str, int]": {"billing": 7},
    "Presence": Presence.AVAILABLE,
    "AssignmentMethod": AssignmentMethod.SKILLS,
}
BY_NAME = {"channel": "chat", "how": "returned_from_waiting", "previous": Presence.RONA, "level": 2,
           "members": {"a1": 1, "a2": 2}}


def plausible(cls: type) -> domain_events.DomainEvent:
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in BY_NAME:
            values[f.name] = BY_NAME[f.name]
        elif f.type in ("str", "str | None"):
            values[f.name] = f"{f.name.removesuffix('_id')}-1"
        elif f.type in BY_TYPE:
            values[f.name] = BY_TYPE[f.type]
        else:
            pytest.fail(f"{cls.__name__}.{f.name}: no plausible value for {f.type!r}; extend BY_TYPE")
    return cls(**values)


def plain(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    return value


def test_domain_events_are_found():
    names = {cls.__name__ for cls in DOMAIN_EVENTS}
    assert {"ConversationQueued", "OfferMade", "PresenceChanged", "QueueConfigured", "QueueRemoved"} <= names
    assert len(DOMAIN_EVENTS) >= 20


def test_every_command_has_a_use_case():
    missing = [c.__name__ for c in contract.COMMANDS if c not in handlers.USE_CASES]
    assert not missing, f"commands routing would never handle: {missing}"
    assert set(handlers.USE_CASES) == set(contract.COMMANDS)  # and no use case for a command that is not published


def test_every_use_case_scopes_its_command():
    """Each scope function accepts a real command of its type (catches a wrong field name in a scope)."""
    samples = {
        contract.ConfigureQueue: contract.ConfigureQueue(queue_id="q1", name="Q1", members={"a1": 1}),
        contract.RemoveQueue: contract.RemoveQueue(queue_id="q1"),
        contract.ConfigureAgent: contract.ConfigureAgent(agent_id="a1", capacity={"chat": 2}),
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
        scope = handlers.USE_CASES[cls].scope(cmd)
        key = getattr(cmd, cls.KEY)
        touched = scope.conversations | scope.agents | scope.queues
        assert key in touched, f"{cls.__name__}: scope {scope} does not include its own key {key!r}"
        for field in ("agent_id", "invitee_id", "to_agent_id", "last_agent_id", "responsible_agent_id"):
            if getattr(cmd, field, None):
                assert getattr(cmd, field) in scope.agents, f"{cls.__name__}.{field} not loaded"
        for field in ("queue_id", "to_queue_id"):
            if getattr(cmd, field, None):
                assert getattr(cmd, field) in scope.queues, f"{cls.__name__}.{field} not loaded"


@pytest.mark.parametrize("cls", DOMAIN_EVENTS, ids=lambda cls: cls.__name__)
def test_domain_event_converts_to_the_contract_event_of_the_same_name(cls):
    event = plausible(cls)

    published = handlers.to_contract(event)

    assert type(published).__name__ == cls.__name__
    assert isinstance(published, contract.RoutingEvent)
    assert type(published) in contract.EVENTS
    domain_fields = {f.name for f in dataclasses.fields(cls)}
    assert set(type(published).model_fields) == domain_fields, "contract and domain event fields differ"
    for name in domain_fields:
        assert plain(getattr(published, name)) == plain(getattr(event, name)), name
    # The envelope key (and Kafka key) comes from the contract's KEY field, which must be on the event.
    assert published.KEY in type(published).model_fields
    assert getattr(published, published.KEY) == getattr(event, published.KEY)


@pytest.mark.parametrize("how", typing.get_args(contract.ConversationAssigned.model_fields["how"].annotation))
def test_every_assignment_kind_is_publishable(how):
    event = domain_events.ConversationAssigned("c1", "a1", "q1", "chat", how)
    assert handlers.to_contract(event).how == how


@pytest.mark.parametrize("presence", list(Presence))
def test_every_presence_is_publishable(presence):
    event = domain_events.PresenceChanged("a1", Presence.OFFLINE, presence, False, "set by agent")
    assert handlers.to_contract(event).presence == presence.value


@pytest.mark.parametrize("method", list(AssignmentMethod))
def test_every_assignment_method_is_publishable(method):
    event = dataclasses.replace(plausible(domain_events.QueueConfigured), method=method)
    assert handlers.to_contract(event).method == method.value


def test_every_published_event_except_command_answers_has_a_domain_event():
    domain_names = {cls.__name__ for cls in DOMAIN_EVENTS}
    answers = {"CommandAccepted", "CommandRejected"}
    orphans = sorted(c.__name__ for c in contract.EVENTS if c.__name__ not in domain_names | answers)
    assert not orphans, f"contract events routing never emits: {orphans}"
