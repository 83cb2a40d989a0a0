"""The gateway's own database: only what it must push live or check on every request.

- `users`: sign-ins (argon2 hash, role, supervised queues, active flag);
- `sessions`: one per sign-in, with the hashed refresh token; revoked sessions cut their sockets;
- `stream_heads` / `stream_events`: each recipient's stream (an agent, or a customer's conversation) with
  gateway-assigned positions, kept for the replay window;
- `conversations`: who may see what (customer, queue, current agents, offered agents, state, preview),
  which also feeds the work lists My / Open / Closed;
- `queues`: members (from routing's QueueConfigured), for the Open list and supervisors;
- `answers`: command answers by request id, for callers that wait or come back later;
- `active_views`: the active-conversation view (G4, active_view.py), one per active conversation, a
  tombstone for a closed one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from services.gateway.adapters.favourites import FAVOURITES
from shared.mongo import hot

USERS, SESSIONS, HEADS, STREAM, CONVERSATIONS, QUEUES, ANSWERS_SEEN, ACTIVE_VIEWS = (
    "users", "sessions", "stream_heads", "stream_events", "conversations", "queues", "answers", "active_views")
TOMBSTONE_DAYS = 7  # a closed conversation's tombstone outlives any late event by far

Doc = dict[str, Any]


async def ensure_indexes(db: AsyncDatabase[Doc], *, replay_window_s: int) -> None:
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

    def __init__(self, db: AsyncDatabase[Doc], session: AsyncClientSession, tenant_id: str) -> None:
        self.db, self.session, self.tenant_id = db, session, tenant_id

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
        await append(self.db, self.session, frames)


async def keep_answer(db: AsyncDatabase[Doc], tenant_id: str, request_id: str, answer_type: str,
                      answer: Doc) -> None:
    """The first answer to a request id, kept (a repeat changes nothing)."""
    await db[ANSWERS_SEEN].update_one(
        {"_id": f"{tenant_id}:{request_id}"},
        {"$setOnInsert": {"type": answer_type, "answer": answer, "at": datetime.now(UTC)}}, upsert=True)


def conversation_key(doc_id: str) -> str:
    """The hot key (shared.mongo.hot) of a conversation's documents (`tenant:conversation` ids): its customer
    stream's name, whose head its events also move."""
    return f"conversation:{doc_id}"


def agent_stream(tenant_id: str, user_id: str) -> str:
    return f"agent:{tenant_id}:{user_id}"


def customer_stream(tenant_id: str, conversation_id: str) -> str:
    return f"conversation:{tenant_id}:{conversation_id}"


async def append(db: AsyncDatabase[Doc], session: AsyncClientSession, frames: list[tuple[str, Doc]]) -> None:
    """Give each frame the next position of its recipient's stream and store it (in the caller's transaction:
    the counter update makes concurrent appends to one stream commit one after the other, in position order)."""
    by_recipient: dict[str, list[Doc]] = {}
    for recipient, frame in frames:
        by_recipient.setdefault(recipient, []).append(frame)
    hot(*by_recipient)  # every event of an agent's conversations moves its stream's head
    now = datetime.now(UTC)
    rows = []
    for recipient, items in by_recipient.items():
        head = await db[HEADS].find_one_and_update(
            {"_id": recipient}, {"$inc": {"position": len(items)}}, upsert=True,
            return_document=ReturnDocument.AFTER, session=session)
        first = head["position"] - len(items) + 1
        for offset, frame in enumerate(items):
            rows.append({"recipient": recipient, "position": first + offset, "at": now,
                         "frame": {**frame, "position": first + offset}})
    if rows:
        await db[STREAM].insert_many(rows, session=session)


async def push(db: AsyncDatabase[Doc], frames: list[tuple[str, Doc]]) -> None:
    """Append frames in a transaction of their own (typing, sign-out: nothing else to commit with them)."""
    async with db.client.start_session() as session, await session.start_transaction():
        await append(db, session, frames)


async def replay(db: AsyncDatabase[Doc], recipient: str, after: int, *, window_s: int,
                 limit: int = 1000) -> list[Doc] | None:
    """Frames after `after`, oldest first; None when the client must resync (what it missed is older than the
    window, or gone). A client that starts fresh passes after=-1 and gets nothing old: it reads state first."""
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
    return [r["frame"] for r in rows]


async def head_position(db: AsyncDatabase[Doc], recipient: str) -> int:
    head = await db[HEADS].find_one({"_id": recipient})
    return head["position"] if head else 0
