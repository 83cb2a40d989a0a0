"""Consumer offsets committed in the background, a few per second, not after every batch.

FastStream's acknowledgement commits a consumer's positions after each record (or batch) it handles, and the
consumer waits for that commit before it takes its next record. At 5 customer messages/s that made 16 offset
commits per message (every consumer group that sees its events commits after each), about 9 ms of the broker's
CPU per message (alternated runs of benchmarks.conversation_latency, 2026-12-03). Here a handled
batch only notes its partitions' next offsets; `run` commits what is noted every `interval_s`, one request per
consumer, and never on the way of a record.

Nothing is lost by committing late: a record past the last commit is read again after a crash or a rebalance,
and the idempotent consumer (shared.consumer, its processed-message records) drops it as a repeat. To keep even
that small, the partitions a consumer gives up in a rebalance are committed first (the listener of its group,
`listener`), and a service that stops commits what it handled (`flush`) before its consumers stop. `interval_s`
0 commits after every batch, before the consumer takes its next record, as FastStream does.

Notes are kept per consumer group and partition: one process may read a topic in two groups (cases reads
chat's events for its timeline and, in a group of its own, for suggestions)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition

from shared.logging import get_logger

log = get_logger(__name__)

COMMIT_WAIT_S = 5.0  # one consumer's commit, at most (aiokafka retries while the coordinator is away)
# A rebalance waits this long at most for the commit of what it takes away (a background flush under way first).
REVOKE_WAIT_S = 2 * COMMIT_WAIT_S + 1
STOP_WAIT_S = REVOKE_WAIT_S  # and a stopping service, the same

Note = tuple[str, TopicPartition]  # (consumer group, partition)


class OffsetCommits:
    """The next offsets of the partitions this process's consumers handled, until they are committed: one per
    service process, for all its consumers (a group's partition has one consumer in a process at a time)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._noted: dict[Note, tuple[Any, int]] = {}  # -> (the consumer that handled it, next offset)
        self._rebalances: dict[str, int] = {}  # per group: rebalances that took partitions so far (`handled`)
        self.commits = 0  # commit requests sent
        self.failed = 0  # of which refused (a rebalance took the partitions), failed or timed out
        self._flushing = asyncio.Lock()

    def listener(self, group: str) -> ConsumerRebalanceListener:
        """The rebalance listener of a group's consumers: what they give up is committed first."""
        return _Revokes(self, group)

    def rebalances(self, group: str) -> int:
        """Taken before a batch is handled, handed back to `handled` (a batch that spans a rebalance notes
        nothing: its partitions may have gone and come back, and its offsets be behind a newer commit)."""
        return self._rebalances.get(group, 0)

    async def handled(self, consumer: Any, group: str, topic: str, spans: dict[int, tuple[int, int]],
                      rebalances: int) -> None:
        """A batch of `topic` is handled: each partition's records from first to last (`spans`)."""
        if rebalances != self.rebalances(group):
            return  # read again by whoever holds the partition now, and dropped as repeats
        for partition, (_, last) in spans.items():
            self._noted[(group, TopicPartition(topic, partition))] = (consumer, last + 1)
        if self.interval_s <= 0:
            await self.flush([(group, TopicPartition(topic, partition)) for partition in spans])

    def noted(self) -> dict[Note, int]:
        """The offsets waiting for their commit."""
        return {note: offset for note, (_, offset) in self._noted.items()}

    async def flush(self, notes: Iterable[Note] | None = None) -> None:
        """Commit the noted offsets (of `notes` only, if given): one request per consumer, all at once. One flush
        at a time, so commits of one partition go out in the order they were noted. A note leaves only once its
        commit is answered: done, or refused (a rebalance took the partitions: their records are read again and
        dropped as repeats); one that timed out or was cancelled stays for the next flush, unless a newer note
        replaced it meanwhile."""
        async with self._flushing:
            wanted = list(self._noted) if notes is None else [note for note in notes if note in self._noted]
            by_consumer: dict[int, tuple[Any, dict[Note, int]]] = {}
            for note in wanted:
                consumer, offset = self._noted[note]
                by_consumer.setdefault(id(consumer), (consumer, {}))[1][note] = offset
            if by_consumer:
                await asyncio.gather(*(self._commit(consumer, offsets) for consumer, offsets in by_consumer.values()))

    async def _commit(self, consumer: Any, notes: dict[Note, int]) -> None:
        try:
            if getattr(consumer, "_closed", False):  # stopped (a restarted connection): its group member is gone
                self._answered(consumer, notes)
                return
            assigned = consumer.assignment()  # one partition no longer assigned fails a whole commit: its owner's
            offsets = {tp: offset for (_, tp), offset in notes.items() if tp in assigned}
            if offsets:
                self.commits += 1
                await asyncio.wait_for(consumer.commit(offsets), COMMIT_WAIT_S)
            self._answered(consumer, notes)
        except TimeoutError:
            self.failed += 1
            log.warning("offsets not committed in time; tried again at the next flush", partitions=len(notes))
        except Exception as exc:
            self.failed += 1
            self._answered(consumer, notes)
            log.info("offsets not committed; their records will be read again and dropped as repeats",
                     partitions=len(notes), error=repr(exc))

    def _answered(self, consumer: Any, notes: dict[Note, int]) -> None:
        for note, offset in notes.items():
            if self._noted.get(note) == (consumer, offset):  # not replaced by a newer one meanwhile
                del self._noted[note]

    async def revoked(self, group: str, partitions: list[TopicPartition]) -> None:
        """A rebalance takes `partitions` from a consumer of `group`: what was handled of them is committed, so
        their new owner does not read it again (after a background flush under way; bounded: a rebalance never
        waits long on a commit). What could not be committed is dropped: it belongs to the generation that ends."""
        if not partitions:
            return
        self._rebalances[group] = self.rebalances(group) + 1
        notes = [(group, tp) for tp in partitions]
        try:
            await asyncio.wait_for(self.flush(notes), REVOKE_WAIT_S)
        except TimeoutError:
            log.warning("revoked partitions not committed in time; their records will be read again", group=group)
        for note in notes:
            self._noted.pop(note, None)

    async def run(self) -> None:
        """The background commits (a service runtime's loop)."""
        if self.interval_s <= 0:
            return
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()


class _Revokes(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, commits: OffsetCommits, group: str) -> None:
        self.commits, self.group = commits, group

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.commits.revoked(self.group, list(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        pass
