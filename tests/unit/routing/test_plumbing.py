"""The routing service's Kafka plumbing without Kafka: its real runtime and subscriber (decode, dispatch,
dead letters) driven through FastStream's in-memory TestKafkaBroker, with handlers on in-memory fakes."""

from __future__ import annotations

import pytest
from faststream.kafka import TestKafkaBroker

from services.routing.bootstrap import build
from services.routing.settings import RoutingSettings
from shared.contracts import routing as r
from shared.contracts.answers import CommandAccepted
from shared.contracts.catalogue import ROUTING_COMMANDS, ROUTING_EVENTS
from shared.contracts.envelope import encode, wrap
from shared.testing.fakes import FakeUnitOfWork
from tests.unit.routing.fakes import InMemoryDeadlines, InMemoryRoutingRepository

pytestmark = pytest.mark.unit


async def test_a_command_published_to_routing_commands_is_handled_and_answered():
    uow = FakeUnitOfWork()
    runtime, _ = build(RoutingSettings(), uow=uow, deadlines=InMemoryDeadlines(uow),
                       repositories=InMemoryRoutingRepository)
    command = wrap(r.ConfigureAgent(agent_id="a1", capacity={"chat": 2}), tenant_id="t1", key="a1", producer="test")

    async with TestKafkaBroker(runtime.broker) as broker:
        await broker.publish(encode(command), ROUTING_COMMANDS.name, key=b"a1")
        await broker.publish(encode(command), ROUTING_COMMANDS.name, key=b"a1")  # redelivered
        await broker.publish(b"{not json", ROUTING_COMMANDS.name, key=b"a1")

    answers = [e.payload for e in uow.emitted(ROUTING_EVENTS.name) if isinstance(e.payload, CommandAccepted)]
    assert answers[0] == answers[1] and answers[0].command_id == command.event_id  # the first answer, twice
    # carried out once, though delivered twice: the redelivery publishes only the first answer again
    assert [type(e.payload).__name__ for e in uow.emitted(ROUTING_EVENTS.name)] == ["CapacityChanged",
                                                                                  "CommandAccepted",
                                                                                  "CommandAccepted"]
    dispatcher = runtime.dispatchers[ROUTING_COMMANDS.name]
    assert dict(dispatcher.outcomes) == {"handled": 2, "dead_lettered": 1}
    (letter,) = uow.emitted("platform.deadletter")  # through the (fake) outbox, like every publish
    assert letter.payload.error_kind == "invalid" and letter.payload.value == "{not json"
