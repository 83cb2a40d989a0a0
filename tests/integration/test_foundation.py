"""The shared runtime against the real mongod and broker: outbox, relay, idempotent consumer, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
from typing import ClassVar

import pytest
from pymongo import monitoring

from shared.broker import OutRecord, ensure_topics
from shared.consumer import Outcome
from shared.contracts.catalogue import DEAD_LETTERS, Topic
from shared.contracts.envelope import Envelope, Event, encode, wrap
from shared.mongo import OUTBOX, Transaction
from shared.outbox import OutboxRelay
from shared.runtime import ServiceRuntime, cancel_all
from shared.settings import ServiceSettings
from shared.testing.kafka import TopicReader, eventually, produce

pytestmark = pytest.mark.integration


class NoteWritten(Event):
    TYPE: ClassVar[str] = "test.NoteWritten"
    note_id: str
    text: str


def settings(infra, name: str) -> ServiceSettings:
    return ServiceSettings(service_name=name, kafka_bootstrap_servers=infra.kafka_bootstrap, mongo_url=infra.mongo_url,
                           outbox_poll_interval_s=0.1, outbox_lease_s=2,
                           max_delivery_attempts=3)


def write_note(topic: Topic, note_id: str, text: str = "hello"):
    async def work(tx: Transaction) -> None:
        await tx.db.notes.insert_one({"_id": note_id, "text": text}, session=tx.session)
        tx.emit(topic.name, wrap(NoteWritten(note_id=note_id, text=text), tenant_id="t1", key=note_id, producer="a"))
    return work


def projector(service: ServiceRuntime):
    async def project(env: Envelope[NoteWritten]) -> None:
        async def work(tx: Transaction) -> None:
            await tx.db.notes_view.update_one({"_id": env.payload.note_id},
                                              {"$inc": {"times": 1}, "$set": {"text": env.payload.text}},
                                              upsert=True, session=tx.session)
        await service.uow.run(work)  # idempotent by default: the consumed envelope's id is recorded
    return project


@pytest.fixture
async def topic(infrastructure, unique) -> Topic:
    t = Topic(name=f"test.notes.{unique}", partitions=3, key="note_id", producer="a", consumers=("b",),
              description="test notes", messages=(NoteWritten,))
    await ensure_topics(infrastructure.kafka_bootstrap, [t])
    return t


async def test_committed_state_and_event_reach_the_consumer_once(infrastructure, unique, topic):
    a = ServiceRuntime(settings(infrastructure, f"a-{unique}"), title="a")
    a.publishes(topic)
    b = ServiceRuntime(settings(infrastructure, f"b-{unique}"), title="b")
    consumer = b.consume(topic, {NoteWritten: projector(b)})
    await a.start()
    await b.start()
    try:
        for i in range(5):
            await a.uow.run(write_note(topic, f"n{i}", f"text {i}"))
        await eventually(lambda: b.db.notes_view.count_documents({}), timeout_s=30)
        await eventually(lambda: _count(b, 5), timeout_s=30)
        await eventually(lambda: _all_sent(a), timeout_s=30)  # marked after the broker's ack, beside the next pass

        # The same records delivered again (as after a relay crash before marking them sent): no effect.
        for row in await a.db[OUTBOX].find().to_list():
            await produce(infrastructure.kafka_bootstrap, topic.name, row["value"], row["key"].encode())
        await eventually(lambda: consumer.outcomes[Outcome.DUPLICATE] == 5, timeout_s=30)
        views = await b.db.notes_view.find().sort("_id").to_list()
        assert [(v["_id"], v["times"], v["text"]) for v in views] == [(f"n{i}", 1, f"text {i}") for i in range(5)]
    finally:
        await b.stop()
        await a.stop()


async def _at_least(count, n: int) -> bool:
    return await count >= n


async def _count(service: ServiceRuntime, n: int) -> bool:
    return await service.db.notes_view.count_documents({}) == n


async def _all_sent(service: ServiceRuntime) -> bool:
    return await service.db[OUTBOX].count_documents({"sent_at": None}) == 0


async def test_a_failed_handler_commits_neither_state_nor_event(infrastructure, unique, topic):
    a = ServiceRuntime(settings(infrastructure, f"a-{unique}"), title="a")

    async def half_done(tx: Transaction) -> None:
        await write_note(topic, "n1")(tx)
        raise RuntimeError("rule broken after the writes")

    with pytest.raises(RuntimeError):
        await a.uow.run(half_done)
    assert await a.db.notes.count_documents({}) == 0
    assert await a.db[OUTBOX].count_documents({}) == 0
    await a.mongo.close()


async def test_relay_killed_between_commit_and_publish_loses_nothing(infrastructure, unique, topic):
    a = ServiceRuntime(settings(infrastructure, f"a-{unique}"), title="a")
    b = ServiceRuntime(settings(infrastructure, f"b-{unique}"), title="b")
    consumer = b.consume(topic, {NoteWritten: projector(b)})
    await b.start()
    try:
        await a.producer.start()
        for i in range(4):  # committed while no relay runs: the process "died" right after commit
            await a.uow.run(write_note(topic, f"n{i}"))
        assert await a.db[OUTBOX].count_documents({"sent_at": None}) == 4

        published: list[bytes] = []

        async def publish_one_then_die(records: list[OutRecord]) -> None:
            published.append(records[0][2])
            await a.producer.publish(records[:1])
            raise ConnectionAbortedError("relay process killed")

        doomed = OutboxRelay(a.db, publish_one_then_die, lease_s=2)
        with pytest.raises(ConnectionAbortedError):
            assert await doomed._hold_lease()
            await doomed.publish_pending()
        assert len(published) == 1
        assert await a.db[OUTBOX].count_documents({"sent_at": None}) == 4  # nothing marked sent

        # A restarted relay (a new owner) takes over once the dead one's lease runs out.
        restarted = OutboxRelay(a.db, a.producer.publish, poll_interval_s=0.1, lease_s=2)
        task = asyncio.create_task(restarted.run())
        try:
            await eventually(lambda: _count(b, 4), timeout_s=30)
            await eventually(lambda: consumer.outcomes[Outcome.DUPLICATE] == 1, timeout_s=30)
            await eventually(lambda: _all_sent(a), timeout_s=30)
            assert sorted([v["times"] for v in await b.db.notes_view.find().to_list()]) == [1, 1, 1, 1]
        finally:
            assert not await cancel_all([task])  # bounded (shared.runtime.cancel_all says why)
    finally:
        await b.stop()
        await a.producer.stop()
        await a.mongo.close()



async def test_the_relay_producer_puts_each_record_where_a_send_would_in_order_with_its_headers(infrastructure,
                                                                                                unique, topic):
    """The relay hands a pass to the producer as one batch per partition: a key's records must land on the partition
    aiokafka's own send picks (the consumers' ordering rests on it), in the order given, headers kept; a record
    larger than a batch still goes through."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    runtime = ServiceRuntime(settings(infrastructure, f"p-{unique}"), title="p")
    keys = [f"key-{n}" for n in range(12)]
    records: list[OutRecord] = [(topic.name, keys[n % 12].encode(), f"{n}".encode() * (1 if n != 40 else 20_000),
                                 {"event_id": f"e{n}", "type": "T"}) for n in range(300)]
    sender = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap)
    consumer = AIOKafkaConsumer(topic.name, bootstrap_servers=infrastructure.kafka_bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await runtime.producer.start()
    await sender.start()
    await consumer.start()
    try:
        await runtime.producer.publish(records[:150])  # two passes
        await runtime.producer.publish(records[150:])
        where = {key: (await sender.send_and_wait(f"{topic.name}", b"probe", key=key.encode())).partition
                 for key in keys}  # the partition aiokafka's send chooses for each key
        got: dict[str, list[tuple[int, bytes, dict[str, bytes]]]] = {}
        deadline = asyncio.get_running_loop().time() + 30
        while sum(len(v) for v in got.values()) < len(records) + len(keys):
            assert asyncio.get_running_loop().time() < deadline, "records missing"
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                for r in batch:
                    got.setdefault(r.key.decode(), []).append((r.partition, r.value, dict(r.headers)))
        assert len({where[k] for k in keys}) > 1  # the keys really spread over the partitions
        for n, key in enumerate(keys):
            mine = [(r[2], {"event_id": r[3]["event_id"].encode(), "type": b"T"}) for r in records[n::12]]
            assert [(value, headers) for _, value, headers in got[key]][:-1] == mine  # in order, the probe last
            assert {partition for partition, _, _ in got[key]} == {where[key]}
        assert len(got["key-4"][3][1]) == 40_000  # record 40, larger than a batch (16 KiB)
    finally:
        await consumer.stop()
        await sender.stop()
        await runtime.producer.stop()
        await runtime.mongo.close()


async def test_the_relay_renews_its_lease_at_half_its_life_not_on_every_pass(infrastructure, unique):
    """Before, every pass (one per commit) renewed the lease with a findAndModify: the largest share of mongod's
    work per chat message. Now a pass trusts its renewal for half the lease; another relay still cannot take it."""
    from pymongo import AsyncMongoClient
    client = AsyncMongoClient(infrastructure.mongo_url, tz_aware=True)
    db = client[f"lease-{unique}"]
    now = [100.0]
    try:
        relay = OutboxRelay(db, lambda *a: None, lease_s=10, clock=lambda: now[0])
        other = OutboxRelay(db, lambda *a: None, lease_s=10, clock=lambda: now[0])
        assert await relay._hold_lease()
        first = (await db.outbox_lease.find_one({"_id": "relay"}))["expires_at"]
        for _ in range(20):
            now[0] += 0.2  # 4 s of passes: no write
            assert await relay._hold_lease()
        assert (await db.outbox_lease.find_one({"_id": "relay"}))["expires_at"] == first
        assert not await other._hold_lease()  # the lease is live in the database: nobody else takes it
        now[0] += 1.1  # past half of it: renewed
        assert await relay._hold_lease()
        assert (await db.outbox_lease.find_one({"_id": "relay"}))["expires_at"] > first
        await relay.stop()  # given up: the other takes it at once
        assert await other._hold_lease()
    finally:
        await client.drop_database(f"lease-{unique}")
        await client.close()

async def test_the_next_pass_runs_while_the_last_one_is_marked_sent_and_publishes_nothing_twice(infrastructure, unique):
    """A pass's rows are marked sent while the next pass reads and publishes (the marking is most of a pass); that
    pass leaves the rows being marked out, so every row goes out once, in commit order."""
    from bson import ObjectId
    from pymongo import AsyncMongoClient
    client = AsyncMongoClient(infrastructure.mongo_url, tz_aware=True)
    db = client[f"relay-{unique}"]
    sent: list[str] = []

    async def publish(records: list[OutRecord]) -> None:
        sent.extend(headers["event_id"] for *_, headers in records)

    async def commit(*names: str) -> None:
        await db.outbox.insert_many([{"_id": ObjectId(), "topic": "t", "key": "k", "value": b"v", "event_id": n,
                                      "type": "T", "sent_at": None} for n in names])
    try:
        relay = OutboxRelay(db, publish)
        for round_ in range(20):  # the second pass starts at once: its read races the first pass's marking
            await commit(f"a{round_}", f"b{round_}")
            assert await relay.publish_pending() == 2
            await commit(f"c{round_}")
            assert await relay.publish_pending() == 1
        assert await relay.publish_pending() == 0
        await relay.marked()
        assert sent == [f"{x}{r}" for r in range(20) for x in "abc"]
        assert await db.outbox.count_documents({"sent_at": None}) == 0
    finally:
        await client.drop_database(f"relay-{unique}")
        await client.close()


class _OutboxReads(monitoring.CommandListener):
    """A command listener counting the relay's reads of the outbox (finds on it) and its markings (updates)."""

    def __init__(self) -> None:
        self.finds = 0
        self.updates = 0
        self.on_commit = None  # called when a commitTransaction is sent

    def started(self, event) -> None:
        if event.command_name == "commitTransaction" and self.on_commit is not None:
            self.on_commit()
        if event.command_name == "find" and event.command.get("find") == OUTBOX:
            self.finds += 1
        if event.command_name == "update" and event.command.get("update") == OUTBOX:
            self.updates += 1

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


class _HandedRelay:
    """A relay fed by a unit of work's commits (as in ServiceRuntime), on its own database, with a clock the test
    moves, and what it published."""

    def __init__(self, infrastructure, name: str) -> None:
        from pymongo import AsyncMongoClient

        from shared.mongo import MongoUnitOfWork
        self.reads = _OutboxReads()
        self.client = AsyncMongoClient(infrastructure.mongo_url, tz_aware=True, event_listeners=[self.reads])
        self.name = name
        self.db = self.client[name]
        self.now = [0.0]
        self.sent: list[str] = []
        self.relay = OutboxRelay(self.db, self.publish, poll_interval_s=0.5, clock=lambda: self.now[0])
        self.uow = MongoUnitOfWork(self.client, name, on_outbox=self.relay.committed,  # this process's commits
                                   origin=self.relay.owner, on_outbox_unknown=self.relay.unknown)
        self.other = MongoUnitOfWork(self.client, name)  # another instance's (it does not hold the lease)

    async def publish(self, records: list[OutRecord]) -> None:
        self.sent.extend(headers["event_id"] for *_, headers in records)

    async def commit(self, uow, note_id: str) -> str:
        """A unit of work emitting one event; its event id."""
        ids: list[str] = []

        async def work(tx: Transaction) -> None:
            env = wrap(NoteWritten(note_id=note_id, text="x"), tenant_id="t1", key=note_id, producer="a")
            ids.append(env.event_id)
            tx.emit("test.notes", env)
        await uow.run(work, message_id=None)
        return ids[0]

    async def close(self) -> None:
        await self.client.drop_database(self.name)
        await self.client.close()


async def test_rows_handed_by_the_commit_go_out_without_reading_the_outbox_each_once(infrastructure, unique):
    """The unit of work hands its committed outbox rows to the relay: a pass publishes them in commit order without
    reading them back (a round trip less on every event's way); a row both read and handed goes out once."""
    r = _HandedRelay(infrastructure, f"relay-handed-{unique}")
    try:
        assert await r.relay.publish_pending() == 0  # the first pass reads (rows left from before a restart)
        assert r.reads.finds == 1
        ids = [await r.commit(r.uow, f"n{i}") for i in range(5)]
        assert await r.relay.publish_pending() == 5
        assert r.sent == ids
        assert r.reads.finds == 1  # not read again
        # Read and handed at once (notify asks for a read): the read leaves the handed row out.
        ids.append(await r.commit(r.uow, "n5"))
        r.relay.notify()
        assert await r.relay.publish_pending() == 1
        assert r.reads.finds == 2
        # Read first, handed after (its commit's callback came late): published by the read, not again.
        late: list[dict] = []
        uow = type(r.uow)(r.client, r.name, on_outbox=late.extend, origin=r.relay.owner)
        ids.append(await r.commit(uow, "n6"))
        r.relay.notify()
        assert await r.relay.publish_pending() == 1
        r.relay.committed(late)
        assert await r.relay.publish_pending() == 0
        # That row was this process's (its origin): not taken for another instance's, so no read on every pass.
        assert r.reads.finds == 3
        await r.relay.marked()
        assert r.sent == ids
        assert await r.db[OUTBOX].count_documents({"sent_at": None}) == 0
    finally:
        await r.close()


async def test_the_rows_of_several_passes_are_marked_sent_together_once_the_first_has_lingered(infrastructure,
                                                                                                    unique):
    """Marking rows sent was an update per pass, so one per event: the rows published within MARK_LINGER_S of the
    first are marked by one update; a pass with nothing new marks them when the time is over; a read meanwhile
    leaves them out (published, not marked yet), so nothing goes out twice."""
    from shared.outbox import MARK_LINGER_S
    r = _HandedRelay(infrastructure, f"relay-linger-{unique}")
    try:
        assert await r.relay.publish_pending() == 0
        ids = []
        for n in range(3):
            r.now[0] = n * MARK_LINGER_S / 4
            ids.append(await r.commit(r.uow, f"l{n}"))
            assert await r.relay.publish_pending() == 1
        r.relay.notify()  # a read now: the three are still pending in the outbox, and left out
        assert await r.relay.publish_pending() == 0
        assert r.reads.updates == 0 and await r.db[OUTBOX].count_documents({"sent_at": None}) == 3
        r.now[0] = MARK_LINGER_S
        assert await r.relay.publish_pending() == 0  # nothing new; their time is over: one update marks them
        await r.relay.marked()
        assert r.reads.updates == 1 and await r.db[OUTBOX].count_documents({"sent_at": None}) == 0
        assert r.sent == ids
    finally:
        await r.close()


async def test_handed_rows_past_a_batch_go_out_on_the_next_pass_in_commit_order(infrastructure, unique):
    """A pass publishes at most a batch; the handed rows past it wait for the next pass, ahead of any handed
    meanwhile, and nothing is read for them."""
    r = _HandedRelay(infrastructure, f"relay-batch-{unique}")
    try:
        r.relay = OutboxRelay(r.db, r.publish, poll_interval_s=0.5, batch_size=2, clock=lambda: r.now[0])
        r.uow = type(r.uow)(r.client, r.name, on_outbox=r.relay.committed, origin=r.relay.owner)
        assert await r.relay.publish_pending() == 0
        ids = [await r.commit(r.uow, f"b{n}") for n in range(3)]
        assert await r.relay.publish_pending() == 2
        ids.append(await r.commit(r.uow, "b3"))
        assert await r.relay.publish_pending() == 2
        assert await r.relay.publish_pending() == 0
        await r.relay.marked()
        assert r.sent == ids and r.reads.finds == 1
        assert await r.db[OUTBOX].count_documents({"sent_at": None}) == 0
    finally:
        await r.close()


async def test_a_unit_of_work_cancelled_at_its_commit_has_its_rows_read_on_the_next_pass(infrastructure, unique):
    """Cancelled while waiting for its commit's reply, a unit of work hands nothing, yet its rows may be committed:
    the next pass reads the outbox (not a poll interval later, after a later row of the same key went out)."""
    r = _HandedRelay(infrastructure, f"relay-unknown-{unique}")
    try:
        assert await r.relay.publish_pending() == 0
        task = asyncio.create_task(r.commit(r.uow, "u1"))
        r.reads.on_commit = task.cancel  # the commit is sent; its reply is never awaited
        with pytest.raises(asyncio.CancelledError):
            await task
        r.reads.on_commit = None
        await eventually(lambda: _positive(r.db[OUTBOX].count_documents({})), timeout_s=10)  # it did commit
        later = await r.commit(r.uow, "u1")  # the same key's next row, handed
        assert await r.relay.publish_pending() == 2
        assert r.reads.finds == 2 and len(r.sent) == 2 and r.sent[1] == later  # the cancelled one first
        assert await r.relay.publish_pending() == 0 and r.reads.finds == 3  # and it goes on reading for a while
    finally:
        await r.close()


async def _positive(awaitable) -> bool:
    return await awaitable > 0


async def test_a_failing_publish_is_tried_again_a_poll_interval_later_not_at_once(infrastructure, unique):
    """With rows waiting for their marking, a failed pass does not make the relay loop at once (each time a read
    and a warning) until the broker is back: it waits its poll interval, as it always did."""
    r = _HandedRelay(infrastructure, f"relay-failing-{unique}")
    failing = [False]

    async def publish(records: list[OutRecord]) -> None:
        if failing[0]:
            raise ConnectionError("broker away")
        r.sent.extend(headers["event_id"] for *_, headers in records)
    try:
        r.relay = OutboxRelay(r.db, publish, poll_interval_s=0.1)
        r.uow = type(r.uow)(r.client, r.name, on_outbox=r.relay.committed, origin=r.relay.owner)
        assert await r.relay.publish_pending() == 0
        await r.commit(r.uow, "f1")
        assert await r.relay.publish_pending() == 1  # published; its marking waits for the linger
        failing[0] = True
        await r.commit(r.uow, "f2")
        before, began = r.reads.finds, asyncio.get_running_loop().time()
        loop = asyncio.create_task(r.relay.run())
        try:
            await eventually(lambda: r.reads.finds - before >= 7, timeout_s=30)  # seven failed passes
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        # one read per poll interval: seven took at least four intervals (the first pass and the one the last commit
        # woke may come at once; looping at once, a few milliseconds)
        assert asyncio.get_running_loop().time() - began >= 4 * 0.1 * 0.9
    finally:
        await r.close()


async def test_another_instances_rows_are_read_each_poll_interval_then_on_every_pass_for_a_while(infrastructure,
                                                                                                unique):
    """Rows this relay was not handed (another instance's, which does not hold the lease) are found by a read:
    once per poll interval, and once some were found, on every pass for FOREIGN_S."""
    from shared.outbox import FOREIGN_S
    r = _HandedRelay(infrastructure, f"relay-foreign-{unique}")
    try:
        assert await r.relay.publish_pending() == 0  # t=0: read
        first = await r.commit(r.other, "o1")
        r.now[0] = 0.1
        assert await r.relay.publish_pending() == 0  # within the poll interval: not read
        r.now[0] = 0.6
        assert await r.relay.publish_pending() == 1  # read: found
        second = await r.commit(r.other, "o2")
        r.now[0] = 0.7
        assert await r.relay.publish_pending() == 1  # read on every pass now
        r.now[0] = 0.8 + FOREIGN_S
        assert await r.relay.publish_pending() == 0  # the interval's read, nothing found
        third = await r.commit(r.other, "o3")
        r.now[0] = 0.9 + FOREIGN_S
        assert await r.relay.publish_pending() == 0  # back to one read per poll interval
        r.now[0] = 1.4 + FOREIGN_S
        assert await r.relay.publish_pending() == 1
        assert r.sent == [first, second, third]
        assert r.reads.finds == 5  # at 0, 0.6, 0.7, 0.8 + F and 1.4 + F
    finally:
        await r.close()


async def test_rows_whose_marking_failed_are_read_and_published_again_then_marked(infrastructure, unique):
    """A handed row is published, but marking it sent fails (here a validator refuses sent_at): it is not left
    pending for good, the next pass reads it, publishes it again (consumers drop the repeat) and marks it."""
    r = _HandedRelay(infrastructure, f"relay-marking-{unique}")
    try:
        await r.db.create_collection(OUTBOX, validator={"$jsonSchema": {"properties": {"sent_at": {"bsonType": "null"}}}})
        assert await r.relay.publish_pending() == 0
        event = await r.commit(r.uow, "m1")
        assert await r.relay.publish_pending() == 1
        with pytest.raises(Exception, match="(?i)validation"):
            await r.relay.marked()
        await r.db.command("collMod", OUTBOX, validator={})
        assert await r.relay.publish_pending() == 1
        await r.relay.marked()
        assert r.sent == [event, event]
        assert await r.db[OUTBOX].count_documents({"sent_at": None}) == 0
    finally:
        await r.close()


async def test_invalid_and_failing_messages_are_dead_lettered_and_consumption_goes_on(infrastructure, unique, topic):
    b = ServiceRuntime(settings(infrastructure, f"b-{unique}"), title="b")
    project = projector(b)

    async def project_unless_cursed(env: Envelope[NoteWritten]) -> None:
        if env.payload.text == "cursed":
            raise RuntimeError("projection store rejects this note")
        await project(env)

    consumer = b.consume(topic, {NoteWritten: project_unless_cursed})
    bootstrap = infrastructure.kafka_bootstrap
    note = lambda i, text: encode(wrap(NoteWritten(note_id=i, text=text), tenant_id="t1", key="k", producer="a"))  # noqa: E731
    invalid_payload = note("x", "ok").replace(b'"note_id":"x"', b'"note_id":42')
    # All on one key (one partition), so the good note after them proves the consumer moved on.
    for value in (b"{not json", invalid_payload, note("n-cursed", "cursed"), note("n-good", "fine")):
        await produce(bootstrap, topic.name, value, key=b"k")

    async with TopicReader(bootstrap, DEAD_LETTERS.name) as dead:
        await b.start()
        try:
            ours = lambda envs: [e for e in envs if e.payload.original_topic == topic.name]  # noqa: E731
            letters = await dead.wait_for(lambda envs: len(ours(envs)) >= 3 and ours(envs), timeout_s=60)
            await eventually(lambda: _count(b, 1), timeout_s=30)
            assert (await b.db.notes_view.find_one({"_id": "n-good"}))["times"] == 1
            relayed = lambda: b.db[OUTBOX].count_documents({"topic": DEAD_LETTERS.name, "sent_at": {"$ne": None}})  # noqa: E731
            await eventually(lambda: _at_least(relayed(), 3), timeout_s=30)
            rows = await b.db[OUTBOX].find({"topic": DEAD_LETTERS.name}).to_list()
        finally:
            await b.stop()
    by_kind = sorted((e.payload.error_kind, e.payload.attempts) for e in letters)
    assert by_kind == [("failing", 3), ("invalid", 1), ("invalid", 1)]
    reasons = " | ".join(e.payload.reason for e in letters)
    assert "not JSON" in reasons and "note_id" in reasons and "projection store rejects" in reasons
    failing = next(e for e in letters if e.payload.error_kind == "failing")
    assert failing.payload.original_type == "test.NoteWritten" and '"cursed"' in failing.payload.value
    assert consumer.outcomes[Outcome.DEAD_LETTERED] == 3
    # Each letter went through the service's outbox (written, then relayed), like every other publish.
    assert sorted(r["event_id"] for r in rows) == sorted(e.event_id for e in letters)


KILLED_AFTER_COMMIT = """
import asyncio, os, signal, sys
from shared.runtime import ServiceRuntime
from tests.integration.test_foundation import Topic, settings, write_note, NoteWritten
class Infra: kafka_bootstrap, mongo_url = sys.argv[1], sys.argv[2]
topic = Topic(name=sys.argv[4], partitions=3, key="", producer="a", consumers=(), description="", messages=(NoteWritten,))
async def main():
    a = ServiceRuntime(settings(Infra, sys.argv[3]), title="a")
    for i in range(3):
        await a.uow.run(write_note(topic, f"k{i}"))
    os.kill(os.getpid(), signal.SIGKILL)  # committed, never published: the process dies here
asyncio.run(main())
"""


async def test_a_process_killed_right_after_commit_loses_no_event(infrastructure, unique, topic):
    import subprocess
    import sys
    name = f"a-{unique}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_AFTER_COMMIT, infrastructure.kafka_bootstrap, infrastructure.mongo_url, name,
        topic.name, stderr=subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == -9, err.decode()[-2000:]

    b = ServiceRuntime(settings(infrastructure, f"b-{unique}"), title="b")
    b.consume(topic, {NoteWritten: projector(b)})
    restarted = ServiceRuntime(settings(infrastructure, name), title="a")  # same service, same database
    assert await restarted.db[OUTBOX].count_documents({"sent_at": None}) == 3
    await b.start()
    await restarted.start()
    try:
        await eventually(lambda: _count(b, 3), timeout_s=30)
        assert sorted(v["_id"] for v in await b.db.notes_view.find().to_list()) == ["k0", "k1", "k2"]
    finally:
        await restarted.stop()
        await b.stop()


async def test_records_waiting_on_a_partition_are_group_committed_in_order_and_a_poisoned_one_alone(
        infrastructure, unique, topic):
    """Records produced before the consumer starts wait together: they are taken in batches and committed in
    groups (one transaction each), each key's records applied once and in order; a poisoned record in the middle
    is dead-lettered alone, its neighbours kept."""
    from aiokafka import AIOKafkaProducer
    b = ServiceRuntime(settings(infrastructure, f"b-{unique}"), title="b")

    async def append(env: Envelope[NoteWritten]) -> None:
        async def work(tx: Transaction) -> None:
            if env.payload.text == "poison":
                raise ValueError("poisoned note")
            await tx.db.notes_view.update_one({"_id": env.payload.note_id}, {"$push": {"seq": env.payload.text}},
                                              upsert=True, session=tx.session)
        await b.uow.run(work)

    consumer = b.consume(topic, {NoteWritten: append})
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(40):
            for key in ("k0", "k1", "k2"):
                text = "poison" if (key, n) == ("k1", 20) else str(n)
                env = wrap(NoteWritten(note_id=key, text=text), tenant_id="t1", key=key, producer="a")
                await producer.send(topic.name, encode(env), key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()
    await b.start()
    try:
        await eventually(lambda: sum(consumer.outcomes.values()) == 120, timeout_s=60)
        views = {v["_id"]: v["seq"] for v in await b.db.notes_view.find().to_list()}
        assert views == {"k0": [str(n) for n in range(40)], "k2": [str(n) for n in range(40)],
                         "k1": [str(n) for n in range(40) if n != 20]}
        assert consumer.outcomes[Outcome.DEAD_LETTERED] == 1
        assert b.uow.stats["grouped"] > 0, b.uow.stats  # batches were taken, and committed as groups
        assert b.uow.stats["committed"] < 119, b.uow.stats
    finally:
        await b.stop()


async def test_a_batch_across_partitions_takes_every_partition_and_a_failed_one_is_read_again_whole(
        infrastructure, unique, topic):
    """With across_partitions, records waiting on several partitions form one batch (each partition's in order).
    When handling such a batch fails on the infrastructure (MongoDB unreachable), every partition in it is read
    again from its first record of the batch, not only the partition of the record the subscriber handed over:
    nothing is skipped, nothing applied twice."""
    from aiokafka import AIOKafkaProducer
    from pymongo.errors import AutoReconnect

    from shared.consumer import Batched

    b = ServiceRuntime(settings(infrastructure, f"b-{unique}").model_copy(update={"consumer_workers": 1}), title="b")
    applied: dict[str, list[str]] = {}
    batches: list[set[str]] = []
    failed: list[int] = []

    async def one(env: Envelope[NoteWritten]) -> None:
        applied.setdefault(env.payload.note_id, []).append(env.payload.text)

    async def many(batch, each) -> list[bool]:
        keys = {env.payload.note_id for env in batch}
        batches.append(keys)
        if len(keys) > 1 and not failed:  # the first batch of several partitions' records fails, unhandled
            failed.append(len(batch))
            raise AutoReconnect("mongod went away")
        for env in batch:
            with each(env):
                await one(env)
        return [False] * len(batch)

    consumer = b.consume(topic, {NoteWritten: Batched(one, many)}, across_partitions=True)
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(40):
            for key, partition in (("k0", 0), ("k1", 1), ("k2", 2)):
                env = wrap(NoteWritten(note_id=key, text=str(n)), tenant_id="t1", key=key, producer="a")
                await producer.send(topic.name, encode(env), key=key.encode(), partition=partition)
        await producer.flush()
    finally:
        await producer.stop()
    await b.start()
    try:
        await eventually(lambda: sum(len(texts) for texts in applied.values()) >= 120, timeout_s=60)
        assert failed, batches  # a batch held more than one partition's records
        assert applied == {key: [str(n) for n in range(40)] for key in ("k0", "k1", "k2")}
        assert consumer.outcomes[Outcome.HANDLED] == 120
    finally:
        await b.stop()


async def _committed(infra, group: str) -> dict[int, int]:
    """The group's committed offsets on the broker, by partition (what a restarted consumer starts from)."""
    from aiokafka.admin import AIOKafkaAdminClient
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def _send_notes(infra, topic: Topic, keys: list[str]) -> dict[int, int]:
    """One record per key; the partitions' end offsets after them."""
    from aiokafka import AIOKafkaProducer
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        ends: dict[int, int] = {}
        for key in keys:
            env = wrap(NoteWritten(note_id=key, text=key), tenant_id="t1", key=key, producer="a")
            meta = await producer.send_and_wait(topic.name, encode(env), key=key.encode())
            ends[meta.partition] = meta.offset + 1
        return ends
    finally:
        await producer.stop()


async def test_offsets_are_committed_in_the_background_not_after_each_batch_and_before_a_stop(
        infrastructure, unique, topic):
    """Handled records are not committed one batch at a time (no commit while the interval has not passed),
    they are committed when the service stops, and a restarted consumer reads none of them again; with a short
    interval they are committed while it runs."""
    group = f"b-{unique}"
    b = ServiceRuntime(settings(infrastructure, group).model_copy(update={"kafka_commit_interval_ms": 600_000}),
                       title="b")
    consumer = b.consume(topic, {NoteWritten: projector(b)})
    await b.start()
    try:
        ends = {}
        for n in range(12):  # one at a time: twelve batches
            ends |= await _send_notes(infrastructure, topic, [f"n{n}"])
            await eventually(lambda n=n: consumer.outcomes[Outcome.HANDLED] == n + 1, timeout_s=30)
        assert await _committed(infrastructure, group) == {}  # committing after each batch: twelve commits here
        assert b.offsets.noted() and b.offsets.commits == 0
    finally:
        await b.stop()
    assert await _committed(infrastructure, group) == ends  # the stop committed them

    again = ServiceRuntime(settings(infrastructure, group).model_copy(update={"kafka_commit_interval_ms": 200}),
                           title="b")
    consumer = again.consume(topic, {NoteWritten: projector(again)})
    await again.start()
    try:
        ends |= await _send_notes(infrastructure, topic, ["m1", "m2", "m3"])
        await eventually(lambda: consumer.outcomes[Outcome.HANDLED] == 3, timeout_s=30)
        await eventually(lambda: _committed_to(infrastructure, group, ends), timeout_s=30)  # while it runs
        assert consumer.outcomes[Outcome.DUPLICATE] == 0  # nothing of before the stop read again
        assert await again.db.notes_view.count_documents({}) == 15
    finally:
        await again.stop()


async def _committed_to(infra, group: str, ends: dict[int, int]) -> bool:
    return await _committed(infra, group) == ends


async def test_partitions_taken_away_by_a_rebalance_are_committed_first(infrastructure, unique, topic):
    """A second instance joins: before the first gives partitions up, what it handled of them is committed, so
    the newcomer reads none of it again (though the interval, ten minutes, has not passed)."""
    group = f"b-{unique}"
    first = ServiceRuntime(settings(infrastructure, group).model_copy(
        update={"kafka_commit_interval_ms": 600_000, "consumer_workers": 1}), title="b")
    handled = first.consume(topic, {NoteWritten: projector(first)})
    await first.start()
    second = ServiceRuntime(settings(infrastructure, group).model_copy(
        update={"kafka_commit_interval_ms": 600_000, "consumer_workers": 1}), title="b")
    joined = second.consume(topic, {NoteWritten: projector(second)})
    try:
        ends = await _send_notes(infrastructure, topic, [f"n{n}" for n in range(12)])
        assert len(ends) == 3  # every partition has records
        await eventually(lambda: handled.outcomes[Outcome.HANDLED] == 12, timeout_s=30)
        assert await _committed(infrastructure, group) == {}
        await second.start()  # the group rebalances: the first gives up partitions, and commits them first
        await eventually(lambda: _committed_to(infrastructure, group, ends), timeout_s=30)
        await eventually(lambda: _assigned(second), timeout_s=30)  # so that some of the next records are its
        more = await _send_notes(infrastructure, topic, [f"m{n}" for n in range(12)])
        await eventually(lambda: handled.outcomes[Outcome.HANDLED] + joined.outcomes[Outcome.HANDLED] == 24,
                         timeout_s=30)
        assert joined.outcomes[Outcome.HANDLED] > 0 and joined.outcomes[Outcome.DUPLICATE] == 0
        assert len(more) == 3
    finally:
        await second.stop()
        await first.stop()


def _assigned(service: ServiceRuntime) -> bool:
    consumers = [c for s in service.broker.subscribers for c in (getattr(s, "consumer_subgroup", None) or [s.consumer])]
    return any(c is not None and c.assignment() for c in consumers)
