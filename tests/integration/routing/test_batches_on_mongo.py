"""Routing's batch form on the real MongoDB repositories: what one batch loads (the union of its commands'
scopes, from the real queries) must be enough for every command in it, so a batch ends where the same commands
one by one end (the scenario of tests/unit/routing/test_batches.py, whose in-memory repository loads everything
and so cannot show a scope too small)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.routing.adapters.deadlines import RoutingDeadlines
from services.routing.adapters.repository import ensure_indexes
from services.routing.handlers import RoutingHandlers
from shared.contracts.envelope import Envelope, decode
from shared.mongo import OUTBOX, MongoUnitOfWork, consuming, ensure_runtime_indexes, make_mongo_client
from shared.settings import ServiceSettings
from tests.unit.routing.test_batches import batch_equals_one_by_one, each
from tests.unit.routing.test_use_cases import T0

pytestmark = pytest.mark.integration


class MongoSide:
    """Routing's handlers on a database of their own, with the real repositories and a fixed clock."""

    def __init__(self, url: str, database: str) -> None:
        self.client = make_mongo_client(ServiceSettings(mongo_url=url))
        self.uow = MongoUnitOfWork(self.client, database)
        ids = iter(range(1, 10_000))
        self.handlers = RoutingHandlers(self.uow, RoutingDeadlines(self.uow.db), clock=lambda: T0,
                                        new_id=lambda: f"id-{next(ids)}")

    async def start(self) -> None:
        await ensure_runtime_indexes(self.uow.db)
        await ensure_indexes(self.uow.db)

    async def deliver(self, env: Envelope) -> None:
        with consuming(env.event_id):
            await self.handlers.handle_command(env)

    async def batch(self, envs: list[Envelope]) -> list[bool]:
        return await self.handlers.handle_commands(envs, each)

    async def envelopes(self) -> list[Envelope]:
        return [decode(row["value"]) for row in await self.uow.db[OUTBOX].find().sort("_id", 1).to_list()]

    async def documents(self) -> dict[str, dict[str, dict[str, Any]]]:
        names = await self.uow.db.list_collection_names()
        return {name: {doc["_id"]: doc for doc in await self.uow.db[name].find().to_list()} for name in names}


@pytest.fixture
async def sides(infrastructure, unique) -> AsyncIterator[tuple[MongoSide, MongoSide]]:
    made = (MongoSide(infrastructure.mongo_url, f"routing-one-{unique}"),
            MongoSide(infrastructure.mongo_url, f"routing-batch-{unique}"))
    for side in made:
        await side.start()
    yield made
    for side in made:
        await side.client.drop_database(side.uow.db.name)
        await side.client.close()


async def test_a_batch_on_mongodb_ends_where_the_same_commands_one_by_one_end(sides):
    await batch_equals_one_by_one(*sides)
