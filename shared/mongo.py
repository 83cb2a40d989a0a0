"""AsyncMongoClient factory (PyMongo's async API) and the transactional unit of work every service uses.

A unit of work runs one handler in one MongoDB transaction together with the outbox rows for the events
it emits and, for a consumed message, the record that the message was processed (idempotency)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from shared.contracts.envelope import Envelope, encode
from shared.logging import get_logger
from shared.settings import ServiceSettings
from shared.tracing import stamped

log = get_logger(__name__)

T = TypeVar("T")

OUTBOX = "outbox"
PROCESSED = "processed_messages"
ANSWERS = "command_answers"  # request id -> the first answer given (shared.commands)
HOT_KEY_WAIT_S = 5.0  # longest wait for a hot key's lock before an attempt goes on without it
GROUP_ATTEMPTS = 3  # a group commit that conflicted this many times gives up (its members go one by one)


def make_mongo_client(settings: ServiceSettings) -> AsyncMongoClient[dict[str, Any]]:
    # Every wait is bounded, so an outage surfaces as an error the consumer retries, never as a hang:
    # server selection 10 s; a connection checkout 10 s (the driver's default waits forever on its pool's
    # condition variables); a socket read 30 s (default: forever, e.g. on a half-open connection).
    return AsyncMongoClient(settings.mongo_url, tz_aware=True, appname=settings.service_name,
                            serverSelectionTimeoutMS=10_000, waitQueueTimeoutMS=10_000, socketTimeoutMS=30_000)


# The envelope id of the message being consumed (set by the consumer around its handler), so that every
# unit of work a handler runs records it by default: idempotency is not something a handler can forget.
_CONSUMED: ContextVar[str | None] = ContextVar("consumed_message_id", default=None)
CONSUMED_MESSAGE = "<the message being consumed>"  # run()'s default: use _CONSUMED's id, if any


def consumed_message_id() -> str | None:
    """The envelope id of the message being consumed in this context, if any."""
    return _CONSUMED.get()


@contextmanager
def consuming(message_id: str) -> Iterator[None]:
    """Units of work run inside record `message_id` as processed in their transaction (one per message)."""
    token = _CONSUMED.set(message_id)
    try:
        yield
    finally:
        _CONSUMED.reset(token)


def millisecond_clock() -> datetime:
    """Now, to the millisecond MongoDB keeps, so a time a service stores reads back exactly as it published it."""
    return as_stored(datetime.now(UTC))


def as_stored(value: Any) -> Any:
    """A value as MongoDB keeps it: its times (inside documents and lists too) to the millisecond, so a document
    read back compares equal to the one computed (a projection against its rebuild)."""
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dict):
        return {k: as_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_stored(v) for v in value]
    return value


class ConcurrencyConflict(Exception):
    """A document changed since it was read (version check failed); the unit of work runs again."""


class DuplicateRecord(Exception):
    """A document with this `_id` exists already (Transaction.store); the transaction is abandoned."""


class AlreadyProcessed(Exception):
    """The message was handled before; the transaction is abandoned and nothing changes."""


class HotKeyConflict(ConcurrencyConflict):
    """A unit of work named a hot key (`hot`) that another unit of work of this process holds: it starts again,
    this time waiting for that key before its first read."""


class _KeyLocks:
    """In-process locks on named keys, handed to waiters in arrival order; a key is known while it is held."""

    def __init__(self) -> None:
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}  # a key in here is held

    def try_acquire(self, key: str) -> bool:
        """Take the key if nobody holds it (never waits)."""
        if key in self._waiters:
            return False
        self._waiters[key] = deque()
        return True

    async def acquire(self, key: str) -> None:
        if self.try_acquire(key):
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key].append(handed)
        try:
            await handed  # the holder's release hands the key over
        except BaseException:
            if handed.done() and not handed.cancelled():
                self.release(key)  # handed over as the wait was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters[key].remove(handed)
            raise

    def release(self, key: str) -> None:
        waiting = self._waiters[key]
        while waiting:
            handed = waiting.popleft()
            if not handed.done():
                handed.set_result(None)
                return
        del self._waiters[key]

    def held(self) -> set[str]:
        return set(self._waiters)


@dataclass
class _Attempt:
    """The hot keys of one unit of work: `named` grows over its attempts, `held` are this attempt's locks."""

    locks: _KeyLocks
    named: set[str] = field(default_factory=set)
    held: list[str] = field(default_factory=list)

    async def start(self, wait_s: float) -> None:
        """Before an attempt's first operation: let go of the last attempt's keys, then wait for every key named
        so far, in sorted order (nothing else held meanwhile: no two units of work can wait for each other)."""
        self.release()
        for key in sorted(self.named):
            try:
                await asyncio.wait_for(self.locks.acquire(key), wait_s)
            except TimeoutError:  # a guard (e.g. a unit of work run inside another): go on unlocked
                continue
            self.held.append(key)

    def name(self, key: str) -> None:
        """Take a key this unit of work writes; a key named before and not held (its wait timed out in `start`)
        is written without the lock: a key makes an attempt start again at most once."""
        if key in self.held or key in self.named:
            return
        self.named.add(key)
        if not self.locks.try_acquire(key):
            raise HotKeyConflict(key)
        self.held.append(key)

    def release(self) -> None:
        for key in self.held:
            self.locks.release(key)
        self.held.clear()


_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("unit_of_work_attempt", default=None)


def hot(*keys: str) -> None:
    """Name documents this unit of work is about to write that other units of work of this process write too (an
    agent's stream head, a conversation's view: the gateway's handlers run on 16 consumers at once). Taken if
    free; if another unit of work holds one, this one starts again and first waits for every key it named. So
    repeated write conflicts on a hot document become one wait. Correctness never depends on it (MongoDB detects
    every conflict; a process of its own is not covered); call it before reading the documents. Outside a unit
    of work it does nothing."""
    attempt = _ATTEMPT.get()
    if attempt is not None:
        for key in keys:
            attempt.name(key)


class GroupSpoiled(Exception):
    """A unit of work joined a group commit after another one of the same member failed in it: the group's
    transaction holds part of that work and cannot commit (MongoDB has no savepoints)."""


# A member of a group commit: the id its consumed message is recorded under, and the call that handles it.
Member = tuple[str, Callable[[], Awaitable[None]]]


@dataclass
class GroupCommit:
    """One transaction that the units of work of several consumed messages join (group commit): what each one
    writes and emits is committed together; their processed ids are inserted together at the end."""

    tx: Any  # Transaction (or the fake's)
    processed: set[str]  # ids recorded before the group began, and those its members record
    rows: list[str] = field(default_factory=list)
    failure: BaseException | None = None  # what a member's unit of work raised, if anything


_GROUP: ContextVar[GroupCommit | None] = ContextVar("group_commit", default=None)


def current_group() -> GroupCommit | None:
    """The group commit the units of work run in this context join, if any."""
    return _GROUP.get()


async def join_group(group: GroupCommit, work: Callable[[Any], Awaitable[T]], message_id: str | None,
                     stats: Counter[str]) -> T:
    """A unit of work run inside a group commit: its work in the group's transaction, its message id recorded
    with the group's. A repeat raises AlreadyProcessed before anything is written (an insert that fails on a
    duplicate key would abort the whole transaction); anything the work raises spoils the group."""
    if group.failure is not None:
        raise GroupSpoiled(repr(group.failure))
    if message_id is CONSUMED_MESSAGE:
        message_id = consumed_message_id()
    if message_id is not None:
        if message_id in group.processed:
            stats["duplicates"] += 1
            raise AlreadyProcessed(message_id)
        group.processed.add(message_id)
        group.rows.append(message_id)
    try:
        return await work(group.tx)
    except BaseException as exc:
        group.failure = exc
        raise


async def run_members(group: GroupCommit, members: Sequence[Member], progress: list[int]) -> None:
    """Each member in order, inside `group` (its consumed message id set); stops at the first failure and
    raises what caused it: a conflict (the whole group runs again) or the member's error. `progress[0]` says
    which member was running."""
    token = _GROUP.set(group)
    try:
        for index, (message_id, call) in enumerate(members):
            progress[0] = index
            try:
                with consuming(message_id):
                    await call()
            except Exception as exc:
                raise group.failure or exc from None
            if group.failure is not None:  # the member's handler caught its unit of work's error: still spoiled
                raise group.failure
    finally:
        _GROUP.reset(token)


@dataclass
class Transaction:
    """What a handler gets inside a unit of work: the session, the database and an outbox to emit into."""

    session: AsyncClientSession
    db: AsyncDatabase[dict[str, Any]]
    pending: list[tuple[str, Envelope[Any]]] = field(default_factory=list)
    later: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # insert_later's, in call order
    committed: list[Callable[[], None]] = field(default_factory=list)  # after_commit's, in call order

    def emit(self, topic: str, env: Envelope[Any]) -> None:
        """Queue `env` for the outbox, carrying the current span's trace context (when tracing is on)."""
        self.pending.append((topic, stamped(env)))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once this transaction has committed: never for an attempt that is retried or aborted
        (a process's own copy of what it wrote, kept only once the database has it)."""
        self.committed.append(callback)

    def insert_later(self, collection: str, doc: dict[str, Any]) -> None:
        """Insert `doc` at the end of this transaction, with every other insert_later of it into the same
        collection in one insert_many (in call order): in a group commit, one round trip for all the members'
        instead of one each. For what nothing in the transaction reads back (the gateway's queued frames)."""
        self.later.append((collection, doc))

    async def load(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        """One document by id, read in this transaction (for shared runtime records such as answers)."""
        return await self.db[collection].find_one({"_id": doc_id}, session=self.session)

    async def find_one(self, collection: str, equal: dict[str, Any]) -> dict[str, Any] | None:
        """The first document whose fields equal these values (back it with an index), in this transaction."""
        return await self.db[collection].find_one(equal, session=self.session)

    async def find(self, collection: str, equal: dict[str, Any]) -> list[dict[str, Any]]:
        """Every document whose fields equal these values (dotted paths reach into sub-documents; back it with
        an index), in this transaction."""
        return await self.db[collection].find(equal, session=self.session).to_list()

    async def update_many(self, collection: str, equal: dict[str, Any], values: dict[str, Any]) -> int:
        """Set these fields on every document whose fields equal `equal`; how many changed."""
        done = await self.db[collection].update_many(equal, {"$set": values}, session=self.session)
        return done.modified_count

    async def delete_many(self, collection: str, equal: dict[str, Any]) -> int:
        """Delete every document whose fields equal these values; how many went."""
        return (await self.db[collection].delete_many(equal, session=self.session)).deleted_count

    async def store(self, collection: str, doc: dict[str, Any]) -> None:
        """Insert one document (with its `_id`) in this transaction; DuplicateRecord if that id exists."""
        try:
            await self.db[collection].insert_one(doc, session=self.session)
        except DuplicateKeyError:
            raise DuplicateRecord(f"{collection}/{doc['_id']}") from None

    async def store_many(self, collection: str, docs: Sequence[dict[str, Any]]) -> None:
        """Insert these documents (each with its `_id`) in one write; DuplicateRecord if one of those ids exists."""
        if not docs:
            return
        try:
            await self.db[collection].insert_many(list(docs), session=self.session)
        except BulkWriteError as exc:
            if any(e.get("code") == 11000 for e in exc.details.get("writeErrors", [])):
                raise DuplicateRecord(f"{collection}: one of {len(docs)} exists") from None
            raise

    async def put(self, collection: str, doc: dict[str, Any], *, read_version: int | None) -> None:
        """Write a versioned document: insert it when `read_version` is None (it did not exist when read),
        else replace it only if its `version` is still `read_version`. Either way a document changed or
        created meanwhile raises ConcurrencyConflict, and the unit of work runs again on fresh state."""
        try:
            if read_version is None:
                await self.db[collection].insert_one(doc, session=self.session)
                return
            done = await self.db[collection].replace_one({"_id": doc["_id"], "version": read_version}, doc,
                                                         session=self.session)
        except DuplicateKeyError:
            raise ConcurrencyConflict(f"{collection}/{doc['_id']}: created concurrently") from None
        if done.matched_count == 0:
            raise ConcurrencyConflict(f"{collection}/{doc['_id']}: changed since it was read")


class MongoUnitOfWork:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str, *,
                 on_outbox: Callable[[list[dict[str, Any]]], None] | None = None, origin: str | None = None,
                 on_outbox_unknown: Callable[[], None] | None = None) -> None:
        """`on_outbox` is called after every commit that wrote outbox rows, with those rows (their `_id`s set) in
        the order written (shared.outbox.OutboxRelay.committed: they go out without being read back). `origin`
        is stored on each row (the relay's owner id: a relay reading the outbox tells its own rows, handed or
        about to be, from another instance's). `on_outbox_unknown` is called when a unit of work that wrote outbox
        rows fails in its commit (no reply, cancelled while waiting for it): they may be committed, and only a
        read finds them (OutboxRelay.unknown: it reads on every pass for a while, so they go out before a later row
        of the same key)."""
        self.client = client
        self.db = client[database]
        self._on_outbox = on_outbox
        self._on_outbox_unknown = on_outbox_unknown
        self._origin = origin
        # (collection, callback): called after a commit that wrote into that collection
        self._on_commit: list[tuple[str, Callable[[], None]]] = []
        self._hot = _KeyLocks()
        # committed / attempts (a retry after a write conflict is one more attempt) / conflicts / duplicates
        self.stats: Counter[str] = Counter()

    def add_on_commit(self, callback: Callable[[], None], *, wrote: str) -> None:
        """Also call `callback` after every commit that inserted into the collection `wrote` through
        `Transaction.insert_later` (the gateway's frame relay, after a commit that queued frames). A commit that
        wrote nothing there calls nothing: a relay woken for nothing reads its queue for nothing."""
        self._on_commit.append((wrote, callback))

    async def run(self, work: Callable[[Transaction], Awaitable[T]], *, message_id: str | None = CONSUMED_MESSAGE,
                  max_conflicts: int = 20) -> T:
        """Run `work` in a transaction; raises AlreadyProcessed for a repeat.

        By default the id of the message being consumed (see `consuming`) is recorded in the same
        transaction, so a redelivery changes nothing; outside a consumer (timers) there is none. A handler
        that runs a second unit of work for the same message passes `message_id=None` for it (or its own id).
        Retried from a fresh read on transient transaction errors (write conflicts, done by PyMongo)
        and on ConcurrencyConflict raised by a repository's version check."""
        group = current_group()
        if group is not None:  # inside a group commit (run_group): join its transaction
            return await join_group(group, work, message_id, self.stats)
        if message_id is CONSUMED_MESSAGE:
            message_id = consumed_message_id()
        keys = _Attempt(self._hot)  # the hot keys named (see `hot`), over every attempt of this unit of work
        conflicts = 0
        try:
            while True:
                try:
                    return await self._run_once(work, message_id, keys)
                except HotKeyConflict:  # not a conflict: each names a new key, so these are few
                    self.stats["hot_waits"] += 1
                except ConcurrencyConflict:
                    self.stats["conflicts"] += 1
                    conflicts += 1
                    if conflicts >= max_conflicts:
                        raise
                except AlreadyProcessed:
                    self.stats["duplicates"] += 1
                    raise
        finally:
            keys.release()

    async def run_group(self, members: Sequence[Member]) -> int | None:
        """Group commit: handle several consumed messages in one transaction. Each member's call runs its
        handler as usual; the units of work it runs join this transaction (see join_group) instead of
        committing one by one. One read finds the members' messages already processed; their ids are inserted
        together at the end. A conflict runs the whole group again (waiting for its hot keys first).

        Returns None when every member was committed, or the index of the member that failed: then nothing
        was kept, and the caller handles the members before it as a group again, then that one and the rest one
        by one. A group that conflicted GROUP_ATTEMPTS times gives up the same way (at the member it had
        reached): a big transaction retried against busy documents would only conflict again.
        An unreachable MongoDB raises, as for any unit of work."""
        progress, tries = [0], [0]
        ids = [message_id for message_id, _ in members]

        async def work(tx: Transaction) -> None:
            tries[0] += 1  # PyMongo runs this again after a write conflict, for up to 2 minutes: not a group
            if tries[0] > GROUP_ATTEMPTS:
                raise GroupSpoiled(f"conflicted {GROUP_ATTEMPTS} times")
            progress[0] = 0
            seen = await tx.db[PROCESSED].find({"_id": {"$in": ids}}, {"_id": 1}, session=tx.session).to_list()
            group = GroupCommit(tx, {doc["_id"] for doc in seen})
            await run_members(group, members, progress)
            if group.rows:
                at = datetime.now(UTC)
                await tx.db[PROCESSED].insert_many([{"_id": i, "at": at} for i in group.rows], session=tx.session)

        try:
            await self.run(work, message_id=None, max_conflicts=GROUP_ATTEMPTS)
        except ConnectionFailure:
            raise
        except Exception:
            self.stats["groups_failed"] += 1
            return progress[0]
        self.stats["grouped"] += len(members)
        return None

    async def _run_once(self, work: Callable[[Transaction], Awaitable[T]], message_id: str | None,
                        keys: _Attempt) -> T:
        result: list[T] = []
        wrote: set[str] = set()  # the collections the committed attempt inserted into (insert_later, outbox)
        outbox: list[dict[str, Any]] = []  # the committed attempt's outbox rows
        last: list[Transaction] = []  # the latest attempt's transaction: after the commit, the committed one's

        async def attempt(session: AsyncClientSession) -> None:
            outbox.clear()  # first: only an attempt that wrote its rows (then its commit) leaves them
            self.stats["attempts"] += 1
            await keys.start(wait_s=HOT_KEY_WAIT_S)  # also after a write conflict PyMongo retries this for
            _ATTEMPT.set(keys)  # (this callback's context is the caller's: reset below)
            tx = Transaction(session=session, db=self.db)
            last[:] = [tx]
            result.clear()
            wrote.clear()
            if message_id is not None:
                try:
                    await self.db[PROCESSED].insert_one({"_id": message_id, "at": datetime.now(UTC)},
                                                        session=session)
                except DuplicateKeyError:
                    raise AlreadyProcessed(message_id) from None
            result.append(await work(tx))
            for collection in dict.fromkeys(c for c, _ in tx.later):
                await self.db[collection].insert_many([d for c, d in tx.later if c == collection], session=session)
            wrote.update(c for c, _ in tx.later)
            if tx.pending:
                rows = [outbox_row(topic, env, self._origin) for topic, env in tx.pending]
                await self.db[OUTBOX].insert_many(rows, session=session)  # sets each row's _id
                outbox[:] = rows
                wrote.add(OUTBOX)

        token = _ATTEMPT.set(None)
        try:
            async with self.client.start_session() as session:
                await session.with_transaction(attempt, read_concern=ReadConcern("snapshot"),
                                               write_concern=WriteConcern("majority"))
        except BaseException:
            if outbox and self._on_outbox_unknown is not None:  # written by the last attempt: it got to its commit
                self._on_outbox_unknown()
            raise
        finally:
            _ATTEMPT.reset(token)
        self.stats["committed"] += 1
        for after in last[0].committed:  # the commit stands whatever these do: a failure is said, not raised
            try:
                after()
            except Exception:
                log.exception("after-commit callback failed", callback=repr(after))
        if outbox and self._on_outbox is not None:
            self._on_outbox(outbox)
        for collection, callback in self._on_commit:
            if collection in wrote:
                callback()
        return result[0]


def outbox_row(topic: str, env: Envelope[Any], origin: str | None = None) -> dict[str, Any]:
    row = {"topic": topic, "key": env.key, "event_id": env.event_id, "type": env.type,
           "value": encode(env), "created_at": datetime.now(UTC), "sent_at": None}
    if origin is not None:
        row["origin"] = origin
    return row


async def ensure_runtime_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Indexes the outbox and the idempotency records need (sent rows, old ids and answers expire after 7 days)."""
    week = 7 * 24 * 3600
    await db[OUTBOX].create_index([("sent_at", 1), ("_id", 1)], name="pending")
    await db[OUTBOX].create_index("sent_at", name="sent_ttl", expireAfterSeconds=week)
    await db[PROCESSED].create_index("at", name="processed_ttl", expireAfterSeconds=week)
    await db[ANSWERS].create_index("at", name="answers_ttl", expireAfterSeconds=week)
