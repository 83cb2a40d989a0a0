"""Outbox relay: publishes committed outbox rows to Kafka in commit order, then marks them sent.

Rows are written by `MongoUnitOfWork` in the same transaction as the state change, so a crash after
commit loses nothing: the next relay pass (this process after a restart, or another instance once
the lease expires) publishes what is still pending. A crash after publishing but before marking
sent re-publishes the rows; consumers drop the repeats by event_id.
Only the holder of a lease publishes, so two instances of a service never interleave their rows.

The rows this process commits are also handed to the relay right after their commit (`committed`, the unit of
work's outbox callback), so a pass publishes them without reading them back: a round trip less on every event's
way, in every service. The outbox is still read (`find`) on the first pass, once per poll interval, after a failed
pass or a regained lease, and on every pass while another instance's rows have been seen lately (that instance
does not hold the lease, so only this relay's reads find its rows). Each row names the relay of the process that
wrote it (`origin`), so a read that finds one of this process's rows before its commit handed it over (a race of
a few microseconds) is not taken for another instance's."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
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
RECENT = 10_000  # ids of rows this relay published lately: a row both read and handed goes out once
MARK_LINGER_S = 0.1  # published rows are marked sent together, at most this long after the first of them
# After another instance's rows were read, the outbox is read on every pass for this long: with two instances
# running, always (each pass then sends a key's rows of both instances together, in `_id` order, as before the
# hand-over); what is left is the first row of an instance after FOREIGN_S without any, which waits for the next
# read (at most a poll interval) while a row of the same key this instance commits meanwhile may go first.
FOREIGN_S = 600.0
UNKNOWN_S = 10.0  # after a commit with outbox rows ended without a reply, the outbox is read on every pass this long
HANDED_MAX = 2_000  # handed rows kept for a pass; past that (the relay not running: Kafka away at start) they
#                     are dropped, and the next pass reads them


class OutboxRelay:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], publish: Publish, *, poll_interval_s: float = 0.5,
                 lease_s: float = 10.0, batch_size: int = 500, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._publish = publish
        self._poll_interval_s = poll_interval_s
        self._lease_s = lease_s
        self._batch_size = batch_size
        self.owner = uuid4().hex  # also each row's origin, when the unit of work is told it (MongoUnitOfWork)
        self._clock = clock
        self._held_until = 0.0  # monotonic time until which the lease is surely ours (renewed at half its life)
        self._wake = asyncio.Event()
        self._stopping = False
        self._pass_lock = asyncio.Lock()
        self._marking: asyncio.Task[Any] | None = None  # published rows being marked sent
        self._marking_ids: list[Any] = []
        self._unmarked: list[Any] = []  # published rows not marked yet (marked together, see MARK_LINGER_S)
        self._unmarked_at = 0.0  # when the first of them was published
        self._handed: list[dict[str, Any]] = []  # rows this process committed, in commit order, not yet published
        self._recent: OrderedDict[Any, None] = OrderedDict()  # ids published lately (bounded: RECENT)
        self._read_at: float | None = None  # when the outbox was last read (None: read on the next pass)
        self._foreign_until = 0.0  # read on every pass until then (another instance's rows were read)
        self.published = 0

    def notify(self) -> None:
        """Wake the relay now (rows were written that it must read: it reads on its next pass)."""
        self._read_at = None
        self._wake.set()

    def unknown(self) -> None:
        """A commit that wrote outbox rows ended without a reply (cancelled, connection lost): they may be committed
        now or a moment later, and only a read finds them; the relay reads on every pass for UNKNOWN_S, so none of
        them goes out after a later row of the same key."""
        self._foreign_until = max(self._foreign_until, self._clock() + UNKNOWN_S)
        self.notify()

    def committed(self, rows: list[dict[str, Any]]) -> None:
        """Called right after a commit that wrote these outbox rows (with their `_id`s), so they go out without
        waiting for the next poll, and without being read back."""
        if len(self._handed) + len(rows) > HANDED_MAX:  # a relay not running: read them when it runs
            self._handed, self._read_at = [], None
        else:
            self._handed.extend(rows)
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                async with self._pass_lock:
                    if await self._hold_lease():
                        sent = await self.publish_pending()
                    else:  # the holder reads them
                        sent, self._handed, self._read_at = 0, [], None
                        await self.marked()  # what it published while it held the lease
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: keep the rows, try again later
                log.warning("outbox relay pass failed", error=repr(exc))
                sent, self._read_at = -1, None  # the rows of the failed pass are read again, a poll interval on
            if sent < self._batch_size:  # a full batch means more may be waiting: go again at once
                wait_s = self._poll_interval_s
                if self._unmarked and sent >= 0:  # a pass marks them when their linger is over, nothing new or not
                    wait_s = min(wait_s, max(0.0, self._unmarked_at + MARK_LINGER_S - self._clock()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait_s)
                self._wake.clear()

    async def stop(self) -> None:
        """Let the current pass finish, then give up the lease so another instance takes over at once."""
        self._stopping = True
        self._wake.set()
        async with self._pass_lock:
            with contextlib.suppress(Exception):  # unmarked rows are published again by the next holder
                await self.marked()
            self._held_until = 0.0
            await self._db[LEASES].delete_one({"_id": "relay", "owner": self.owner})

    async def publish_pending(self) -> int:
        """One pass: publish pending rows in order and have them marked sent; returns how many.

        The rows are those handed by `committed` and, when the outbox is read on this pass (see the module's
        docstring), those read from it, together in `_id` order (a key's rows are written in order), each once.
        The marking (an update of the rows, ~5-15 ms with its journal wait) runs beside the next passes: a row
        committed during a pass went out only after that pass's marking before, which is most of a pass. And the
        rows of several passes are marked together, once the first of them has waited MARK_LINGER_S (or a full
        batch is waiting): an update per pass was one per event, most of a relay's database work once the rows
        came handed instead of read. Passes leave the rows published but not marked yet out; one marking runs at
        a time; a failed one fails a pass, and its rows, still pending, go out again (consumers drop the repeats
        by event_id), as do the rows of a process that died before marking them. `marked()` marks every
        published row now and waits."""
        handed = {r["_id"]: r for r in self._handed if r["_id"] not in self._recent}
        self._handed = []
        rows = list(handed.values())
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._poll_interval_s or now < self._foreign_until:
            self._read_at = now
            query: dict[str, Any] = {"sent_at": None}
            if excluded := [*self._marking_ids, *self._unmarked, *handed]:
                query["_id"] = {"$nin": excluded}
            read = await self._db[OUTBOX].find(query).sort("_id", 1).limit(self._batch_size).to_list()
            if any(r.get("origin") != self.owner for r in read):  # another instance's row (or one from before
                self._foreign_until = now + FOREIGN_S            # this process started, or without an origin)
            rows += [r for r in read if r["_id"] not in self._recent]
            rows.sort(key=lambda r: r["_id"])
            if len(read) == self._batch_size:  # more may be waiting: read again on the next pass
                self._read_at = None
        if len(rows) > self._batch_size:  # the rest on the next pass (run goes again at once after a full one)
            rows, rest = rows[:self._batch_size], rows[self._batch_size:]
            self._handed = [*(r for r in rest if r["_id"] in handed), *self._handed]  # before any handed meanwhile
            if any(r["_id"] not in handed for r in rest):
                self._read_at = None  # read ones left out: read again
        if not rows:
            await self._mark(due_only=True)
            return 0
        try:
            # In one call: a batch per partition, in commit order within each.
            await self._publish([(r["topic"], r["key"].encode(), r["value"],
                                  {"event_id": r["event_id"], "type": r["type"]}) for r in rows])
        except BaseException:
            self._read_at = None  # still pending in the outbox: the next pass reads them
            raise
        for r in rows:
            self._recent[r["_id"]] = None
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        if not self._unmarked:
            self._unmarked_at = self._clock()
        self._unmarked += [r["_id"] for r in rows]
        self.published += len(rows)
        await self._mark(due_only=True)
        return len(rows)

    async def marked(self) -> None:
        """Mark every published row sent now, and wait (raises what marking them raised)."""
        await self._mark(due_only=False)

    async def _mark(self, *, due_only: bool) -> None:
        """Start marking the published rows not marked yet (only once their linger is over or a batch is full when
        `due_only`, and without waiting for it then); one marking at a time."""
        due = bool(self._unmarked) and (not due_only or len(self._unmarked) >= self._batch_size
                                        or self._clock() - self._unmarked_at >= MARK_LINGER_S)
        if self._marking is not None and (due or not due_only or self._marking.done()):
            await self._marked()
        if due:
            self._marking_ids, self._unmarked = self._unmarked, []
            self._marking = asyncio.create_task(self._db[OUTBOX].update_many(
                {"_id": {"$in": self._marking_ids}}, {"$set": {"sent_at": datetime.now(UTC)}}))
            if not due_only:
                await self._marked()

    async def _marked(self) -> None:
        """Wait for the marking in flight (raises what marking its rows raised)."""
        marking, self._marking = self._marking, None
        try:
            if marking is not None:
                await marking
        except BaseException:  # still pending: read and published again by the next pass
            for row_id in self._marking_ids:
                self._recent.pop(row_id, None)
            self._read_at = None
            raise
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
                {"_id": "relay", "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + timedelta(seconds=self._lease_s)}},
                upsert=True, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:  # someone else holds a live lease
            return False
        held = lease is not None and lease["owner"] == self.owner
        self._held_until = started + self._lease_s / 2 if held else 0.0
        return held
