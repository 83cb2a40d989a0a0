"""Replaying dead letters: once what made a consumer give up on records is fixed (a bug, a missing reference),
their letters on platform.deadletter are published again to their original topics, with their original keys.

    .venv/bin/python -m shared.deadletters [--bootstrap 127.0.0.1:9092] [--group routing] [--event-id ID ...]
        [--kind failing|invalid|any] [--dry-run]

Safe to repeat: every consumer group of the original topic gets the record again, and those that handled it
(or a replay before) drop it by its event id; the group that gave up on it handles it now, or dead-letters it
again. By default only `failing` letters are replayed (`invalid` ones are not envelopes: they would fail the
same way). A letter's value is what the service let into it: chat's are masked, so a replayed chat command
carries masked text (the originals were never kept for it)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from shared.contracts.catalogue import DEAD_LETTERS
from shared.contracts.deadletter import MessageDeadLettered
from shared.topic_reader import read_topic


async def read_letters(bootstrap: str) -> list[MessageDeadLettered]:
    """Every letter on the topic now, oldest first, each original record once."""
    letters: dict[tuple[str, int, int], MessageDeadLettered] = {}
    for record in (await read_topic(bootstrap, DEAD_LETTERS.name)).records:
        letter = record.envelope.payload
        if isinstance(letter, MessageDeadLettered):
            letters.setdefault((letter.original_topic, letter.original_partition, letter.original_offset), letter)
    return list(letters.values())


def chosen(letters: list[MessageDeadLettered], *, group: str | None = None, event_ids: set[str] | None = None,
           kind: str = "failing") -> list[MessageDeadLettered]:
    return [letter for letter in letters
            if (group is None or letter.consumer_group == group)
            and (not event_ids or letter.original_event_id in event_ids)
            and (kind == "any" or letter.error_kind == kind)]


async def replay(bootstrap: str, letters: list[MessageDeadLettered]) -> int:
    """Publish each letter's record again to its topic (acks=all, idempotent producer); how many."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for letter in letters:
            key = letter.original_key.encode() if letter.original_key is not None else None
            await producer.send_and_wait(letter.original_topic, letter.value.encode(), key=key,
                                         headers=[("replayed_from", DEAD_LETTERS.name.encode())])
        return len(letters)
    finally:
        await producer.stop()


def _describe(letter: MessageDeadLettered) -> dict[str, Any]:
    return {"group": letter.consumer_group, "topic": letter.original_topic, "offset": letter.original_offset,
            "event_id": letter.original_event_id, "type": letter.original_type, "kind": letter.error_kind,
            "reason": letter.reason[:120]}


async def main(args: argparse.Namespace) -> None:
    letters = chosen(await read_letters(args.bootstrap), group=args.group, event_ids=set(args.event_id or ()),
                     kind=args.kind)
    for letter in letters:
        print(_describe(letter))
    if args.dry_run:
        print(f"{len(letters)} letters would be replayed (--dry-run)")
        return
    print(f"replayed {await replay(args.bootstrap, letters)} letters")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--group", help="only the letters of this consumer group")
    parser.add_argument("--event-id", action="append", help="only this original event id (repeatable)")
    parser.add_argument("--kind", choices=("failing", "invalid", "any"), default="failing")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
