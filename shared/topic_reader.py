"""Reading a topic whole, as operators' tools do (dead-letter replay, projection rebuilds, the chaos checker):
every record from the first one the broker still keeps up to the end offsets at the start of the read, without
a consumer group (nothing committed, no member of any service's group)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.contracts.envelope import Envelope, InvalidMessage, decode


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    envelope: Envelope[Any]


@dataclass
class TopicRead:
    topic: str
    records: list[Record] = field(default_factory=list)
    first_offsets: dict[int, int] = field(default_factory=dict)  # per partition: the first record still kept
    invalid: int = 0  # records that are not envelopes (left out)

    @property
    def complete(self) -> bool:
        """Whether retention has deleted nothing yet: every partition still starts at offset 0."""
        return not any(self.first_offsets.values())


async def read_topic(bootstrap: str, topic: str, *, timeout_ms: int = 1000) -> TopicRead:
    """Every record of `topic` now, in partition order, decoded (records that are not envelopes are counted)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")  # no group: every partition is this reader's
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        read = TopicRead(topic)
        if not partitions:
            return read
        await consumer.seek_to_beginning(*partitions)
        firsts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        read.first_offsets = {tp.partition: firsts[tp] for tp in partitions}

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            for tp, records in (await consumer.getmany(timeout_ms=timeout_ms)).items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue  # written after the read began
                    try:
                        read.records.append(Record(topic, tp.partition, record.offset, decode(record.value)))
                    except InvalidMessage:
                        read.invalid += 1
        return read
    finally:
        await consumer.stop()

