"""OffsetCommits (shared/offsets.py) with a stand-in consumer: what is committed, when, for which group, and
what a refused, slow or late commit does."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from shared import offsets as module
from shared.offsets import OffsetCommits

pytestmark = pytest.mark.unit


class Consumer:
    def __init__(self, assigned: set[TopicPartition], fail: bool = False, hang: bool = False) -> None:
        self.assigned, self.fail, self.hang, self.commits = assigned, fail, hang, []

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.fail:
            raise CommitFailedError("rebalanced")
        self.commits.append(offsets)


def tp(partition: int) -> TopicPartition:
    return TopicPartition("t", partition)


async def test_batches_are_noted_and_committed_together_one_request_per_consumer():
    offsets = OffsetCommits(interval_s=1.0)
    a, b = Consumer({tp(0), tp(1)}), Consumer({tp(2)})
    await offsets.handled(a, "g", "t", {0: (3, 5)}, 0)
    await offsets.handled(a, "g", "t", {0: (6, 6), 1: (0, 2)}, 0)
    await offsets.handled(b, "g", "t", {2: (10, 12)}, 0)
    assert a.commits == [] and b.commits == []  # nothing on the way of a record
    assert offsets.noted() == {("g", tp(0)): 7, ("g", tp(1)): 3, ("g", tp(2)): 13}
    await offsets.flush()
    assert a.commits == [{tp(0): 7, tp(1): 3}] and b.commits == [{tp(2): 13}]
    assert offsets.noted() == {} and offsets.commits == 2
    await offsets.flush()  # nothing new: no request
    assert offsets.commits == 2


async def test_two_groups_reading_one_partition_keep_their_own_offsets():
    """cases reads chat's events twice (its timeline, and suggestions in a group of its own)."""
    offsets = OffsetCommits(interval_s=1.0)
    timeline, suggestions = Consumer({tp(0)}), Consumer({tp(0)})
    await offsets.handled(timeline, "cases", "t", {0: (0, 9)}, 0)
    await offsets.handled(suggestions, "cases-knowledge", "t", {0: (0, 3)}, 0)
    await offsets.listener("cases").on_partitions_revoked([tp(0)])
    assert timeline.commits == [{tp(0): 10}] and suggestions.commits == []
    await offsets.flush()
    assert suggestions.commits == [{tp(0): 4}]


async def test_a_revoke_commits_only_the_partitions_taken_away_and_a_batch_across_it_notes_nothing():
    offsets = OffsetCommits(interval_s=1.0)
    a = Consumer({tp(0), tp(1)})
    await offsets.handled(a, "g", "t", {0: (0, 4), 1: (0, 8)}, offsets.rebalances("g"))
    started = offsets.rebalances("g")  # a batch of partition 0 starts...
    await offsets.listener("g").on_partitions_revoked([tp(1)])
    assert a.commits == [{tp(1): 9}] and offsets.noted() == {("g", tp(0)): 5}
    await offsets.handled(a, "g", "t", {0: (5, 7)}, started)  # ...and ends after the rebalance
    assert offsets.noted() == {("g", tp(0)): 5}


async def test_a_partition_no_longer_assigned_is_left_to_its_new_owner_and_a_refused_commit_is_dropped():
    offsets = OffsetCommits(interval_s=1.0)
    a = Consumer({tp(0)})
    await offsets.handled(a, "g", "t", {0: (0, 1), 1: (0, 1)}, 0)  # partition 1 went away meanwhile
    await offsets.flush()
    assert a.commits == [{tp(0): 2}]
    refused = Consumer({tp(0)}, fail=True)
    await offsets.handled(refused, "g", "t", {0: (2, 3)}, 0)
    await offsets.flush()  # logged, not raised: the records are read again and dropped as repeats
    assert offsets.failed == 1 and offsets.noted() == {}


async def test_a_commit_that_hangs_is_given_up_and_its_notes_kept_for_the_next_interval(monkeypatch):
    monkeypatch.setattr(module, "COMMIT_WAIT_S", 0.05)
    offsets = OffsetCommits(interval_s=1.0)
    stuck, fine = Consumer({tp(0)}, hang=True), Consumer({tp(1)})
    await offsets.handled(stuck, "g", "t", {0: (0, 1)}, 0)
    await offsets.handled(fine, "g", "t", {1: (0, 4)}, 0)
    await offsets.flush()
    assert fine.commits == [{tp(1): 5}]  # not held up by the other consumer
    assert offsets.failed == 1 and offsets.noted() == {("g", tp(0)): 2}


async def test_interval_zero_commits_each_batch_at_once():
    offsets = OffsetCommits(interval_s=0)
    a = Consumer({tp(0), tp(1)})
    await offsets.handled(a, "g", "t", {0: (0, 1)}, 0)
    await offsets.handled(a, "g", "t", {1: (0, 0)}, 0)
    assert a.commits == [{tp(0): 2}, {tp(1): 1}]


class Slow(Consumer):
    """A commit that waits until released."""
    def __init__(self, assigned: set[TopicPartition]) -> None:
        super().__init__(assigned)
        self.release = asyncio.Event()
        self.in_flight = self.most_in_flight = 0

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            self.commits.append(offsets)
        finally:
            self.in_flight -= 1


async def test_a_note_made_while_its_partition_is_being_committed_stays_for_the_next_flush_in_order():
    offsets = OffsetCommits(interval_s=1.0)
    a = Slow({tp(0)})
    await offsets.handled(a, "g", "t", {0: (0, 4)}, 0)
    first = asyncio.create_task(offsets.flush())
    await asyncio.sleep(0.01)  # the commit of 5 is under way
    await offsets.handled(a, "g", "t", {0: (5, 9)}, 0)
    revoke = asyncio.create_task(offsets.listener("g").on_partitions_revoked([tp(0)]))
    await asyncio.sleep(0.01)
    assert a.in_flight == 1  # the revoke's commit waits for the one under way (one partition, in order)
    a.release.set()
    await first
    await revoke
    assert a.commits == [{tp(0): 5}, {tp(0): 10}] and offsets.noted() == {} and a.most_in_flight == 1


async def test_a_flush_cancelled_mid_commit_keeps_its_notes():
    offsets = OffsetCommits(interval_s=1.0)
    a = Slow({tp(0)})
    await offsets.handled(a, "g", "t", {0: (0, 4)}, 0)
    flush = asyncio.create_task(offsets.flush())
    await asyncio.sleep(0.01)
    flush.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flush
    assert offsets.noted() == {("g", tp(0)): 5}
    a.release.set()
    await offsets.flush()  # the stop's
    assert a.commits == [{tp(0): 5}] and offsets.noted() == {}
