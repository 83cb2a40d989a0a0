"""Routing service instances and Kafka clients against the session's real mongod and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.routing.bootstrap import build
from services.routing.settings import RoutingSettings
from shared.contracts.catalogue import ROUTING_COMMANDS, ROUTING_EVENTS
from shared.runtime import ServiceRuntime
from shared.testing.kafka import CommandSender, TopicReader


@pytest.fixture
def routing_settings(infrastructure, unique) -> RoutingSettings:
    return RoutingSettings(kafka_bootstrap_servers=infrastructure.kafka_bootstrap, mongo_url=infrastructure.mongo_url,
                           mongo_db=f"routing-{unique}", service_name=f"routing-{unique}",
                           timer_interval_s=0.2, sweep_interval_s=2,
                           outbox_poll_interval_s=0.1, outbox_lease_s=3)


class RoutingInstances:
    """Routing instances sharing one consumer group and one database, as replicas in production do."""

    def __init__(self, settings: RoutingSettings) -> None:
        self.settings = settings
        self.running: list[ServiceRuntime] = []

    async def start(self) -> ServiceRuntime:
        runtime, _ = build(self.settings)
        await runtime.start()
        self.running.append(runtime)
        return runtime

    async def stop(self, runtime: ServiceRuntime) -> None:
        self.running.remove(runtime)
        await runtime.stop()


@pytest.fixture
async def routing(routing_settings) -> AsyncIterator[RoutingInstances]:
    instances = RoutingInstances(routing_settings)
    yield instances
    for runtime in list(instances.running):
        await instances.stop(runtime)


@pytest.fixture
async def commands(infrastructure, unique) -> AsyncIterator[CommandSender]:
    async with CommandSender(infrastructure.kafka_bootstrap, ROUTING_COMMANDS.name, tenant_id=f"t-{unique}") as s:
        yield s


@pytest.fixture
async def events(infrastructure, unique) -> AsyncIterator[TopicReader]:
    async with TopicReader(infrastructure.kafka_bootstrap, ROUTING_EVENTS.name) as reader:
        yield reader


def of(envs: list, tenant: str, type_: str, **match: Any) -> list:
    """Payloads of this tenant's events of a type whose fields match."""
    return [e.payload for e in envs if e.tenant_id == tenant and e.type == type_
            and all(getattr(e.payload, k) == v for k, v in match.items())]
