"""Rebuilding the active-conversation view (G4) from the topics: checks the `active_views` projection against a
replay of every event Kafka still keeps, and with --apply repairs what differs.

    .venv/bin/python -m services.gateway.rebuild [--tenant T] [--apply]
        (KAFKA_BOOTSTRAP_SERVERS, MONGO_URL and MONGO_DB as the gateway reads them; --bootstrap, --mongo-url, --db)

It reads chat.events, routing.events, customer.events and cases.events from their first kept record up to their
end now, orders the events by when they happened, and replays them through the same pure functions the consumer
runs (active_view.replay). Each view is then `same`, `differs` (which sections), `missing` (the topics say it
should exist) or `extra` (kept, but the topics hold no event of it: retention deleted them, or a stray). Only
views whose conversation started within what the topics keep are rebuilt; the others are left as they are.

--apply writes the rebuilt document of every `differs` and `missing` view, each only if it is still what was read
(a compare-and-set, so an event the running gateway projects meanwhile is never overwritten: such a view is
counted `changed meanwhile`; run again). The gateways may keep running; nothing is pushed to sockets: a desk
shows the repaired view when it opens the conversation again. Exit status 0 when nothing differs (after
--apply: when every repair was written), 1 otherwise, so it can run from a scheduled check."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from shared.contracts import chat
from shared.contracts.catalogue import CASES_EVENTS, CHAT_EVENTS, CUSTOMER_EVENTS, ROUTING_EVENTS
from shared.mongo import as_stored
from shared.topic_reader import Record, TopicRead, read_topic

from services.gateway import active_view
from services.gateway.adapters.erasure import ERASED_NAME
from services.gateway.adapters.store import ACTIVE_VIEWS
from services.gateway.settings import GatewaySettings

TOPICS = (CHAT_EVENTS, ROUTING_EVENTS, CUSTOMER_EVENTS, CASES_EVENTS)
SECTIONS = ("closed", "summary", "context", "customer", "case")
Doc = dict[str, Any]


@dataclass
class Comparison:
    same: list[str] = field(default_factory=list)
    differs: dict[str, list[str]] = field(default_factory=dict)  # view id -> sections
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    not_rebuilt: int = 0  # views of conversations whose start the topics no longer keep

    @property
    def consistent(self) -> bool:
        return not (self.differs or self.missing)


def in_order(reads: list[TopicRead]) -> list[Record]:
    """Every record of the topics, by when its event happened (each partition's own order kept among equals)."""
    records = [r for read in reads for r in read.records]
    return sorted(records, key=lambda r: (r.envelope.occurred_at, r.topic, r.partition, r.offset))


def rebuild(reads: list[TopicRead], tenant_id: str | None = None) -> dict[str, Doc]:
    """The views the topics make, of the conversations whose start they still hold (tenant_id: only its own)."""
    envelopes = [r.envelope for r in in_order(reads) if tenant_id is None or r.envelope.tenant_id == tenant_id]
    started = {f"{e.tenant_id}:{e.payload.conversation_id}" for e in envelopes
               if isinstance(e.payload, chat.ConversationStarted)}
    views = active_view.replay(envelopes, erased_name=ERASED_NAME)
    return {view_id: view for view_id, view in views.items() if view_id in started}


def compare(live: dict[str, Doc], rebuilt: dict[str, Doc], *, complete: bool) -> Comparison:
    """What the projection holds against its rebuild. `complete`: the topics still hold every event ever
    written (no retention yet), so a view the rebuild lacks is `extra` for sure; otherwise it is not rebuilt."""
    result = Comparison()
    for view_id, view in rebuilt.items():
        held = live.get(view_id)
        if held is None:
            if view["closed"]:
                continue  # a tombstone the TTL index removed: nothing to repair
            result.missing.append(view_id)
        elif as_stored(held) == as_stored(view):
            result.same.append(view_id)
        else:
            result.differs[view_id] = [s for s in SECTIONS if held.get(s) != view.get(s)] or ["fields"]
    for view_id in live.keys() - rebuilt.keys():
        if complete:
            result.extra.append(view_id)
        else:
            result.not_rebuilt += 1
    return result


async def repair(collection: Any, live: dict[str, Doc], rebuilt: dict[str, Doc], result: Comparison) -> Counter[str]:
    """Writes the rebuilt views that differ or are missing, each only if unchanged since it was read."""
    done: Counter[str] = Counter()
    for view_id in [*result.differs, *result.missing]:
        if view_id in live:
            # the whole document as read: a field the consumer changed meanwhile makes the filter miss
            unchanged = {"$eq": ["$$ROOT", {"$literal": live[view_id]}]}  # $literal: no "$..." value is a path
            written = await collection.replace_one({"_id": view_id, "$expr": unchanged}, rebuilt[view_id])
            done["repaired" if written.matched_count else "changed meanwhile"] += 1
        else:
            try:
                await collection.insert_one(rebuilt[view_id])
                done["repaired"] += 1
            except DuplicateKeyError:
                done["changed meanwhile"] += 1
    return done


async def run(bootstrap: str, mongo_url: str, db_name: str, *, tenant_id: str | None, apply: bool,
              out: Any = sys.stdout) -> int:
    reads = [await read_topic(bootstrap, topic.name) for topic in TOPICS]
    complete = all(read.complete for read in reads)
    for read in reads:
        kept = "from the first record" if read.complete else \
            f"from offsets {dict(sorted(read.first_offsets.items()))} (retention deleted older records)"
        print(f"{read.topic}: {len(read.records)} records {kept}"
              + (f", {read.invalid} not envelopes" if read.invalid else ""), file=out)
    rebuilt = rebuild(reads, tenant_id)
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        collection = client[db_name][ACTIVE_VIEWS]
        query = {"tenant_id": tenant_id} if tenant_id else {}
        live = {doc["_id"]: doc async for doc in collection.find(query)}
        result = compare(live, rebuilt, complete=complete)
        print(f"views: {len(result.same)} same, {len(result.differs)} differ, {len(result.missing)} missing, "
              f"{len(result.extra)} extra, {result.not_rebuilt} older than the topics keep (left as they are)",
              file=out)
        for view_id, sections in sorted(result.differs.items()):
            print(f"  differs  {view_id}: {', '.join(sections)}", file=out)
        for view_id in sorted(result.missing):
            print(f"  missing  {view_id}", file=out)
        for view_id in sorted(result.extra):
            print(f"  extra    {view_id} (no event of it on the topics; left as it is)", file=out)
        if not apply:
            return 0 if result.consistent else 1
        done = await repair(collection, live, rebuilt, result)
        print(f"applied: {done['repaired']} repaired, {done['changed meanwhile']} changed meanwhile (run again)",
              file=out)
        return 0 if not done["changed meanwhile"] else 1
    finally:
        await client.close()


def cli(argv: list[str] | None = None) -> int:
    settings = GatewaySettings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=settings.kafka_bootstrap_servers)
    parser.add_argument("--mongo-url", default=settings.mongo_url)
    parser.add_argument("--db", default=settings.database_name, help="the gateway's database")
    parser.add_argument("--tenant", help="only this tenant's views")
    parser.add_argument("--apply", action="store_true", help="write the rebuilt views that differ or are missing")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.bootstrap, args.mongo_url, args.db, tenant_id=args.tenant, apply=args.apply))


if __name__ == "__main__":
    sys.exit(cli())
