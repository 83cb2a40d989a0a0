"""Outbox relay: publishes committed outbox rows to Kafka in commit order, then marks them sent.

Rows are written by `MongoUnitOfWork` in the same transaction as the state change, so a crash after
commit loses nothing: the next relay pass (this process after a restart, or another instance once
the lease expires) publishes what is still pending. A crash after publishing but before marking
sent re-publishes the rows; consumers drop the repeats by event_id.
Only the holder of a lease publishes, so two instances of a service never interleave their rows."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.broker import OutRecord
from shared.logging import get_logger
from shared.mongo import OUTBOX

log = get_logger(__name__)

# publish([(topic, key, value, headers), ...]) returns once the broker acknowledged every record, in the order given
# per partition (shared.broker.BatchProducer: one batch per partition)
Publish = Callable[[list[OutRecord]], Awaitable[Any]]

LEASES = "outbox_lease"


class OutboxRelay:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], publish: Publish, *, poll_interval_s: float = 0.5,
                 lease_s: float = 10.0, batch_size: int = 500, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._publish = publish
        self._poll_interval_s = poll_interval_s
        self._lease_s = lease_s
        self._batch_size = batch_size
        self._owner = uuid4().hex
        self._clock = clock
        self._held_until = 0.0  # monotonic time until which the lease is surely ours (renewed at half its life)
        self._wake = asyncio.Event()
        self._stopping = False
        self._pass_lock = asyncio.Lock()
        self._marking: asyncio.Task[Any] | None = None  # the previous pass's rows being marked sent
        self._marking_ids: list[Any] = []
        self.published = 0

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows, so they go out without waiting for the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                async with self._pass_lock:
                    sent = await self.publish_pending() if await self._hold_lease() else 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: keep the rows, try again later
                log.warning("outbox relay pass failed", error=repr(exc))
                sent = 0
            if sent < self._batch_size:  # a full batch means more may be waiting: go again at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
                self._wake.clear()

    async def stop(self) -> None:
        """Let the current pass finish, then give up the lease so another instance takes over at once."""
        self._stopping = True
        self._wake.set()
        async with self._pass_lock:
            with contextlib.suppress(Exception):  # unmarked rows are published again by the next holder
                await self.marked()
            self._held_until = 0.0
            await self._db[LEASES].delete_one({"_id": "relay", "owner": self._owner})

    async def publish_pending(self) -> int:
        """One pass: publish pending rows in order and have them marked sent; returns how many.

        The marking (an update of the rows, ~5-15 ms with its journal wait) runs while the next pass reads and
        publishes: a row committed during a pass went out only after that pass's marking before, which is most
        of a pass. The next pass leaves the rows still being marked out, and waits for their marking before it
        starts its own (one marking at a time; a failed one fails that pass, and its rows, still pending, go out
        again: consumers drop the repeats by event_id). `marked()` waits for the marking in flight."""
        query: dict[str, Any] = {"sent_at": None}
        if self._marking_ids:
            query["_id"] = {"$nin": self._marking_ids}
        rows = await self._db[OUTBOX].find(query).sort("_id", 1).limit(self._batch_size).to_list()
        if not rows:
            await self.marked()
            return 0
        # In one call: a batch per partition, in commit order within each.
        await self._publish([(r["topic"], r["key"].encode(), r["value"], {"event_id": r["event_id"], "type": r["type"]})
                             for r in rows])
        await self.marked()
        self._marking_ids = [r["_id"] for r in rows]
        self._marking = asyncio.create_task(self._db[OUTBOX].update_many(
            {"_id": {"$in": self._marking_ids}}, {"$set": {"sent_at": datetime.now(UTC)}}))
        self.published += len(rows)
        return len(rows)

    async def marked(self) -> None:
        """Wait until the rows of the last pass are marked sent (raises what marking them raised)."""
        marking, self._marking = self._marking, None
        try:
            if marking is not None:
                await marking
        finally:
            self._marking_ids = []

    async def _hold_lease(self) -> bool:
        """Whether this relay holds the lease. Renewed in the database only once half of it has passed, not on
        every pass: a pass follows every commit, and a renewal is a findAndModify (with its retryable-write image)
        per pass, the largest share of mongod's work per message before. Nobody can take the lease before it
        expires, and half of it is left when this relay stops trusting its own renewal."""
        started = self._clock()
        if started < self._held_until:
            return True
        now = datetime.now(UTC)
        try:
            lease = await self._db[LEASES].find_one_and_update(
                {"_id": "relay", "$or": [{"owner": self._owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self._owner, "expires_at": now + timedelta(seconds=self._lease_s)}},
                upsert=True, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:  # someone else holds a live lease
            return False
        held = lease is not None and lease["owner"] == self._owner
        self._held_until = started + self._lease_s / 2 if held else 0.0
        return held
