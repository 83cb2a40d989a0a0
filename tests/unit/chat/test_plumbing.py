"""The chat service's Kafka plumbing without Kafka: its real runtime and subscribers (decode, dispatch,
dead letters) driven through FastStream's in-memory TestKafkaBroker, with handlers on in-memory fakes."""

from __future__ import annotations

import pytest
from faststream.kafka import TestKafkaBroker

from services.chat.bootstrap import build
from services.chat.settings import ChatSettings
from shared.contracts import chat as c
from shared.contracts import routing as r
from shared.contracts.catalogue import CHAT_COMMANDS, CHAT_EVENTS, ROUTING_COMMANDS, ROUTING_EVENTS
from shared.contracts.envelope import Actor, encode, wrap
from shared.testing.fakes import FakeUnitOfWork
from tests.unit.chat.fakes import InMemoryChatQueries, in_memory_repositories

pytestmark = pytest.mark.unit


async def test_chat_commands_and_routing_events_are_consumed_once_and_answered_through_the_outbox():
    uow = FakeUnitOfWork()
    runtime, _ = build(ChatSettings(), uow=uow, repositories=in_memory_repositories, queries=InMemoryChatQueries(uow))
    start = wrap(c.StartConversation(conversation_id="c1", queue_id="q1", first_message="hello",
                                     actor=Actor(user_id="cu1", role="customer"),
                                     customer=c.Customer(customer_id="cu1", name="Ann")),
                 tenant_id="t1", key="c1", producer="gateway")
    assigned = wrap(r.ConversationAssigned(conversation_id="c1", agent_id="a1", queue_id="q1", channel="chat",
                                           how="manual_take"), tenant_id="t1", key="c1", producer="routing")
    presence = wrap(r.PresenceChanged(agent_id="a1", previous="available", presence="busy", automatic=True,
                                      reason="chat at capacity"), tenant_id="t1", key="a1", producer="routing")

    async with TestKafkaBroker(runtime.broker) as broker:
        await broker.publish(encode(start), CHAT_COMMANDS.name, key=b"c1")
        await broker.publish(encode(start), CHAT_COMMANDS.name, key=b"c1")  # redelivered
        await broker.publish(encode(assigned), ROUTING_EVENTS.name, key=b"c1")
        await broker.publish(encode(presence), ROUTING_EVENTS.name, key=b"a1")  # not chat's business
        await broker.publish(b"{not json", CHAT_COMMANDS.name, key=b"c1")

    published = [type(e.payload).__name__ for e in uow.emitted(CHAT_EVENTS.name)]
    # the redelivered command changes nothing: only its first answer is published again
    assert published == ["ConversationStarted", "MessagePosted", "CommandAccepted", "CommandAccepted",
                          "ConversationStateChanged"]
    first, again = [e.payload for e in uow.emitted(CHAT_EVENTS.name) if e.type == "platform.CommandAccepted"]
    assert first == again
    (route,) = uow.emitted(ROUTING_COMMANDS.name)
    assert route.type == r.RouteConversation.TYPE and route.key == "c1" and route.causation_id == start.event_id
    assert route.producer == "chat" and route.payload.actor.role == "system"
    commands = runtime.dispatchers[CHAT_COMMANDS.name]
    assert dict(commands.outcomes) == {"handled": 2, "dead_lettered": 1}
    assert dict(runtime.dispatchers[ROUTING_EVENTS.name].outcomes) == {"handled": 1, "ignored": 1}
    (letter,) = uow.emitted("platform.deadletter")
    assert letter.payload.error_kind == "invalid" and letter.payload.value == "{not json"


def test_chat_subscribes_to_every_chat_command_and_the_routing_events_it_follows():
    runtime, _ = build(ChatSettings(), uow=FakeUnitOfWork(), repositories=in_memory_repositories)
    assert set(runtime.dispatchers[CHAT_COMMANDS.name].handles()) == {m.TYPE for m in c.COMMANDS}
    followed = set(runtime.dispatchers[ROUTING_EVENTS.name].handles())
    assert followed == {m.TYPE for m in (
        r.ConversationQueued, r.OfferMade, r.OfferDeclined, r.OfferExpired, r.OfferWithdrawn, r.ConversationAssigned,
        r.ConversationTransferred, r.ConversationOverflowed, r.ConversationWaiting, r.ConversationEnded,
        r.ConferenceInviteAccepted, r.ConferenceLeft, r.ConferenceEnded)} | {"platform.CommandRejected"}
    assert runtime.channel_messages["to_routing_commands"] == ROUTING_COMMANDS.messages
