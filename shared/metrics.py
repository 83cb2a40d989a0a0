"""Prometheus metrics of one service process, served at /metrics (text format 0.0.4).

Most figures are read from the runtime when scraped (what its dispatchers counted, its unit of work, its relay,
its consumers' positions against the partitions' high watermarks); latencies are observed as they happen:
each consumed batch, and each HTTP request by route template. Every process has a registry of its own (tests
run several runtimes in one process).

What to watch is in the README's operations section: consumer lag (records and seconds), dead letters, the
outbox's backlog and the age of its oldest row, write conflicts, handler and HTTP latency."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from shared.runtime import ServiceRuntime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class _Partition:
    """Where one consumed partition stands: the next offset to handle and the consumer that reads it."""

    consumer: Any
    next_offset: int


@dataclass
class ConsumerPositions:
    """What a subscription handled last, per partition, and when its newest handled record occurred."""

    topic: str
    group: str
    partitions: dict[int, _Partition] = field(default_factory=dict)

    def handling(self, consumer: Any, partition: int, first_offset: int) -> None:
        """A batch starting at `first_offset` is being handled: it is still behind until it is done."""
        self.partitions[partition] = _Partition(consumer, first_offset)

    def handled(self, consumer: Any, partition: int, last_offset: int) -> None:
        self.partitions[partition] = _Partition(consumer, last_offset + 1)

    def behind(self) -> int:
        """Records on the broker not handled yet (the high watermark each partition's consumer last saw, minus
        the next offset to handle), over the partitions this process handled something of."""
        total = 0
        for tp, at in self.partitions.items():
            highwater = _highwater(at.consumer, self.topic, tp)
            if highwater is not None:
                total += max(0, highwater - at.next_offset)
        return total


def _highwater(consumer: Any, topic: str, partition: int) -> int | None:
    if consumer is None:
        return None
    try:
        return consumer.highwater(TopicPartition(topic, partition))
    except Exception:  # the partition is no longer assigned to it (a rebalance)
        return None


class ServiceMetrics:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry(auto_describe=False)
        self.positions: dict[str, ConsumerPositions] = {}  # subscription key -> where it stands
        self.batch_seconds = Histogram(
            "consumer_batch_seconds", "Time to handle one consumed batch (a record and those waiting behind it).",
            ["topic", "group"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.batch_records = Histogram(
            "consumer_batch_records", "Records per consumed batch.", ["topic", "group"],
            buckets=(1, 2, 5, 10, 20, 50, 100), registry=self.registry)
        self.http_seconds = Histogram(
            "http_request_seconds", "HTTP requests by method, route template and status.",
            ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self._gauges: list[tuple[str, str, Callable[[], float]]] = []
        self._counters: list[tuple[str, str, Callable[[], float]]] = []
        self.outbox_pending = 0
        self.outbox_oldest_s = 0.0
        self.registry.register(_RuntimeCollector(self))

    def subscription(self, key: str, topic: str, group: str) -> ConsumerPositions:
        return self.positions.setdefault(key, ConsumerPositions(topic, group))

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A figure a service adds (the gateway: sockets open), read when scraped."""
        self._gauges.append((name, documentation, read))

    def counter(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A count a service adds that only grows (exposed as `<name>_total`), read when scraped."""
        self._counters.append((name, documentation, read))

    async def refresh(self) -> None:
        """What needs MongoDB, read just before a scrape: the outbox's unsent rows and the oldest one's age."""
        from shared.mongo import OUTBOX
        outbox = self.runtime.db[OUTBOX]
        self.outbox_pending = await outbox.count_documents({"sent_at": None})
        oldest = await outbox.find_one({"sent_at": None}, sort=[("_id", 1)], projection={"created_at": 1})
        self.outbox_oldest_s = (datetime.now(UTC) - oldest["created_at"]).total_seconds() if oldest else 0.0

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def http_middleware(self, app: ASGIApp) -> ASGIApp:
        """Times each HTTP request of `app` by its route template (unmatched paths: 'unmatched')."""
        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            status = [500]

            async def sending(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            started = time.perf_counter()
            try:
                await app(scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                self.http_seconds.labels(scope["method"], route, str(status[0])).observe(
                    time.perf_counter() - started)
        return timed


class _RuntimeCollector(Collector):
    """The figures read from the runtime at scrape time."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        m, runtime = self.metrics, self.metrics.runtime
        records = CounterMetricFamily("consumer_records", "Consumed records by outcome (handled, duplicate, "
                                      "ignored, dead_lettered).", labels=["topic", "group", "outcome"])
        letters = CounterMetricFamily("dead_letters", "Records this process dead-lettered.", labels=["topic", "group"])
        lag = GaugeMetricFamily("consumer_lag_records", "Records on the broker not handled yet by this process "
                                "(high watermark minus next offset, over the partitions it handles).",
                                labels=["topic", "group"])
        lag_s = GaugeMetricFamily("consumer_lag_seconds", "While records wait: now minus the occurred-at of the "
                                  "first record of the batch being handled (else of the last record handled); 0 "
                                  "when caught up.", labels=["topic", "group"])
        now = datetime.now(UTC)
        for key, dispatcher in runtime.dispatchers.items():
            at = m.positions.get(key)
            topic = at.topic if at else key.split("@")[0]
            for outcome, count in sorted(dispatcher.outcomes.items()):
                records.add_metric([topic, dispatcher.group, str(outcome)], count)
            letters.add_metric([topic, dispatcher.group], dispatcher.outcomes.get("dead_lettered", 0))
            behind = at.behind() if at else 0
            lag.add_metric([topic, dispatcher.group], behind)
            # the oldest record known not handled: the batch being handled, else the last one handled
            since = dispatcher.in_flight_since or dispatcher.last_occurred_at
            waited = (now - since).total_seconds() if since is not None and behind else 0.0
            lag_s.add_metric([topic, dispatcher.group], max(0.0, waited))
        yield from (records, letters, lag, lag_s)
        transactions = CounterMetricFamily("unit_of_work", "Transactions: committed, attempts, conflicts, "
                                           "duplicates, hot_waits, grouped (messages committed in groups), "
                                           "groups_failed.", labels=["kind"])
        for kind, count in sorted(runtime.uow.stats.items()):
            transactions.add_metric([kind], count)
        yield transactions
        yield CounterMetricFamily("outbox_published", "Outbox rows this process published.",
                                  value=runtime.relay.published)
        yield GaugeMetricFamily("outbox_pending_rows", "Outbox rows not yet marked sent (published rows are "
                                "marked together, within 0.1 s).", value=m.outbox_pending)
        yield GaugeMetricFamily("outbox_oldest_pending_seconds", "Age of the oldest row not yet marked sent.",
                                value=m.outbox_oldest_s)
        for name, documentation, read in m._gauges:
            yield GaugeMetricFamily(name, documentation, value=read())
        for name, documentation, read in m._counters:
            yield CounterMetricFamily(name, documentation, value=read())
