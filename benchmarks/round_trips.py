"""Benchmark: what one MongoDB operation and one Kafka hop cost on this machine, in CPU, as the services make them.

    .venv/bin/python -m benchmarks.round_trips [--ops 2000]

Starts its own mongod (single-node replica set) and Kafka broker in a fresh folder, then, one at a time:
- MongoDB through PyMongo's async client (as every service uses it): a ping, a find by _id, an update by _id and an
  insert, the writes with the default write concern (majority, so journaled) and the update also with w:1
  unjournaled; and a transaction of a find, an update and an insert (a consumer's unit of work at its smallest);
- Kafka: one record produced with the services' producer settings (acks=all, idempotent) and received by a
  consumer in this process, the next one sent when it arrives.
For each: this process's CPU (client), the server's CPU (mongod or the broker, from /proc) and the wall time, per
operation. What a customer message or a routing command costs is these figures times how many it takes of each
(benchmarks.conversation_latency prints the operations per message): the floor under any code change that keeps
the round trips. Figures, not a test; run it with nothing else busy."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.write_concern import WriteConcern

from benchmarks.broker_hop import process_usage
from benchmarks.harness import local_infrastructure
from shared.broker import ensure_topics, producer_config
from shared.contracts.catalogue import Topic
from shared.settings import ServiceSettings


async def per_op(label: str, server_pid: int, op: Callable[[int], Awaitable[Any]], n: int) -> None:
    for i in range(min(200, n)):  # warm up first: connections, pools, the server's caches
        await op(-1 - i)
    me = os.getpid()
    client, server, wall = process_usage(me)[1], process_usage(server_pid)[1], time.perf_counter()
    for i in range(n):
        await op(i)
    client, server = process_usage(me)[1] - client, process_usage(server_pid)[1] - server
    wall = time.perf_counter() - wall
    print(f"  {label:46s}{1e6 * client / n:9.0f}{1e6 * server / n:9.0f}{1e6 * (client + server) / n:9.0f}"
          f"{1e6 * wall / n:9.0f}", flush=True)


def header(what: str) -> None:
    print(f"\n{what:48s}{'client':>9s}{'server':>9s}{'both':>9s}{'wall':>9s}   (microseconds per operation)")


async def mongo(url: str, pid: int, n: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    db = client["round_trips"]
    docs = db["docs"]
    await docs.replace_one({"_id": 1}, {"_id": 1, "n": 0, "text": "x" * 200}, upsert=True)
    header("MongoDB 6.0.5, PyMongo async, one at a time")
    await per_op("ping", pid, lambda i: db.command("ping"), n)
    await per_op("find_one by _id", pid, lambda i: docs.find_one({"_id": 1}), n)
    await per_op("update_one by _id (majority: journaled)", pid,
                 lambda i: docs.update_one({"_id": 1}, {"$inc": {"n": 1}}), n)
    unjournaled = db.get_collection("docs", write_concern=WriteConcern(1, j=False))
    await per_op("update_one by _id (w:1, not journaled)", pid,
                 lambda i: unjournaled.update_one({"_id": 1}, {"$inc": {"n": 1}}), n)
    await per_op("insert_one (majority)", pid, lambda i: db["rows"].insert_one({"i": i, "text": "x" * 200}), n)

    async def transaction(i: int) -> None:
        async with client.start_session() as session, await session.start_transaction():
            await docs.find_one({"_id": 1}, session=session)
            await docs.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=session)
            await db["rows"].insert_one({"tx": i}, session=session)

    await per_op("transaction: find, update, insert, commit", pid, transaction, max(1, n // 4))
    await client.close()


async def kafka(bootstrap: str, pid: int, n: int) -> None:
    settings = ServiceSettings(service_name="round-trips", kafka_bootstrap_servers=bootstrap)
    topic = Topic(name="bench.round-trips", partitions=1, key="none", producer="benchmark", consumers=("benchmark",),
                  description="one record at a time")
    await ensure_topics(bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_config(settings))
    consumer = AIOKafkaConsumer(topic.name, bootstrap_servers=bootstrap, group_id="round-trips",
                                auto_offset_reset="latest", fetch_max_wait_ms=500)
    await producer.start()
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.1)
        await consumer.seek_to_end()

        async def hop(i: int) -> None:
            await producer.send_and_wait(topic.name, b"x" * 300)
            while not (await consumer.getmany(timeout_ms=1000)):
                pass

        header("Kafka 4.4.0, aiokafka, one record at a time")
        await per_op("produce (acks=all, idempotent) -> consume", pid, hop, n)
    finally:
        await consumer.stop()
        await producer.stop()


async def main(args: argparse.Namespace, mongo_url: str, mongod_pid: int, bootstrap: str, broker_pid: int) -> None:
    await mongo(mongo_url, mongod_pid, args.ops)
    await kafka(bootstrap, broker_pid, args.ops)
    print("\n'client' is this process (the driver and its event loop), 'server' mongod or the broker, both from "
          "/proc; 2 cores give 2,000,000 microseconds of CPU a second to share among every process.")


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=2000, help="operations of each kind")
    args = parser.parse_args()
    with local_infrastructure("omni-bench-round-trips-") as (mongod, broker):
        mongod_pid, broker_pid = mongod.proc.pid, broker.pid
        assert mongod_pid is not None and broker_pid is not None
        asyncio.run(main(args, mongod.url, mongod_pid, broker.bootstrap_servers, broker_pid))

if __name__ == "__main__":
    run()
