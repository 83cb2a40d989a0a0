"""The gateway's request limits (services/gateway/limits.py) on a bare ASGI app: token buckets with a fake clock,
429 for a flooding token while another is served, chat starts per address, 413 for bodies too large."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.gateway.limits import Limits, TokenBuckets

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_one_per_refill():
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token comes back in 1/rate seconds
    assert buckets.take("b") == 0.0  # another key has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    clock.now += 3600  # idle for long: full again
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"size": len(body)})


def client(clock: Clock, *, burst: int = 3, starts: int = 2, max_body: int = 100) -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/v1/thing", echo, methods=["GET", "POST"]),
                            Route("/v1/widget/{tenant}/conversations", echo, methods=["POST"]),
                            Route("/v1/conversations/{cid}/attachments", echo, methods=["POST"]),
                            Route("/health/live", echo)])
    limited = Limits(app, per_token=TokenBuckets(1.0, burst, clock), chat_starts=TokenBuckets(1 / 60, starts, clock),
                     max_body_bytes=max_body)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://gw")


def auth(token: str) -> dict[str, Any]:
    return {"authorization": f"Bearer {token}"}


async def test_a_flooding_token_gets_429_with_when_to_retry_while_another_token_is_served():
    clock = Clock()
    async with client(clock) as http:
        statuses = [(await http.get("/v1/thing", headers=auth("flood"))).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = await http.get("/v1/thing", headers=auth("flood"))
        assert refused.json()["error"] == "too_many_requests" and refused.headers["retry-after"] == "1"
        assert (await http.get("/v1/thing", headers=auth("calm"))).status_code == 200
        assert (await http.get("/v1/thing?access_token=flood")).status_code == 429  # the socket's way, same token
        assert {(await http.get("/health/live", headers=auth("flood"))).status_code for _ in range(5)} == {200}
        clock.now += 1.0
        assert (await http.get("/v1/thing", headers=auth("flood"))).status_code == 200


async def test_anonymous_chat_starts_are_limited_per_address_and_other_anonymous_reads_are_not():
    clock = Clock()
    async with client(clock, starts=2) as http:
        starts = [(await http.post("/v1/widget/acme/conversations", json={})).status_code for _ in range(3)]
        assert starts == [200, 200, 429]
        assert {(await http.get("/v1/thing")).status_code for _ in range(10)} == {200}


async def test_a_body_too_large_is_refused_413_declared_or_streamed_and_uploads_keep_their_own_limit():
    clock = Clock()
    async with client(clock, burst=100, max_body=100) as http:
        assert (await http.post("/v1/thing", content=b"x" * 100)).json() == {"size": 100}
        declared = await http.post("/v1/thing", content=b"x" * 101)
        assert declared.status_code == 413 and declared.json()["error"] == "too_large"

        async def chunks():
            for _ in range(5):
                yield b"y" * 40
        streamed = await http.post("/v1/thing", content=chunks())  # no length declared
        assert streamed.status_code == 413
        upload = await http.post("/v1/conversations/c1/attachments", content=b"z" * 500)
        assert upload.json() == {"size": 500}
