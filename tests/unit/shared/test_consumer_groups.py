"""A service consuming one topic in two consumer groups (shared.runtime.consume's `group`): each group gets every
message and handles it once, with its own dispatcher and its own idempotency records, so that a slow group (K4's
suggestions) can fall behind without holding up the service's own consumer of the topic."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from faststream.kafka import TestKafkaBroker

from shared.consumer import processed_id
from shared.contracts.catalogue import Topic
from shared.contracts.envelope import Envelope, Event, encode, wrap
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from shared.testing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit

TOPIC = Topic(name="test.unit.groups", partitions=1, key="order_id", producer="test", consumers=(),
              description="Orders.")


class OrderPlaced(Event):
    TYPE: ClassVar[str] = "test.unit.groups.OrderPlaced"
    order_id: str


def test_processed_ids_of_another_group_are_its_own():
    assert processed_id("e1") == "e1"  # the service's own group: as before, records already kept stay valid
    assert processed_id("e1", "svc-extra") == "svc-extra:e1"


async def test_two_groups_of_one_service_each_handle_every_message_once():
    uow = FakeUnitOfWork()
    runtime = ServiceRuntime(ServiceSettings(service_name="svc"), title="svc", uow=uow)
    handled: dict[str, list[str]] = {"main": [], "extra": []}

    def handler(name: str) -> Any:
        async def handle(env: Envelope[Any]) -> None:
            async def work(tx: Any) -> None:
                handled[name].append(env.payload.order_id)
            await uow.run(work)  # records the consumed message as processed, as a real handler does
        return handle

    main = runtime.consume(TOPIC, {OrderPlaced: handler("main")})
    extra = runtime.consume(TOPIC, {OrderPlaced: handler("extra")}, group="svc-extra")
    first = wrap(OrderPlaced(order_id="o1"), tenant_id="t1", key="o1", producer="test")
    second = wrap(OrderPlaced(order_id="o2"), tenant_id="t1", key="o2", producer="test")

    async with TestKafkaBroker(runtime.broker) as broker:
        for env in (first, second, first):  # the first one redelivered
            await broker.publish(encode(env), TOPIC.name, key=env.key.encode())

    assert handled == {"main": ["o1", "o2"], "extra": ["o1", "o2"]}
    assert runtime.dispatchers == {TOPIC.name: main, f"{TOPIC.name}@svc-extra": extra}
    assert (main.group, extra.group) == ("svc", "svc-extra")
    assert dict(main.outcomes) == dict(extra.outcomes) == {"handled": 2, "duplicate": 1}
    assert uow.processed == {first.event_id, second.event_id, f"svc-extra:{first.event_id}",
                             f"svc-extra:{second.event_id}"}
    assert {"on_test_unit_groups", "on_test_unit_groups_svc_extra"} <= set(runtime.channel_messages)
