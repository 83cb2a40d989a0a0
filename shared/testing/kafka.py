"""Reading and writing topics directly in tests and benchmarks (no consumer group: no join wait,
no committed offsets, every read starts at the beginning)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.broker import producer_config
from shared.contracts.envelope import Envelope, InvalidMessage, decode, encode, wrap
from shared.settings import ServiceSettings


async def publish_all(bootstrap: str, records: Iterable[tuple[str, Envelope[Any]]]) -> None:
    """Produce (topic, envelope) records as the producing services' relays do (value: the envelope, key: its
    key, the services' producer settings), in order per topic and key, and wait until all are acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_config(ServiceSettings()))
    await producer.start()
    try:
        for topic, env in records:
            await producer.send(topic, encode(env), key=env.key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


class TopicReader:
    """Collects every decoded envelope of a topic, from the first record on, in a background task."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.envelopes: list[Envelope[Any]] = []
        self.invalid: list[bytes] = []
        self._consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                          auto_offset_reset="earliest", enable_auto_commit=False)
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _pump(self) -> None:
        async for record in self._consumer:
            try:
                self.envelopes.append(decode(record.value))
            except InvalidMessage:
                self.invalid.append(record.value)
            self._changed.set()

    def of_type(self, type_: str) -> list[Envelope[Any]]:
        return [e for e in self.envelopes if e.type == type_]

    async def wait_for(self, predicate: Callable[[list[Envelope[Any]]], Any], timeout_s: float = 30.0) -> Any:
        """Wait until predicate(envelopes) is truthy and return its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = predicate(self.envelopes)
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met on {self.topic} after {timeout_s}s; "
                                   f"saw {[e.type for e in self.envelopes][-20:]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass


async def eventually(check: Callable[[], Any], timeout_s: float = 30.0, interval_s: float = 0.1) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met after {timeout_s}s (last value {result!r})")
        await asyncio.sleep(interval_s)


class CommandSender:
    """Produces envelopes the way a producing service's relay would (value = envelope JSON, key = envelope key)."""

    def __init__(self, bootstrap: str, topic: str, *, tenant_id: str, producer: str = "test") -> None:
        self.topic = topic
        self.tenant_id = tenant_id
        self.producer_name = producer
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")

    async def __aenter__(self) -> CommandSender:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, payload: Any, *, times: int = 1) -> Envelope[Any]:
        """Send one message (the same record `times` times, as a redelivery would); returns its envelope."""
        env = wrap(payload, tenant_id=self.tenant_id, key=getattr(payload, payload.KEY), producer=self.producer_name)
        for _ in range(times):
            await self._producer.send_and_wait(self.topic, encode(env), key=env.key.encode())
        return env
