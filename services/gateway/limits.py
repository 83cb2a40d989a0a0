"""Request limits at the gateway's edge (issue 16): a flood from one client is answered 429 while everyone else is
served, and a body too large for any JSON request is refused 413 before it is read whole.

- Rate: a token bucket per bearer token (a staff session's access token, a customer's conversation token;
  a WebSocket's `access_token` or `token` too: a refused one's handshake fails), `rate_limit_per_s` refilled, `rate_limit_burst` deep. Requests without a
  token are not limited here, except chat starts (`POST /v1/widget/{tenant}/conversations`, anonymous), which
  have a bucket per client address (`chat_starts_per_minute`): every visitor behind one address shares it.
  Buckets are this process's: with several gateway instances each allows as much.
- Size: a JSON request's body is at most `max_body_bytes` (attachments are streamed and have their own
  limits); a declared length over it is refused at once, a chunked body as soon as it passes it (a JSON
  body is read before its handler runs).
Refusals are JSON ({"error": "too_many_requests"|"too_large", "detail": ...}); a 429 says when to retry
(Retry-After, in whole seconds)."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CHAT_START = re.compile(r"^/v1/widget/[^/]+/conversations/?$")
_STREAMED = re.compile(r"/attachments/?$")  # uploads: their own size limits, read as a stream
_EXEMPT = ("/health", "/metrics", "/asyncapi", "/web/", "/desk", "/widget", "/docs", "/openapi.json")
_IDLE_S = 300.0  # a bucket untouched this long is full again: forgotten


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """Token buckets by key: `rate` per second refilled, `burst` deep."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, _Bucket] = {}
        self._swept = clock()

    def take(self, key: str) -> float:
        """0 if a request of `key` may go now (one token taken), else the seconds until one may."""
        now = self.clock()
        if now - self._swept > _IDLE_S:
            self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < _IDLE_S}
            self._swept = now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class Limits:
    """ASGI middleware: the rate and size limits above."""

    def __init__(self, app: ASGIApp, *, per_token: TokenBuckets, chat_starts: TokenBuckets,
                 max_body_bytes: int) -> None:
        self.app = app
        self.per_token = per_token
        self.chat_starts = chat_starts
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(_EXEMPT):
            await self.app(scope, receive, send)
            return
        wait = self._wait(scope)
        if wait:
            await _refuse(scope, send, 429, "too_many_requests",
                          f"too many requests from this client; retry in {math.ceil(wait)} s",
                          {"retry-after": str(max(1, math.ceil(wait)))})
            return
        if scope["type"] == "websocket" or _STREAMED.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _refuse(scope, send, 413, "too_large", f"the body is larger than {self.max_body_bytes} bytes")
            return
        await self._sized(scope, receive, send)

    def _wait(self, scope: Scope) -> float:
        token = _bearer(scope)
        if token is not None:
            return self.per_token.take("token:" + token)
        if scope["type"] == "http" and scope["method"] == "POST" and _CHAT_START.match(scope["path"]):
            client = scope.get("client") or ("unknown", 0)
            return self.chat_starts.take("address:" + str(client[0]))
        return 0.0

    async def _sized(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body first (a JSON body is read whole by its handler anyway): past the limit, refuse it
        before the handler runs; else hand it over as it came."""
        chunks, read = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            read += len(chunks[-1])
            if read > self.max_body_bytes:
                await _refuse(scope, send, 413, "too_large", f"the body is larger than {self.max_body_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        body, given = b"".join(chunks), False

        async def replayed() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: a disconnect, when it comes

        await self.app(scope, replayed, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _bearer(scope: Scope) -> str | None:
    header = _header(scope, b"authorization") or ""
    if header.lower().startswith("bearer ") and header[7:].strip():
        return header[7:].strip()
    for pair in scope.get("query_string", b"").decode("latin-1").split("&"):  # sockets: agents' and customers'
        name, _, value = pair.partition("=")
        if name in ("access_token", "token") and value:
            return value
    return None


async def _refuse(scope: Scope, send: Send, status: int, error: str, detail: str,
                  headers: dict[str, str] | None = None) -> None:
    if scope["type"] == "websocket":  # closed before it is accepted: the handshake is refused (HTTP 403)
        await send({"type": "websocket.close", "code": 1013, "reason": detail[:120]})
        return
    body = json.dumps({"error": error, "detail": detail}).encode()
    raw: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json"),
                                      (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def limits_for(settings: Any) -> dict[str, Any]:
    """Limits' keyword arguments from the gateway's settings."""
    return {"per_token": TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst),
            "chat_starts": TokenBuckets(settings.chat_starts_per_minute / 60.0, settings.chat_starts_per_minute),
            "max_body_bytes": settings.max_body_bytes}
