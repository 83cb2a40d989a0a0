"""The harness's clients: HTTP and WebSocket through either gateway instance, as a frontend behind a load
balancer would use them. Every command carries an Idempotency-Key and is retried with the same key until it
has an answer (a gateway dying mid-request, a 504 whose answer_url is polled, a 503 while a dependency is
down); every answer and every raw frame is kept in the journal the checker reads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

Frame = dict[str, Any]
COMMAND_DEADLINE_S = 600.0  # a command retried for this long without an answer counts as unanswered


@dataclass
class Op:
    """One HTTP command as the client saw it, across its retries."""
    kind: str
    key: str
    started: float
    ended: float | None = None
    statuses: list[int | str] = field(default_factory=list)  # each attempt's status, or the transport error
    status: int | None = None  # the final answer's status (None: never answered)
    body: Any = None

    @property
    def answered(self) -> bool:
        return self.status is not None and self.status < 500

    @property
    def server_errors(self) -> list[int | str]:
        """Statuses a client must never see: a 500 (a stack) or any 5xx other than 503 and 504."""
        return [s for s in self.statuses if isinstance(s, int) and s >= 500 and s not in (503, 504)]


@dataclass
class Journal:
    ops: list[Op] = field(default_factory=list)
    reads_failed: int = 0


class Gateways:
    """Both gateway instances; a client sticks to one until it fails, then moves to the other."""

    def __init__(self, urls: list[str], journal: Journal, start: int = 0) -> None:
        self.urls = urls
        self.current = start % len(urls)
        self.journal = journal
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=3.0))

    @property
    def url(self) -> str:
        return self.urls[self.current]

    def rotate(self) -> None:
        self.current = (self.current + 1) % len(self.urls)

    async def close(self) -> None:
        await self.http.aclose()

    async def command(self, kind: str, method: str, path: str, body: Any, *, token: str | None, key: str,
                      deadline_s: float = COMMAND_DEADLINE_S) -> Op:
        """Send until answered (200 or a 4xx), with the same Idempotency-Key every time."""
        op = Op(kind=kind, key=key, started=time.monotonic())
        self.journal.ops.append(op)
        headers = {"Idempotency-Key": key, **({"authorization": f"Bearer {token}"} if token else {})}
        pending_url: str | None = None
        poll_headers = headers
        while time.monotonic() - op.started < deadline_s:
            try:
                if pending_url is not None:  # an earlier attempt got 504: its answer is fetched, not sent again
                    response = await self.http.get(self.url + pending_url, headers=poll_headers)
                else:
                    response = await self.http.request(method, self.url + path, json=body, headers=headers)
            except httpx.HTTPError as exc:
                op.statuses.append(type(exc).__name__)
                self.rotate()
                await asyncio.sleep(0.3)
                continue
            op.statuses.append(response.status_code)
            if response.status_code in (202, 504):
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    pending = response.json()
                    pending_url = pending["answer_url"]
                    if pending.get("conversation_token"):  # a visitor's start: its token fetches the answer
                        poll_headers = {"authorization": f"Bearer {pending['conversation_token']}"}
                await asyncio.sleep(0.3)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                await asyncio.sleep(0.5)
                if response.status_code != 503:
                    self.rotate()
                continue
            if pending_url is not None:
                # The answer is there: the request is sent once more with the same key, which returns the
                # first answer at once in the endpoint's own shape (a started chat's token, say).
                pending_url = None
                continue
            op.status, op.ended = response.status_code, time.monotonic()
            with contextlib.suppress(ValueError):
                op.body = response.json()
            return op
        op.ended = time.monotonic()
        return op

    async def read(self, path: str, *, token: str | None, deadline_s: float = 120.0, **params: Any) -> Any:
        """GET until a 200 (retried on transport errors and 5xx); raises after the deadline."""
        began = time.monotonic()
        headers = {"authorization": f"Bearer {token}"} if token else {}
        last: Any = None
        while time.monotonic() - began < deadline_s:
            try:
                response = await self.http.get(self.url + path, params=params, headers=headers)
            except httpx.HTTPError as exc:
                last = exc
                self.rotate()
                await asyncio.sleep(0.3)
                continue
            if response.status_code == 200:
                return response.json()
            last = f"{response.status_code} {response.text[:200]}"
            if response.status_code < 500 and response.status_code != 429:
                break
            await asyncio.sleep(0.5)
        self.journal.reads_failed += 1
        raise AssertionError(f"GET {path}: {last}")


class LiveStream:
    """A WebSocket stream that reconnects (to either gateway) with ?after=<last position>, as the widget and
    the desk do. Keeps every raw frame with the number of the connection that brought it."""

    def __init__(self, gateways: Gateways, path: str, label: str, on_frame: Callable[[Frame], None] | None = None,
                 **params: Any) -> None:
        self.gateways, self.path, self.label, self.params = gateways, path, label, params
        self.on_frame = on_frame
        self.frames: list[tuple[int, Frame]] = []
        self.connections = 0
        self.position = -1
        self.closed_codes: list[int | None] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stopping:
            query = "&".join(f"{k}={v}" for k, v in {**self.params, "after": self.position}.items())
            url = f"{self.gateways.url.replace('http://', 'ws://')}{self.path}?{query}"
            try:
                async with websockets.connect(url, open_timeout=10, ping_interval=5, ping_timeout=15,
                                              close_timeout=2) as socket:
                    self.connections += 1
                    number = self.connections
                    self.connected.set()
                    async for raw in socket:
                        frame = json.loads(raw)
                        self.frames.append((number, frame))
                        if "position" in frame and frame.get("type") != "resync":
                            self.position = max(self.position, frame["position"])
                        if self.on_frame is not None:
                            self.on_frame(frame)
                        self._changed.set()
                    self.closed_codes.append(socket.close_code)
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            if self._stopping:
                return
            self.gateways.rotate()
            await asyncio.sleep(0.5)

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout_s: float, *, after: int = 0
                       ) -> Frame | None:
        """The first frame (of any connection) that matches, from the `after`-th frame kept on (earlier ones
        can match a question asked again: a state the conversation was in before), or None after the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        seen = after
        while True:
            for _, frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
