"""One service's process: broker, MongoDB, outbox relay, subscribers, background loops, health and AsyncAPI.

A service's bootstrap creates a `ServiceRuntime`, registers what it consumes and publishes, and calls `run()`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

import uvicorn
from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka.annotations import KafkaMessage

from shared.asyncapi import ContractAsyncAPI
from shared.broker import BatchProducer, make_broker
from shared.consumer import (Batched, BatchHandler, Handler, MessageDispatcher, Prepared, Record, Redact,
                             keep_as_is)
from shared.commands import Publisher, answer_failed
from shared.contracts.catalogue import DEAD_LETTERS, Topic
from shared.contracts.envelope import Envelope, Message
from shared.logging import Processor, configure_logging, get_logger, request_context
from shared.metrics import CONTENT_TYPE, ServiceMetrics
from shared.mongo import AlreadyProcessed, MongoUnitOfWork, Transaction, ensure_runtime_indexes, make_mongo_client
from shared.offsets import STOP_WAIT_S, OffsetCommits
from shared.outbox import OutboxRelay
from shared.settings import ServiceSettings
from shared.tracing import configure_tracing, server_spans

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from shared.testing.fakes import FakeUnitOfWork

log = get_logger(__name__)


BROKER_STOP_S = 15.0  # within Kubernetes' default 30 s grace period, and the tests' 30 s wait after SIGTERM


async def stop_broker_bounded(broker: Any, timeout_s: float | None = None) -> bool:
    """Stop the broker's consumers and producer, but never wait forever. aiokafka's consumer waits for its group
    coordination to finish before it leaves the group: caught mid-rejoin (right after the broker came back from
    an outage) that took longer than our 30 s wait after SIGTERM once in CI, and the test saw a -9. Stopping
    without it is safe: an offset not committed means records delivered again, which the idempotent consumer
    drops. Returns whether the broker stopped in time."""
    try:
        await asyncio.wait_for(broker.stop(), timeout_s or BROKER_STOP_S)
        return True
    except TimeoutError:
        log.warning("broker did not stop in time; uncommitted records will be redelivered and dropped as "
                    "duplicates", timeout_s=timeout_s or BROKER_STOP_S)
        return False


async def _raw_value(message: Any) -> bytes:
    # Decoding is ours (shared.contracts.decode), so that a bad record is dead-lettered, not crashed on.
    return message.body


async def _waiting_behind(consumer: Any, raw: Any, limit: int, *, any_partition: bool = False) -> list[Record]:
    """The records of `raw`'s partition already fetched behind it (up to `limit`, none waited for), taken from
    the consumer that read it, so that they are handled with it as one batch. The batch's offsets are noted for
    the next commit together (shared/offsets.py); a failure seeks back to `raw`, so they are read again with it.
    `any_partition`: those fetched of every partition the consumer holds (each partition's still in order; a
    failure must then seek each of them back: _rewind)."""
    if consumer is None or limit <= 0:
        return []
    partitions = () if any_partition else (TopicPartition(raw.topic, raw.partition),)
    try:
        fetched = await consumer.getmany(*partitions, timeout_ms=0, max_records=limit)
    except Exception as exc:  # the partition was taken away meanwhile (a rebalance): the one record alone
        log.debug("no batch taken", error=repr(exc))
        return []
    return [Record(r.topic, r.partition, r.offset, r.key, r.value) for records in fetched.values() for r in records]


def _spans(records: list[Record]) -> dict[int, tuple[int, int]]:
    """Each partition of a batch with its first and last offset in it (a partition's records are in order)."""
    spans: dict[int, tuple[int, int]] = {}
    for record in records:
        spans[record.partition] = (spans.get(record.partition, (record.offset,))[0], record.offset)
    return spans


def _rewind(consumer: Any, topic: str, spans: dict[int, tuple[int, int]]) -> None:
    """Seek every partition of a batch that failed back to its first record, so that it is read again and none is
    committed past a record not handled (offsets are ours to commit: the subscriber's acknowledgement is off)."""
    for partition, (first, _) in spans.items():
        try:
            consumer.seek(TopicPartition(topic, partition), first)
        except Exception as exc:  # no longer assigned (a rebalance): its new owner starts from the commit
            log.debug("not rewound", partition=partition, error=repr(exc))


class _ServeThenConnect(AsgiFastStream):
    """FastStream's ASGI app, except that its start does not wait for (or fail on) the broker: HTTP (health,
    AsyncAPI) is served at once and the runtime connects in the background, so a service whose Kafka or
    MongoDB is not there yet runs and reports not-ready instead of exiting."""

    def __init__(self, *args: Any, connect: Callable[[], None], http_app: ASGIApp | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connect = connect
        self._http_app = http_app

    async def _start_broker(self) -> None:
        self._connect()

    async def stop(self) -> None:
        """FastStream's stop (shutdown hooks around the broker's stop), with the broker's stop bounded."""
        async with self._shutdown_hooks_context():
            for broker in self.brokers:
                await stop_broker_bounded(broker)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Health and AsyncAPI paths are FastStream's; every other HTTP or WebSocket request goes to the
        service's own app (its read API, or the gateway's public API), if it has one."""
        own = scope["type"] == "http" and any(scope["path"] == path for path, _ in self.routes)
        if self._http_app is not None and scope["type"] in ("http", "websocket") and not own:
            await self._http_app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def cancel_all(tasks: Iterable[asyncio.Task[Any]], *, rounds: int = 3, wait_s: float = 5.0
                     ) -> set[asyncio.Task[Any]]:
    """Cancel tasks and wait for them, bounded; returns those still running. On Python 3.11 asyncio.wait_for
    (which the MongoDB driver uses for its timed waits, a change stream's getMore included) can drop a
    cancellation that lands as its inner wait finishes, and a loop that lost it runs on; so cancel again, and
    never wait on such a task forever."""
    pending = set(tasks)
    for _ in range(rounds):
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=wait_s) if pending else (set(), set())
        if not pending:
            break
    return pending


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, *, title: str, description: str = "",
                 uow: MongoUnitOfWork | FakeUnitOfWork | None = None, redact: Redact = keep_as_is,
                 log_processors: Sequence[Processor] = ()) -> None:
        """`redact` hides what must not reach dead letters and failure logs; `log_processors` run on every log
        line before it is rendered (chat passes its masker for both)."""
        self.settings = settings
        self.redact = redact
        configure_logging(settings.log_level, settings.log_json, extra_processors=log_processors)
        configure_tracing(settings)  # off unless OTEL_TRACES_FILE or OTEL_EXPORTER_OTLP_ENDPOINT is set
        self.title = title
        self.description = description
        self.broker = make_broker(settings)
        self.mongo = make_mongo_client(settings)
        self.db = self.mongo[settings.database_name]
        self.producer = BatchProducer(settings)  # the outbox relay's
        self.relay = OutboxRelay(self.db, self.producer.publish, poll_interval_s=settings.outbox_poll_interval_s,
                                 lease_s=settings.outbox_lease_s)
        # Unit tests hand in shared.testing.fakes.FakeUnitOfWork (dead letters and handlers then need no MongoDB).
        self.uow = uow or MongoUnitOfWork(self.mongo, settings.database_name, on_outbox=self.relay.committed,
                                           origin=self.relay.owner, on_outbox_unknown=self.relay.unknown)
        # What the consumers handled, committed to Kafka in the background (shared/offsets.py)
        self.offsets = OffsetCommits(settings.kafka_commit_interval_ms / 1000)
        self.dispatchers: dict[str, MessageDispatcher] = {}
        # AsyncAPI channel (an endpoint's title) -> the payload types its records carry.
        self.channel_messages: dict[str, tuple[type[Message], ...]] = {}
        self._startup: list[Callable[[], Awaitable[None]]] = [lambda: ensure_runtime_indexes(self.db)]
        self._loops: list[Callable[[], Coroutine[Any, Any, None]]] = [self.relay.run, self.offsets.run,
                                                                       self._report_stats]
        self._tasks: list[asyncio.Task[None]] = []
        self._connector: asyncio.Task[None] | None = None
        self.connected = False  # MongoDB and Kafka reached, consuming and loops started
        self._connect_error: str | None = None
        self._http_app: ASGIApp | None = None
        self.metrics = ServiceMetrics(self)  # served at /metrics
        self.metrics.counter("kafka_offset_commits", "Offset commit requests sent (in the background, "
                             "shared/offsets.py).", lambda: self.offsets.commits)
        self.metrics.counter("kafka_offset_commits_failed", "Offset commits refused (a rebalance took the "
                             "partitions: their records are read again), failed or timed out (tried again).",
                             lambda: self.offsets.failed)
        self.metrics.gauge("python_gc_frozen_objects", "Objects the start built, kept out of the garbage "
                           "collector's full collections (gc.freeze once connected).", gc.get_freeze_count)
        self.publishes(DEAD_LETTERS)

    # --- registration -----------------------------------------------------------------------------

    def consume(self, topic: Topic, handlers: Mapping[type[Message], Handler | Batched | Prepared] | None = None, *,
                batch_handlers: Mapping[type[Message], BatchHandler] | None = None,
                group: str | None = None, across_partitions: bool = False,
                answers_on: Topic | None = None, workers: int | None = None) -> MessageDispatcher:
        """Consume `topic` with per-message handlers (or Batched pairs) and/or batch-shaped ones (shared.consumer:
        envelopes of one partition, in order). `group`: a consumer group of its own instead of
        the service's, for work that may fall behind without holding up the service's other consumers of the
        topic (its offsets, its idempotency records and its dispatcher, keyed `topic@group`, are its own).
        `across_partitions`: a batch takes the records waiting on every partition the consumer holds, not only
        on the partition of the record it starts with (each partition's kept in order): bigger batches, for
        handlers whose batch form loads its state once (routing's commands).
        `answers_on`: for a commands topic, the owner's events topic, where a command that is dead-lettered is
        answered (shared.commands.answer_failed). `workers`: consumers of this topic in this process, instead of
        the `consumer_workers` setting."""
        group_id = group or self.settings.consumer_group
        failed = None if answers_on is None else functools.partial(
            answer_failed, self.uow, publisher=Publisher(answers_on.name, self.settings.service_name))
        dispatcher = MessageDispatcher(group=group_id, handlers=handlers, failed_command=failed,
                                       batch_handlers=batch_handlers, dead_letter=self.dead_letter,
                                       max_attempts=self.settings.max_delivery_attempts, redact=self.redact,
                                       idempotency_scope=group, group_commit=self.uow, topic=topic.name)
        key = topic.name if group is None else f"{topic.name}@{group}"
        self.dispatchers[key] = dispatcher
        positions = self.metrics.subscription(key, topic.name, group_id)
        batch_seconds = self.metrics.batch_seconds.labels(topic.name, group_id)
        batch_records = self.metrics.batch_records.labels(topic.name, group_id)
        title = f"on_{topic.name.replace('.', '_')}" + (f"_{group.replace('-', '_')}" if group else "")
        self.channel_messages[title] = (*(handlers or {}), *(batch_handlers or {}))
        subscriber = self.broker.subscriber(
            topic.name, group_id=group_id, auto_offset_reset="earliest",
            # Offsets are committed by self.offsets (not after each record); a batch that fails (the dead-letter
            # publish itself failed) is rewound by on_record, so it is read again, never skipped.
            ack_policy=AckPolicy.MANUAL, listener=self.offsets.listener(group_id),
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            # Several consumers in the group: partitions are handled in parallel, each one in order.
            max_workers=workers or self.settings.consumer_workers,
            decoder=_raw_value, title=title, description=f"{topic.description} Key: {topic.key}.")

        batch_max = self.settings.consumer_batch_max

        async def on_record(value: bytes, message: KafkaMessage) -> None:
            raw, consumer = message.raw_message, getattr(message, "consumer", None)
            rebalances = self.offsets.rebalances(group_id)  # a batch that spans a rebalance notes no offset
            started = time.perf_counter()
            records = [Record(raw.topic, raw.partition, raw.offset, raw.key, value)]
            records += await _waiting_behind(consumer, raw, batch_max - 1, any_partition=across_partitions)
            spans = _spans(records)
            for partition, (first, _) in spans.items():
                positions.handling(consumer, partition, first)
            try:
                await dispatcher.dispatch_batch(records)
            except BaseException:
                if consumer is not None:
                    _rewind(consumer, raw.topic, spans)
                raise
            for partition, (_, last) in spans.items():
                positions.handled(consumer, partition, last)
            if consumer is not None:
                await self.offsets.handled(consumer, group_id, raw.topic, spans, rebalances)
            batch_seconds.observe(time.perf_counter() - started)
            batch_records.observe(len(records))

        subscriber(on_record)
        return dispatcher

    def publishes(self, topic: Topic) -> None:
        """Declares a published topic (the relay does the publishing) so AsyncAPI documents its messages."""
        schema: Any = Union[tuple(Envelope[m] for m in topic.messages)] if topic.messages else None  # noqa: UP007
        title = f"to_{topic.name.replace('.', '_')}"
        self.channel_messages[title] = topic.messages
        self.broker.publisher(topic.name, title=title,
                              description=f"{topic.description} Key: {topic.key}.", schema=schema)

    def serve_http(self, app: ASGIApp) -> None:
        """Serve `app` (a FastAPI app: a service's internal read API, the gateway's public API) on this
        process's port, beside /health, /metrics and /asyncapi (its requests timed by route in /metrics, and
        each one a SERVER span when tracing is on)."""
        self._http_app = self.metrics.http_middleware(request_context(server_spans(app)))

    def on_startup(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._startup.append(hook)

    def add_loop(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A background coroutine started after the broker connects and cancelled on shutdown."""
        self._loops.append(loop)

    # --- publishing -------------------------------------------------------------------------------

    async def dead_letter(self, env: Envelope[Any]) -> None:
        """Through the outbox like every publish, so a broker outage at this moment loses no letter; the
        record's position is the processed id, so re-reading the same record writes no second letter."""
        p = env.payload

        async def work(tx: Transaction) -> None:
            tx.emit(DEAD_LETTERS.name, env)

        position = f"{p.original_topic}:{p.original_partition}:{p.original_offset}"
        with contextlib.suppress(AlreadyProcessed):
            await self.uow.run(work, message_id=f"dead-letter:{p.consumer_group}:{position}")

    # --- lifecycle --------------------------------------------------------------------------------

    async def _start(self) -> None:
        await self.mongo.aconnect()
        for hook in self._startup:
            await hook()

    async def _start_loops(self) -> None:
        self._tasks = [asyncio.create_task(loop(), name=loop.__qualname__) for loop in self._loops]
        log.info("service started", service=self.settings.service_name, port=self.settings.http_port)

    async def _connect_until_up(self, *, first_delay_s: float = 0.5, max_delay_s: float = 10.0) -> None:
        """What the HTTP process does instead of failing its start: connect to MongoDB (indexes) and Kafka,
        then start consuming and the loops; while either is unreachable, say so, wait, and try again."""
        delay = first_delay_s
        while True:
            try:
                await self.start()
                # What the start built (modules, models, the apps, clients) lives as long as the process: out of
                # the collector's sight, so that a full collection walks only what handling creates. Measured on
                # routing at 60 commands/s: full collections took 68-95 ms over ~120,000 objects, each a stall of
                # every consumer at once; 1-11 ms frozen (benchmarks/routing_offer_latency.py's tail). Only in a
                # service's own process: tests start many runtimes in one.
                gc.freeze()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._connect_error = repr(exc)[:300]
                log.warning("not connected yet; /health/ready answers 503 meanwhile", error=repr(exc),
                            retry_in_s=delay)
                with contextlib.suppress(Exception):
                    await self.broker.stop()  # closes what a half-done start opened, so a retry starts clean
                with contextlib.suppress(Exception):
                    await self.producer.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)

    async def _stop(self) -> None:
        if self._connector is not None and not self._connector.done():
            if await cancel_all([self._connector]):
                log.warning("the connector did not stop")
        # The relay finishes the pass it is in (so what it published is also marked sent), then the rest stops.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.relay.stop(), timeout=10)
        pending = await cancel_all(self._tasks)
        if pending:
            log.warning("background tasks did not stop", tasks=sorted(t.get_name() for t in pending))
        # What the consumers handled so far is committed before they stop (what they handle after it is read
        # again on the next start, and dropped as repeats); bounded, as Kafka may be the thing that is down.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.offsets.flush(), STOP_WAIT_S)
        with contextlib.suppress(Exception):  # the relay is done; what it had not sent is still pending in the outbox
            await asyncio.wait_for(self.producer.stop(), BROKER_STOP_S)

    async def _close(self) -> None:
        await self.mongo.close()
        log.info("service stopped", service=self.settings.service_name)

    async def start(self) -> None:
        """Connect and start at once, or raise (tests, benchmarks); the HTTP process connects in the background."""
        await self._start()
        await self.broker.start()
        await self.producer.start()
        await self._start_loops()
        self.connected = True

    async def stop(self) -> None:
        await self._stop()
        await stop_broker_bounded(self.broker)
        await self._close()

    async def _report_stats(self, every_s: float = 30.0) -> None:
        """A log line with what this process did, for operators (and for reading a benchmark run)."""
        while True:
            await asyncio.sleep(every_s)
            consumed = {name: dict(d.outcomes) for name, d in self.dispatchers.items() if d.outcomes}
            log.info("activity", transactions=dict(self.uow.stats), consumed=consumed, relayed=self.relay.published)

    async def ready(self) -> tuple[bool, dict[str, str]]:
        if not self.connected:  # still connecting: say why, at once (pinging what is down would take seconds)
            return False, {"started": "connecting", "last_error": self._connect_error or "none yet"}
        checks: dict[str, str] = {"started": "ok"}
        checks["kafka"] = "ok" if await self.broker.ping(timeout=2.0) else "unreachable"
        try:
            await asyncio.wait_for(self.mongo.admin.command("ping"), 2.0)
            checks["mongodb"] = "ok"
        except Exception as exc:
            checks["mongodb"] = f"unreachable: {type(exc).__name__}"
        return all(v == "ok" for v in checks.values()), checks

    def specification(self) -> ContractAsyncAPI:
        """The AsyncAPI document served at /asyncapi(.json): every channel's messages typed from the contracts."""
        return ContractAsyncAPI(self.broker, channel_messages=self.channel_messages, title=self.title,
                                description=self.description, version="0.1.0")

    def asgi_app(self) -> AsgiFastStream:
        @get(description="The process is up.")
        async def live(scope: Any) -> AsgiResponse:
            return AsgiResponse(b'{"status":"ok"}', 200, headers={"content-type": "application/json"})

        @get(description="Kafka and MongoDB answer.")
        async def ready(scope: Any) -> AsgiResponse:
            ok, checks = await self.ready()
            body = json.dumps({"status": "ok" if ok else "unavailable", **checks}).encode()
            return AsgiResponse(body, 200 if ok else 503, headers={"content-type": "application/json"})

        @get(description="Prometheus metrics: consumer lag, handled and dead-lettered records, batch and HTTP "
                         "latency, transactions, outbox backlog (shared/metrics.py).")
        async def metrics(scope: Any) -> AsgiResponse:
            with contextlib.suppress(Exception):  # MongoDB away: the outbox figures stay as last read
                await asyncio.wait_for(self.metrics.refresh(), 2.0)
            return AsgiResponse(self.metrics.exposition(), 200, headers={"content-type": CONTENT_TYPE})

        def connect_in_background() -> None:
            self._connector = asyncio.create_task(self._connect_until_up(), name="connect")

        return _ServeThenConnect(
            self.broker,
            connect=connect_in_background,
            http_app=self._http_app,
            asgi_routes=[("/health/live", live), ("/health/ready", ready), ("/metrics", metrics)],
            asyncapi_path="/asyncapi",
            specification=self.specification(),
            on_shutdown=[self._stop], after_shutdown=[self._close],
            logger=logging.getLogger(f"faststream.{self.settings.service_name}"),
        )

    def run(self) -> None:
        """Serve until SIGINT/SIGTERM, then stop consuming, finish loops and close clients."""
        config = uvicorn.Config(self.asgi_app(), host=self.settings.http_host, port=self.settings.http_port,
                                lifespan="on", log_config=None, access_log=False,
                                timeout_keep_alive=self.settings.http_keep_alive_s)
        # uvicorn shuts down gracefully on these, then re-raises them into the handlers it found;
        # no-op handlers make that a clean exit 0 instead of a traceback or a -15.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        uvicorn.Server(config).run()
