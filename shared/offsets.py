"""Consumer offsets committed in the background, a few per second, not after every batch.

FastStream's acknowledgement commits a consumer's positions after each record (or batch) it handles, and the
consumer waits for that commit before it takes its next record. At 5 customer messages/s that made 16 offset
commits per message (every consumer group that sees its events commits after each), about 9 ms of the broker's
CPU per message (alternated runs of benchmarks.conversation_latency, 2026-12-03). Here a handled
batch only notes its partitions' next offsets; `run` commits what is noted every `interval_s`, one request per
consumer, and never on the way of a record.

Nothing is lost by committing late: a record past the last commit is read again after a crash or a rebalance,
and the idempotent consumer (shared.consumer, its processed-message records) drops it as a repeat. To keep even
that small, the partitions a consumer gives up in a rebalance are committed first (`on_partitions_revoked`, the
consumer's rebalance listener), and a service that stops commits what it handled (`flush`) before its consumers
stop. `interval_s` 0 commits after every batch, before the consumer takes its next record, as FastStream does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition

from shared.logging import get_logger

log = get_logger(__name__)

REVOKE_WAIT_S = 5.0  # a rebalance waits this long at most for the commit of what it takes away


class OffsetCommits(ConsumerRebalanceListener):  # type: ignore[misc]
    """The next offsets of the partitions this process's consumers handled, until they are committed. One per
    service process, for all its consumers (a partition has one consumer in a process at a time)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._noted: dict[TopicPartition, tuple[Any, int]] = {}  # partition -> (its consumer, next offset)
        self.commits = 0  # commit requests sent
        self.failed = 0  # of which refused (a rebalance took the partitions) or failed

    async def handled(self, consumer: Any, topic: str, spans: dict[int, tuple[int, int]]) -> None:
        """A batch of `topic` is handled: each partition's records from first to last (`spans`)."""
        for partition, (_, last) in spans.items():
            self._noted[TopicPartition(topic, partition)] = (consumer, last + 1)
        if self.interval_s <= 0:
            await self.flush(TopicPartition(topic, partition) for partition in spans)

    def noted(self) -> dict[TopicPartition, int]:
        """The offsets waiting for their commit."""
        return {tp: offset for tp, (_, offset) in self._noted.items()}

    async def flush(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Commit the noted offsets (of `partitions` only, if given): one request per consumer. Taken off the
        notes before the request is sent, so two flushes never commit one note twice; a failed commit is logged
        and dropped (its records are read again, and dropped as repeats)."""
        taken = list(self._noted) if partitions is None else [tp for tp in partitions if tp in self._noted]
        by_consumer: dict[int, tuple[Any, dict[TopicPartition, int]]] = {}
        for tp in taken:
            consumer, offset = self._noted.pop(tp)
            by_consumer.setdefault(id(consumer), (consumer, {}))[1][tp] = offset
        for consumer, offsets in by_consumer.values():
            try:  # a partition no longer assigned makes the whole commit fail: leave it to its new owner
                assigned = consumer.assignment()
                offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
                if not offsets:
                    continue
                self.commits += 1
                await consumer.commit(offsets)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failed += 1
                log.info("offsets not committed; their records will be read again and dropped as repeats",
                         partitions=len(offsets), error=repr(exc))

    async def run(self) -> None:
        """The background commits (a service runtime's loop)."""
        if self.interval_s <= 0:
            return
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        """Before a rebalance hands partitions to another consumer: what was handled of them is committed, so
        their new owner does not read it again (bounded: a rebalance never waits long on a commit)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(list(revoked)), REVOKE_WAIT_S)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        pass
