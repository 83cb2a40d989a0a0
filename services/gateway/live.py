"""Live delivery in one gateway instance: a MongoDB change stream on the gateway's database tells this
instance about every stream frame and every command answer, whichever instance's consumer wrote it, and
the hub hands them to the sockets and waiting requests of this instance. Several instances each watch the
same database, so every client gets all its events wherever it is connected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry.trace import SpanKind
from pymongo.asynchronous.database import AsyncDatabase
from shared.logging import get_logger
from shared.tracing import span_under

from services.gateway.adapters.store import ANSWERS_SEEN, STREAM, head_position, replay

log = get_logger(__name__)
Doc = dict[str, Any]


class Subscriber:
    """One open socket's stream: frames arrive in position order; gaps are filled from the database."""

    def __init__(self, recipient: str, session_id: str | None = None) -> None:
        self.recipient = recipient
        self.session_id = session_id
        # a frame with the trace context it was queued in (shared.tracing), or None
        self.queue: asyncio.Queue[tuple[Doc, str | None] | None] = asyncio.Queue()

    def offer(self, frame: Doc | None, traceparent: str | None = None) -> None:
        # None: the change stream restarted, catch up from the database
        self.queue.put_nowait(None if frame is None else (frame, traceparent))


class Hub:
    def __init__(self, db: AsyncDatabase[Doc], *, window_s: int) -> None:
        self.db = db
        self.window_s = window_s
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._waiters: dict[str, list[asyncio.Future[Doc]]] = {}
        self.watching = asyncio.Event()

    # --- the change stream ------------------------------------------------------------------------

    async def run(self) -> None:
        pipeline = [{"$match": {"operationType": "insert", "ns.coll": {"$in": [STREAM, ANSWERS_SEEN]}}}]
        while True:
            try:
                async with await self.db.watch(pipeline) as changes:
                    self.watching.set()
                    await self._catch_up()  # what was written while the stream was not watching
                    async for change in changes:
                        self._dispatch(change["ns"]["coll"], change["fullDocument"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.watching.clear()
                log.warning("change stream interrupted; restarting", error=repr(exc))
                await asyncio.sleep(1.0)

    def stored(self, rows: list[Doc]) -> None:
        """Frames this instance's relay has just committed (adapters/store.py FrameRelay): its sockets get them
        now; the change stream brings them again, and each stream sends a position once."""
        for row in rows:
            self._dispatch(STREAM, row)

    def _dispatch(self, collection: str, doc: Doc) -> None:
        if collection == STREAM:
            for sub in list(self._subscribers.get(doc["recipient"], ())):
                sub.offer(doc["frame"], doc.get("traceparent"))
        else:
            for fut in self._waiters.pop(doc["_id"], []):
                if not fut.done():
                    fut.set_result(doc)

    async def _catch_up(self) -> None:
        for subs in list(self._subscribers.values()):
            for sub in subs:
                sub.offer(None)
        for key in list(self._waiters):
            found = await self.db[ANSWERS_SEEN].find_one({"_id": key})
            if found is not None:
                self._dispatch(ANSWERS_SEEN, found)

    # --- sockets ----------------------------------------------------------------------------------

    def streams_open(self) -> int:
        """Streams (sockets) subscribed now, for /metrics."""
        return sum(len(subs) for subs in self._subscribers.values())

    def subscribe(self, sub: Subscriber) -> None:
        self._subscribers.setdefault(sub.recipient, set()).add(sub)

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._subscribers.get(sub.recipient)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.recipient]

    async def stream(self, sub: Subscriber, after: int, send: Callable[[Doc], Awaitable[None]]) -> None:
        """Send `sub`'s frames after position `after` (-1: only new ones), then live ones, in order, each once;
        a position older than the replay window gets one {"type": "resync"} frame first. Returns when the
        stream says this socket must close (its session revoked, its user deactivated)."""
        self.subscribe(sub)  # before reading the database, so nothing falls between the two
        try:
            last = await self._resume(sub, after, send)
            while True:
                item = await sub.queue.get()
                if item is None or item[0]["position"] > last + 1:  # a restart or a gap: read what is missing
                    last = await self._resume(sub, last, send)
                    continue
                frame, traceparent = item
                if frame["position"] <= last:
                    continue
                await _send(sub, send, frame, traceparent)
                last = frame["position"]
                if _closes(frame, sub):
                    return
        finally:
            self.unsubscribe(sub)

    async def _resume(self, sub: Subscriber, after: int, send: Callable[[Doc], Awaitable[None]]) -> int:
        head = await head_position(self.db, sub.recipient)
        if after < 0:
            return head
        frames = await replay(self.db, sub.recipient, after, window_s=self.window_s)
        if frames is None:
            await send({"type": "resync", "position": head,
                        "why": "the stream position asked for is older than the replay window "
                               f"({self.window_s} s) or unknown: read the current state again"})
            return head
        last = after
        for frame, traceparent in frames:
            await _send(sub, send, frame, traceparent)
            last = frame["position"]
            if _closes(frame, sub):
                raise SocketClosed
        return last

    # --- command answers --------------------------------------------------------------------------

    async def wait_answer(self, key: str, timeout_s: float) -> Doc | None:
        fut: asyncio.Future[Doc] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(fut)
        try:
            found = await self.db[ANSWERS_SEEN].find_one({"_id": key})  # it may have come already
            if found is not None:
                return found
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(fut, timeout_s)
            return None
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None and fut in waiting:
                waiting.remove(fut)
                if not waiting:
                    del self._waiters[key]


async def _send(sub: Subscriber, send: Callable[[Doc], Awaitable[None]], frame: Doc, traceparent: str | None) -> None:
    """Send a frame on the socket; with the trace context it was queued in, as the last span of what caused it
    (a customer's message reaching the agent's screen)."""
    if traceparent is None:
        await send(frame)
        return
    with span_under(traceparent, f"websocket send {frame.get('type')}", kind=SpanKind.PRODUCER,
                    attributes={"conversation_id": frame.get("conversation_id") or _conversation_of(sub.recipient),
                                "stream.recipient": sub.recipient, "stream.position": frame["position"],
                                "frame.type": frame.get("type")}):
        await send(frame)


def _conversation_of(recipient: str) -> str | None:
    """The conversation a customer's stream (`conversation:tenant:id`) belongs to; None for an agent's."""
    kind, _, rest = recipient.partition(":")
    return (rest.partition(":")[2] or None) if kind == "conversation" else None


class SocketClosed(Exception):
    """The stream told this socket to close (sign-out, deactivation)."""


def _closes(frame: Doc, sub: Subscriber) -> bool:
    if frame.get("type") == "deactivated":
        return True
    return frame.get("type") == "session_revoked" and frame.get("session_id") == sub.session_id
