"""Chat service instances, routing beside them, and Kafka clients against the session's real mongod and
broker (tests/integration/routing/conftest.py's routing fixtures are reused as they are)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.chat.adapters.repositories import ensure_indexes
from services.chat.bootstrap import build
from services.chat.handlers import ChatHandlers
from services.chat.settings import ChatSettings
from shared.contracts.catalogue import CHAT_COMMANDS, CHAT_EVENTS, ROUTING_COMMANDS, ROUTING_EVENTS
from shared.runtime import ServiceRuntime
from shared.testing.kafka import CommandSender, TopicReader
from tests.integration.routing.conftest import routing, routing_settings  # noqa: F401 (fixtures)

ANSWERS = ("platform.CommandAccepted", "platform.CommandRejected")


@pytest.fixture
def chat_settings(infrastructure, unique) -> ChatSettings:
    return ChatSettings(kafka_bootstrap_servers=infrastructure.kafka_bootstrap, mongo_url=infrastructure.mongo_url,
                        mongo_db=f"chat-{unique}", service_name=f"chat-{unique}", outbox_poll_interval_s=0.1,
                        outbox_lease_s=3)


class ChatService:
    """One running chat instance, its handlers and its read API (through the runtime's own ASGI app)."""

    def __init__(self, settings: ChatSettings) -> None:
        self.runtime: ServiceRuntime
        self.handlers: ChatHandlers
        self.runtime, self.handlers = build(settings)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.runtime.asgi_app()),
                                      base_url="http://chat")

    async def read(self, tenant: str, path: str, **params: Any) -> Any:
        response = await self.http.get(f"/internal/tenants/{tenant}{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def chat_service(chat_settings) -> AsyncIterator[ChatService]:
    service = ChatService(chat_settings)
    await service.runtime.start()
    yield service
    await service.http.aclose()
    await service.runtime.stop()


@pytest.fixture
async def chat_instances(chat_settings) -> AsyncIterator[list[ChatService]]:
    """Two chat instances on one database, connected to MongoDB only (indexes made), for driving their
    handlers directly and at the same time."""
    services = [ChatService(chat_settings), ChatService(chat_settings)]
    for service in services:
        await service.runtime.mongo.aconnect()
    await ensure_indexes(services[0].runtime.db)
    yield services
    for service in services:
        await service.http.aclose()
        await service.runtime.mongo.close()


@pytest.fixture
async def chat_commands(infrastructure, unique) -> AsyncIterator[CommandSender]:
    async with CommandSender(infrastructure.kafka_bootstrap, CHAT_COMMANDS.name, tenant_id=f"t-{unique}",
                             producer="gateway") as sender:
        yield sender


@pytest.fixture
async def routing_commands(infrastructure, unique) -> AsyncIterator[CommandSender]:
    async with CommandSender(infrastructure.kafka_bootstrap, ROUTING_COMMANDS.name, tenant_id=f"t-{unique}",
                             producer="gateway") as sender:
        yield sender


@pytest.fixture
async def chat_events(infrastructure) -> AsyncIterator[TopicReader]:
    async with TopicReader(infrastructure.kafka_bootstrap, CHAT_EVENTS.name) as reader:
        yield reader


@pytest.fixture
async def routing_events(infrastructure) -> AsyncIterator[TopicReader]:
    async with TopicReader(infrastructure.kafka_bootstrap, ROUTING_EVENTS.name) as reader:
        yield reader


def of(envs: list, tenant: str, type_: str, **match: Any) -> list:
    """Payloads of this tenant's messages of a type whose fields match."""
    return [e.payload for e in envs if e.tenant_id == tenant and e.type == type_
            and all(getattr(e.payload, k) == v for k, v in match.items())]


async def answered(events: TopicReader, tenant: str, *sent: Any) -> list:
    """Wait for the answers to sent command envelopes; return them in the order sent."""
    ids = [env.event_id for env in sent]

    def found(envs: list) -> list | None:
        answers = {e.payload.command_id: e.payload for e in envs if e.tenant_id == tenant and e.type in ANSWERS}
        return [answers[i] for i in ids] if set(ids) <= answers.keys() else None
    return await events.wait_for(found)
