"""The gateway keeps the first answer to a request id (services/gateway/adapters/store.py keep_answer): a repeat
changes nothing, except that a `failed` answer (the owner dead-lettered the command) gives way to a later one
(the letter replayed and carried out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.gateway.adapters.store import ANSWERS_SEEN, keep_answer
from shared.contracts.answers import CommandAccepted, CommandRejected
from shared.mongo import make_mongo_client
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(infrastructure, unique) -> AsyncIterator[Any]:
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    yield client[f"answers-{unique}"]
    await client.drop_database(f"answers-{unique}")
    await client.close()


def rejected(code: str) -> dict[str, Any]:
    return {"request_id": "r1", "code": code, "reason": f"{code} $because"}  # a "$" is kept as text


async def kept(db: Any) -> tuple[str, Any]:
    found = await db[ANSWERS_SEEN].find_one({"_id": "t1:r1"})
    return found["type"], found["answer"].get("code")


async def test_the_first_answer_is_kept_but_a_failed_one_gives_way_to_a_later_answer(db):
    await keep_answer(db, "t1", "r1", CommandRejected.TYPE, rejected("failed"))
    assert await kept(db) == (CommandRejected.TYPE, "failed")
    assert (await db[ANSWERS_SEEN].find_one({"_id": "t1:r1"}))["answer"]["reason"] == "failed $because"
    await keep_answer(db, "t1", "r1", CommandAccepted.TYPE, {"request_id": "r1", "result_id": "x"})
    assert await kept(db) == (CommandAccepted.TYPE, None)
    for later in (rejected("failed"), rejected("conflict")):  # after a real answer, nothing replaces it
        await keep_answer(db, "t1", "r1", CommandRejected.TYPE, later)
        assert await kept(db) == (CommandAccepted.TYPE, None)

    await keep_answer(db, "t1", "r2", CommandRejected.TYPE, {"request_id": "r2", "code": "conflict", "reason": "x"})
    await keep_answer(db, "t1", "r2", CommandAccepted.TYPE, {"request_id": "r2"})
    assert (await db[ANSWERS_SEEN].find_one({"_id": "t1:r2"}))["answer"]["code"] == "conflict"
    assert await db[ANSWERS_SEEN].count_documents({}) == 2


async def test_a_new_answer_is_an_insert_for_the_change_stream_that_wakes_its_waiters(db):
    """live.py wakes a waiting request on the insert of its answer: the upsert must insert."""
    await db.create_collection(ANSWERS_SEEN)
    async with await db[ANSWERS_SEEN].watch([{"$match": {"operationType": "insert"}}]) as stream:
        await keep_answer(db, "t1", "r3", CommandAccepted.TYPE, {"request_id": "r3"})
        change = None
        for _ in range(50):  # a bounded wait: try_next returns None when nothing came within its await time
            change = await stream.try_next()
            if change is not None:
                break
        assert change is not None and change["documentKey"]["_id"] == "t1:r3"
        assert change["fullDocument"]["type"] == CommandAccepted.TYPE
