"""A service instance SIGKILLed inside a unit of work leaves its MongoDB transaction open on the server, holding
what it wrote (the conversation, the processed-message record). The instance that takes its messages over writes the
same documents and gets a WriteConflict on every attempt until mongod aborts the orphan, which it does only once the
transaction is older than transactionLifetimeLimitSeconds (checked every half of that): with mongod's default, 60 s,
that is 60 to 90 s after the kill, during which the partition's every later message waits too (seen in
tests/e2e/test_instances.py: chat-b killed mid-SendMessage, chat made 222 attempts in 60 s and committed none, a
customer's message unanswered after 70 s, mongod's log: the transaction aborted by abortExpiredTransactions after
87.9 s). Every mongod the system runs gets MONGOD_PARAMETERS (shared/localstack/processes.py), so the redelivered
message is handled within 1.5 lifetimes, once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from shared.localstack.processes import MONGOD_TRANSACTION_LIFETIME_S
from shared.mongo import PROCESSED, MongoUnitOfWork, Transaction, make_mongo_client
from shared.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # CI runs it (.ci/run); the default run stays under 15 minutes

ROOT = Path(__file__).resolve().parents[2]
WRITE_CONFLICT = 112

# A service's unit of work handling message m1: it writes the conversation, says so, and is killed before it commits.
CRASHING_INSTANCE = """
import asyncio, sys
from shared.mongo import MongoUnitOfWork, make_mongo_client
from shared.settings import ServiceSettings

async def main() -> None:
    uow = MongoUnitOfWork(make_mongo_client(ServiceSettings(mongo_url=sys.argv[1])), sys.argv[2])

    async def work(tx) -> None:
        await tx.db["conversations"].update_one({"_id": "c1"}, {"$inc": {"version": 1}}, session=tx.session)
        print("written, not committed", flush=True)
        await asyncio.Event().wait()

    await uow.run(work, message_id="m1")

asyncio.run(main())
"""


async def test_a_killed_instances_open_transaction_holds_its_writes_only_briefly(infrastructure, unique):
    db_name = f"orphan-{unique}"
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    conversations = client[db_name]["conversations"]
    await conversations.insert_one({"_id": "c1", "version": 1})
    instance = subprocess.Popen([sys.executable, "-c", CRASHING_INSTANCE, infrastructure.mongo_url, db_name],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        said = await asyncio.wait_for(asyncio.to_thread(instance.stdout.readline), 60)  # type: ignore[union-attr]
        assert said.strip() == "written, not committed"
    finally:
        instance.kill()  # SIGKILL, as a crash or an OOM kill
        instance.wait()

    async with client.start_session() as session:  # the orphan holds the conversation: a writer conflicts
        await session.start_transaction()
        with pytest.raises(OperationFailure) as conflict:
            await conversations.update_one({"_id": "c1"}, {"$inc": {"version": 1}}, session=session)
        assert conflict.value.code == WRITE_CONFLICT
        await session.abort_transaction()

    async def redelivered(tx: Transaction) -> Any:  # the other instance handles m1 again
        await tx.db["conversations"].update_one({"_id": "c1"}, {"$inc": {"version": 1}}, session=tx.session)

    # mongod aborts the orphan 1 to 1.5 lifetimes after it began (60-90 s with mongod's default); twice that is
    # room for a busy machine, and far below the default's
    await asyncio.wait_for(MongoUnitOfWork(client, db_name).run(redelivered, message_id="m1"),
                           timeout=3 * MONGOD_TRANSACTION_LIFETIME_S)
    assert (await conversations.find_one({"_id": "c1"}))["version"] == 2  # the crashed attempt left nothing
    assert await client[db_name][PROCESSED].count_documents({"_id": "m1"}) == 1
    await client.drop_database(db_name)
    await client.close()
