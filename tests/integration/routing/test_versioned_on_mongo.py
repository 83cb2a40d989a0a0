"""Routing's version-checked writes (adapters/versioned.py) on the real MongoDB: an aggregate never read is
inserted, or refused if it exists; one read is replaced only at the version read; and a save that inserts and
replaces in one collection is one write command (tests/unit/routing/test_repositories.py holds the in-memory
repositories to the same contract)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.routing.adapters.agents import AGENTS, MongoAgents
from services.routing.domain.model import Agent
from shared.mongo import ConcurrencyConflict, Transaction
from shared.testing.mongo import CommandLog

pytestmark = pytest.mark.integration


@pytest.fixture
async def mongo(infrastructure, unique) -> AsyncIterator[tuple[AsyncMongoClient[Any], CommandLog, str]]:
    commands = CommandLog()
    client: AsyncMongoClient[Any] = AsyncMongoClient(infrastructure.mongo_url, tz_aware=True,
                                                     event_listeners=[commands])
    database = f"routing-versioned-{unique}"
    yield client, commands, database
    await client.drop_database(database)
    await client.close()


async def in_transaction(client: AsyncMongoClient[Any], database: str,
                         work: Callable[[Transaction], Awaitable[Any]]) -> Any:
    """`work` in a transaction of its own, committed unless it raises (then aborted, and the error raised)."""
    async with client.start_session() as session:
        async with await session.start_transaction():
            return await work(Transaction(session=session, db=client[database]))


async def test_a_new_aggregate_is_inserted_and_a_second_insert_of_it_conflicts(mongo):
    client, _, database = mongo

    async def create(tx: Transaction) -> None:
        await MongoAgents(tx, "t1").save([Agent("a1")])

    await in_transaction(client, database, create)
    with pytest.raises(ConcurrencyConflict, match="created concurrently"):
        await in_transaction(client, database, create)  # another one that did not see it
    (doc,) = await client[database][AGENTS].find().to_list()
    assert (doc["_id"], doc["version"]) == ("t1|a1", 1)


async def test_a_stale_write_conflicts_and_a_fresh_one_bumps_the_version(mongo):
    client, _, database = mongo
    await in_transaction(client, database, lambda tx: MongoAgents(tx, "t1").save([Agent("a1")]))

    async def read(tx: Transaction) -> tuple[MongoAgents, Agent]:
        repo = MongoAgents(tx, "t1")
        return repo, (await repo.by_ids(["a1"]))["a1"]

    async def save_twice(tx: Transaction) -> int:
        repo, agent = await read(tx)
        await repo.save([agent])
        await repo.save([agent])  # its own earlier write is not a stale read
        return agent.version

    async def stale(tx: Transaction) -> None:
        repo, agent = await read(tx)
        # another writer gets there after this read (one transaction here, so no write conflict hides it)
        await tx.db[AGENTS].update_one({"_id": "t1|a1"}, {"$inc": {"version": 1}}, session=tx.session)
        await repo.save([agent])

    assert await in_transaction(client, database, save_twice) == 3
    with pytest.raises(ConcurrencyConflict, match="changed since it was read"):
        await in_transaction(client, database, stale)
    assert (await client[database][AGENTS].find_one({"_id": "t1|a1"}))["version"] == 3  # the stale one aborted


async def test_inserting_and_replacing_in_one_save_is_one_write_command(mongo):
    client, commands, database = mongo
    await in_transaction(client, database, lambda tx: MongoAgents(tx, "t1").save([Agent("a1")]))

    async def mixed(tx: Transaction) -> None:
        repo = MongoAgents(tx, "t1")
        known = (await repo.by_ids(["a1"]))["a1"]
        commands.sent.clear()
        await repo.save([Agent("a0"), known, Agent("a2")])

    await in_transaction(client, database, mixed)
    assert commands.named("insert", "update", "delete") == [("update", AGENTS)]
    versions = {d["_id"]: d["version"] for d in await client[database][AGENTS].find().to_list()}
    assert versions == {"t1|a0": 1, "t1|a1": 2, "t1|a2": 1}
