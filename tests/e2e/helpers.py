"""Steps several end-to-end tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from shared.testing.system import Api, Stream


async def available(agent: Api) -> None:
    response = await agent.put("/v1/agent/presence", {"presence": "available"})
    assert response.status_code == 200, response.text


async def offer_for(desk: Stream, cid: str, timeout_s: float = 20.0) -> dict[str, Any]:
    return await desk.wait_for(lambda f: f["type"] == "offer" and f["conversation_id"] == cid, timeout_s,
                               what=f"an offer of {cid}")


async def accept(agent: Api, desk: Stream, cid: str) -> None:
    offer = await offer_for(desk, cid)
    response = await agent.post(f"/v1/conversations/{cid}/accept", {"offer_id": offer["offer_id"]})
    assert response.status_code == 200, response.text
    await desk.wait_for(lambda f: f["type"] == "conversation_state" and f["conversation_id"] == cid
                        and f["state"] == "active", what="the conversation active")


def message(text: str) -> Any:
    return lambda f: f["type"] == "message" and f["text"] == text


async def first_offered(desks: list[Stream], cid: str, timeout_s: float = 20.0) -> Stream:
    """The desk that got the first offer of `cid` (polled with a deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        for desk in desks:
            if any(f["type"] == "offer" and f["conversation_id"] == cid for f in desk.frames):
                return desk
        await asyncio.sleep(0.05)
    raise AssertionError(f"no agent got an offer of {cid} within {timeout_s} s")


async def answered(api: Api, path: str, body: Any = None, timeout_s: float = 60.0) -> dict[str, Any]:
    """POST a command as a patient client does: on 504 (no answer in time: e.g. a gateway instance died and
    its partitions are still moving) fetch the answer from answer_url until it is there."""
    response = await api.post(path, body)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while response.status_code in (202, 504) and loop.time() < deadline:
        await asyncio.sleep(0.5)
        response = await api.get(response.json()["answer_url"])
    assert response.status_code == 200, response.text
    return response.json()


async def eventually(read: Callable[[], Awaitable[Any]], wanted: Callable[[Any], bool], what: str,
                     timeout_s: float = 20.0) -> Any:
    """Read until `wanted` holds (polled with a deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = await read()
        if wanted(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s; last {value}")
        await asyncio.sleep(0.2)
