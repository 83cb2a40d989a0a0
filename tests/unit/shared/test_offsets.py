"""OffsetCommits (shared/offsets.py) with a stand-in consumer: what is committed, when, and what a failed or
refused commit does."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from shared.offsets import OffsetCommits


class Consumer:
    def __init__(self, assigned: set[TopicPartition], fail: bool = False) -> None:
        self.assigned, self.fail, self.commits = assigned, fail, []

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.fail:
            raise CommitFailedError("rebalanced")
        self.commits.append(offsets)


def tp(partition: int) -> TopicPartition:
    return TopicPartition("t", partition)


async def test_batches_are_noted_and_committed_together_one_request_per_consumer():
    offsets = OffsetCommits(interval_s=1.0)
    a, b = Consumer({tp(0), tp(1)}), Consumer({tp(2)})
    await offsets.handled(a, "t", {0: (3, 5)})
    await offsets.handled(a, "t", {0: (6, 6), 1: (0, 2)})
    await offsets.handled(b, "t", {2: (10, 12)})
    assert a.commits == [] and b.commits == []  # nothing on the way of a record
    assert offsets.noted() == {tp(0): 7, tp(1): 3, tp(2): 13}
    await offsets.flush()
    assert a.commits == [{tp(0): 7, tp(1): 3}] and b.commits == [{tp(2): 13}]
    assert offsets.noted() == {} and offsets.commits == 2
    await offsets.flush()  # nothing new: no request
    assert offsets.commits == 2


async def test_a_revoke_commits_only_the_partitions_taken_away():
    offsets = OffsetCommits(interval_s=1.0)
    a = Consumer({tp(0), tp(1)})
    await offsets.handled(a, "t", {0: (0, 4), 1: (0, 8)})
    await offsets.on_partitions_revoked([tp(1)])
    assert a.commits == [{tp(1): 9}] and offsets.noted() == {tp(0): 5}


async def test_a_partition_no_longer_assigned_is_left_to_its_new_owner_and_a_refused_commit_is_dropped():
    offsets = OffsetCommits(interval_s=1.0)
    a = Consumer({tp(0)})
    await offsets.handled(a, "t", {0: (0, 1), 1: (0, 1)})  # partition 1 went away meanwhile
    await offsets.flush()
    assert a.commits == [{tp(0): 2}]
    refused = Consumer({tp(0)}, fail=True)
    await offsets.handled(refused, "t", {0: (2, 3)})
    await offsets.flush()  # logged, not raised: the records are read again and dropped as repeats
    assert offsets.failed == 1 and offsets.noted() == {}


async def test_interval_zero_commits_each_batch_at_once():
    offsets = OffsetCommits(interval_s=0)
    a = Consumer({tp(0), tp(1)})
    await offsets.handled(a, "t", {0: (0, 1)})
    await offsets.handled(a, "t", {1: (0, 0)})
    assert a.commits == [{tp(0): 2}, {tp(1): 1}]
