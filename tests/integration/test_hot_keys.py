"""shared.mongo.hot on the real mongod: units of work of one process that all rewrite one document, each
naming it, commit one after the other instead of failing on write conflicts over and over (what the gateway's
stream heads did under load: 6,219 attempts for 3,234 commits at 20 customer messages a second)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.mongo import MongoUnitOfWork, Transaction, hot, make_mongo_client
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration

UNITS = 30


@pytest.fixture
async def uow(infrastructure, unique) -> AsyncIterator[MongoUnitOfWork]:
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    try:
        yield MongoUnitOfWork(client, f"hot-{unique}")
    finally:
        await client.drop_database(f"hot-{unique}")
        await client.close()


async def add_one(tx: Transaction, *, name: bool) -> None:
    if name:
        hot("counter")
    found = await tx.db.counters.find_one({"_id": "c"}, session=tx.session)
    await asyncio.sleep(0.005)  # other units run meanwhile, as on a busy consumer
    await tx.db.counters.replace_one({"_id": "c"}, {"n": (found or {}).get("n", 0) + 1}, upsert=True,
                                     session=tx.session)


async def test_units_naming_a_hot_document_each_commit_within_two_attempts(uow):
    await asyncio.gather(*(uow.run(lambda tx: add_one(tx, name=True), message_id=None) for _ in range(UNITS)))
    assert (await uow.db.counters.find_one({"_id": "c"}))["n"] == UNITS
    assert uow.stats["committed"] == UNITS
    assert uow.stats["attempts"] <= 2 * UNITS, dict(uow.stats)
    print(f"named: {dict(uow.stats)}")


async def test_without_naming_it_every_update_still_counts(uow):
    """The same read-modify-write unnamed: MongoDB's conflict detection alone keeps it exact (hot only saves
    attempts); the attempts are printed for comparison."""
    await asyncio.gather(*(uow.run(lambda tx: add_one(tx, name=False), message_id=None, max_conflicts=200)
                           for _ in range(UNITS)))
    assert (await uow.db.counters.find_one({"_id": "c"}))["n"] == UNITS
    print(f"unnamed: {dict(uow.stats)}")
