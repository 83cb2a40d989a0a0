"""The gateway's own database: only what it must push live or check on every request.

- `users`: sign-ins (argon2 hash, role, supervised queues, active flag);
- `sessions`: one per sign-in, with the hashed refresh token; revoked sessions cut their sockets;
- `stream_heads` / `stream_events`: each recipient's stream (an agent, or a customer's conversation) with
  gateway-assigned positions, kept for the replay window; `stream_pending`: frames committed with what they
  announce, until the FrameRelay positions them;
- `conversations`: who may see what (customer, queue, current agents, offered agents, state, preview) and who
  observes it (supervisors, G5), which also feeds the work lists My / Open / Closed;
- `queues`: members (from routing's QueueConfigured), for the Open list and supervisors;
- `answers`: command answers by request id, for callers that wait or come back later;
- `active_views`: the active-conversation view (G4, active_view.py), one per active conversation, a
  tombstone for a closed one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, ConnectionFailure, OperationFailure
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from services.gateway.adapters.favourites import FAVOURITES
from shared.logging import get_logger
from shared.mongo import Transaction, hot
from shared.tracing import current_traceparent

log = get_logger(__name__)

USERS, SESSIONS, HEADS, STREAM, CONVERSATIONS, QUEUES, ANSWERS_SEEN, ACTIVE_VIEWS = (
    "users", "sessions", "stream_heads", "stream_events", "conversations", "queues", "answers", "active_views")
PENDING = "stream_pending"  # frames committed with their events, waiting for positions (FrameRelay)
TOMBSTONE_DAYS = 7  # a closed conversation's tombstone outlives any late event by far

Doc = dict[str, Any]


async def ensure_indexes(db: AsyncDatabase[Doc], *, replay_window_s: int) -> None:
    if PENDING not in await db.list_collection_names(filter={"name": PENDING}):
        # made now: created by the first insert instead, concurrent transactions' inserts would conflict
        with contextlib.suppress(CollectionInvalid):
            await db.create_collection(PENDING)
    await db[USERS].create_index([("tenant_id", ASCENDING), ("username", ASCENDING)], unique=True, name="sign_in")
    await db[STREAM].create_index([("recipient", ASCENDING), ("position", ASCENDING)], unique=True, name="replay")
    # Entries outlive the window a little, so that "older than the window" is decided by time, not by a gap.
    ttl = replay_window_s + 3600
    try:
        await db[STREAM].create_index("at", name="window_ttl", expireAfterSeconds=ttl)
    except OperationFailure as exc:
        if exc.code != 85:  # IndexOptionsConflict: the window setting changed since the index was made
            raise
        await db.command("collMod", STREAM, index={"name": "window_ttl", "expireAfterSeconds": ttl})
    await db[SESSIONS].create_index("expires_at", name="session_ttl", expireAfterSeconds=0)
    await db[ANSWERS_SEEN].create_index("at", name="answers_ttl", expireAfterSeconds=7 * 24 * 3600)
    await db[CONVERSATIONS].create_index([("tenant_id", ASCENDING), ("agents", ASCENDING),
                                          ("updated_at", DESCENDING)], name="my_list")
    await db[CONVERSATIONS].create_index([("tenant_id", ASCENDING), ("queue_id", ASCENDING), ("state", ASCENDING)],
                                         name="open_list")
    await db[CONVERSATIONS].create_index([("tenant_id", ASCENDING), ("customer_id", ASCENDING),
                                          ("started_at", DESCENDING)], name="customer_appeals")
    await db[CONVERSATIONS].create_index([("tenant_id", ASCENDING), ("served_by", ASCENDING),
                                          ("state", ASCENDING), ("updated_at", DESCENDING)], name="closed_list")
    await db[FAVOURITES].create_index([("tenant_id", ASCENDING), ("agents", ASCENDING)], name="of_agent")
    for path in ("case.case_id", "customer.contact_id", "customer.account_id"):  # views linked to a record
        await db[ACTIVE_VIEWS].create_index([("tenant_id", ASCENDING), (path, ASCENDING)], name=f"by_{path}",
                                            partialFilterExpression={path: {"$exists": True}})
    await db[ACTIVE_VIEWS].create_index("closed_at", name="tombstone_ttl",
                                        expireAfterSeconds=TOMBSTONE_DAYS * 24 * 3600)


class Views:
    """The projection's reads and writes inside one consumer transaction (handlers never touch the driver)."""

    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self.tx, self.db, self.session, self.tenant_id = tx, tx.db, tx.session, tenant_id

    async def conversation(self, conversation_id: str) -> Doc | None:
        return await self.db[CONVERSATIONS].find_one({"_id": f"{self.tenant_id}:{conversation_id}"},
                                                     session=self.session)

    async def save_conversation(self, view: Doc) -> None:
        hot(conversation_key(view["_id"]))
        await self.db[CONVERSATIONS].replace_one({"_id": view["_id"]}, view, upsert=True, session=self.session)

    async def queue_members(self, queue_id: str) -> list[str]:
        queue = await self.db[QUEUES].find_one({"_id": f"{self.tenant_id}:{queue_id}"}, session=self.session)
        return queue["members"] if queue else []

    async def save_queue(self, queue_id: str, name: str, members: list[str]) -> None:
        await self.db[QUEUES].replace_one(
            {"_id": f"{self.tenant_id}:{queue_id}"},
            {"tenant_id": self.tenant_id, "queue_id": queue_id, "name": name, "members": sorted(members)},
            upsert=True, session=self.session)

    async def active_view(self, conversation_id: str) -> Doc | None:
        return await self.db[ACTIVE_VIEWS].find_one({"_id": f"{self.tenant_id}:{conversation_id}"},
                                                    session=self.session)

    async def active_views_of(self, path: str, record_id: str) -> list[Doc]:
        """The active views linked to a case, contact or account (`path`: case.case_id, customer.contact_id...)."""
        return await self.db[ACTIVE_VIEWS].find({"tenant_id": self.tenant_id, path: record_id, "closed": False},
                                                session=self.session).to_list()

    async def save_active_view(self, view: Doc) -> None:
        hot(conversation_key(view["_id"]))
        await self.db[ACTIVE_VIEWS].replace_one({"_id": view["_id"]}, view, upsert=True, session=self.session)

    async def push(self, frames: list[tuple[str, Doc]]) -> None:
        """Queue frames at the end of the consumer's unit of work (Transaction.insert_later): a group commit's
        members queue theirs in one write."""
        if frames:
            self.tx.insert_later(PENDING, queued(frames))


async def keep_answer(db: AsyncDatabase[Doc], tenant_id: str, request_id: str, answer_type: str,
                      answer: Doc) -> None:
    """The first answer to a request id, kept (a repeat changes nothing); except a `failed` one (its owner
    dead-lettered the command, shared.commands.answer_failed): a later answer (the letter replayed) replaces it.
    One upsert either way."""
    kept = {"type": answer_type, "answer": answer, "at": datetime.now(UTC)}
    first_or_failed = {"$or": [{"$eq": [{"$type": "$answer"}, "missing"]}, {"$eq": ["$answer.code", "failed"]}]}
    await db[ANSWERS_SEEN].update_one(
        {"_id": f"{tenant_id}:{request_id}"},
        [{"$replaceWith": {"$cond": [first_or_failed, {"$mergeObjects": [{"_id": "$_id"}, {"$literal": kept}]},
                                     "$$ROOT"]}}], upsert=True)


def conversation_key(doc_id: str) -> str:
    """The hot key (shared.mongo.hot) of a conversation's documents (`tenant:conversation` ids): its customer
    stream's name, whose head its events also move."""
    return f"conversation:{doc_id}"


def agent_stream(tenant_id: str, user_id: str) -> str:
    return f"agent:{tenant_id}:{user_id}"


def customer_stream(tenant_id: str, conversation_id: str) -> str:
    return f"conversation:{tenant_id}:{conversation_id}"


def queued(frames: list[tuple[str, Doc]]) -> Doc:
    """Frames for their recipients' streams, as one `stream_pending` document. Positions are not given here: every
    event of an agent's ten conversations, and a line's update for all its agents, would write the same stream
    heads, and the gateway's sixteen consumers then queued on them (the 20 messages/s collapse); the FrameRelay
    gives them just after the commit. With tracing on, they carry the current span's trace context, so sending
    them on a socket is part of the trace of what caused them."""
    doc: Doc = {"frames": [{"recipient": r, "frame": f} for r, f in frames], "at": datetime.now(UTC)}
    traceparent = current_traceparent()
    if traceparent is not None:
        doc["traceparent"] = traceparent
    return doc


async def append(db: AsyncDatabase[Doc], session: AsyncClientSession, frames: list[tuple[str, Doc]]) -> None:
    """Queue frames in the caller's transaction (so they exist exactly when what they announce does)."""
    if frames:
        await db[PENDING].insert_one(queued(frames), session=session)


async def push(db: AsyncDatabase[Doc], frames: list[tuple[str, Doc]]) -> None:
    """Append frames in a transaction of their own (typing, sign-out: nothing else to commit with them)."""
    async with db.client.start_session() as session, await session.start_transaction():
        await append(db, session, frames)
    wake_relays()


_RELAYS: list[FrameRelay] = []


def wake_relays() -> None:
    """After a commit that queued frames: the process's relay positions them now, not at its next poll."""
    for relay in _RELAYS:
        relay.notify()


class FrameRelay:
    """Gives queued frames (`stream_pending`) the next positions of their recipients' streams and stores them
    (`stream_events`, watched by live.py), oldest first, many at a time: one transaction per batch, so a stream
    head is written once per batch, by one writer per process. Per recipient, frames keep the order their
    transactions committed in (a consumer's events of one conversation, in order). A second instance's relay may
    take the same batch: one of the two transactions conflicts and finds it gone on its retry."""

    def __init__(self, db: AsyncDatabase[Doc], *, poll_s: float = 0.5, batch: int = 500,
                 stored: Callable[[list[Doc]], None] | None = None) -> None:
        self.db, self.poll_s, self.batch = db, poll_s, batch
        # Told the rows of each committed batch (live.py's hub: this instance's sockets get them at once rather
        # than one change-stream trip later; the change stream brings them again, and a stream drops a position
        # it has sent).
        self._stored = stored
        self._wake = asyncio.Event()
        self.relayed = 0
        _RELAYS.append(self)

    def notify(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()
            try:
                while await self.relay_once() == self.batch:
                    pass
            except (ConnectionFailure, OperationFailure) as exc:  # MongoDB away or busy: the frames wait
                log.warning("frame relay failed; retrying", error=repr(exc))
                await asyncio.sleep(self.poll_s)
            except Exception:  # anything else: said loudly, and the loop lives on (frames must not stop for good)
                log.exception("frame relay error; retrying")
                await asyncio.sleep(self.poll_s)

    async def relay_once(self) -> int:
        """Position one batch of queued frames; how many queued writes it took."""
        async def work(session: AsyncClientSession) -> int:
            committed.clear()  # a retried attempt: only what the attempt that commits wrote counts
            # The batch and its recipients' heads in one read (a round trip fewer on every frame's way), and
            # every head in one write, not a round trip per recipient (a line's update reaches all its agents).
            # The positions come from this transaction's snapshot: a head another relay moved since makes this
            # attempt's write conflict, and the retry reads it again.
            pending = await (await self.db[PENDING].aggregate([
                {"$sort": {"_id": ASCENDING}}, {"$limit": self.batch},
                {"$lookup": {"from": HEADS, "localField": "frames.recipient", "foreignField": "_id",
                             "as": "heads"}}], session=session)).to_list()
            if not pending:
                return 0
            by_recipient: dict[str, list[tuple[Doc, str | None]]] = {}
            heads: dict[str, int] = {}
            for queued in pending:
                heads.update((head["_id"], head["position"]) for head in queued["heads"])
                for item in queued["frames"]:
                    by_recipient.setdefault(item["recipient"], []).append((item["frame"], queued.get("traceparent")))
            now = datetime.now(UTC)
            rows = []
            for recipient, items in by_recipient.items():
                first = heads.get(recipient, 0) + 1
                rows += [{"recipient": recipient, "position": first + n, "at": now,
                          "frame": {**frame, "position": first + n},
                          **({"traceparent": traceparent} if traceparent else {})}
                         for n, (frame, traceparent) in enumerate(items)]
            await self.db[HEADS].bulk_write(
                [UpdateOne({"_id": recipient}, {"$inc": {"position": len(items)}}, upsert=True)
                 for recipient, items in by_recipient.items()], ordered=False, session=session)
            await self.db[STREAM].insert_many(rows, session=session)
            await self.db[PENDING].delete_many({"_id": {"$in": [q["_id"] for q in pending]}}, session=session)
            committed[:] = rows  # this attempt's (a retried attempt's replace them)
            return len(pending)

        committed: list[Doc] = []
        async with self.db.client.start_session() as session:
            done = await session.with_transaction(work, read_concern=ReadConcern("snapshot"),
                                                  write_concern=WriteConcern("majority"))
        self.relayed += done
        if self._stored is not None and committed:
            self._stored(committed)
        return done


async def replay(db: AsyncDatabase[Doc], recipient: str, after: int, *, window_s: int,
                 limit: int = 1000) -> list[tuple[Doc, str | None]] | None:
    """Frames after `after`, oldest first, each with the trace context it was queued in (None when untraced);
    None when the client must resync (what it missed is older than the window, or gone). A client that starts
    fresh passes after=-1 and gets nothing old: it reads state first."""
    head = await db[HEADS].find_one({"_id": recipient})
    latest = head["position"] if head else 0
    if after < 0:
        return []
    if after > latest:
        return None  # a position this stream never gave (e.g. the database was reset)
    if after == latest:
        return []
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    rows = await db[STREAM].find({"recipient": recipient, "position": {"$gt": after}}).sort(
        "position", ASCENDING).limit(limit).to_list()
    if not rows or rows[0]["position"] != after + 1 or rows[0]["at"] < since:
        return None
    return [(r["frame"], r.get("traceparent")) for r in rows]


async def head_position(db: AsyncDatabase[Doc], recipient: str) -> int:
    head = await db[HEADS].find_one({"_id": recipient})
    return head["position"] if head else 0
