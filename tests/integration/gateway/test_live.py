"""Live delivery in one gateway instance (services/gateway/live.py) on the real mongod: the frames its own relay
commits reach its sockets at once, without waiting for the change stream; the change stream (which brings them
again, and brings another instance's) never makes a socket send a position twice or out of order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.gateway.adapters.store import FrameRelay, append, ensure_indexes
from services.gateway.live import Hub, Subscriber
from shared.mongo import make_mongo_client
from shared.settings import ServiceSettings
from shared.testing.kafka import eventually

pytestmark = pytest.mark.integration
AGENT = "agent:t:a"


@pytest.fixture
async def db(infrastructure, unique) -> AsyncIterator[Any]:
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    database = client[f"live-{unique}"]
    await ensure_indexes(database, replay_window_s=3600)
    yield database
    await client.drop_database(f"live-{unique}")
    await client.close()


async def queue(db: Any, frame: dict[str, Any]) -> None:
    async with db.client.start_session() as session, await session.start_transaction():
        await append(db, session, [(AGENT, frame)])


async def test_own_frames_go_out_at_once_and_the_change_stream_repeats_none(db):
    hub = Hub(db, window_s=3600)
    sent: list[dict[str, Any]] = []

    async def send(frame: dict[str, Any]) -> None:
        sent.append(frame)

    await queue(db, {"type": "before"})
    await FrameRelay(db).relay_once()
    socket = asyncio.create_task(hub.stream(Subscriber(AGENT), 0, send))
    tasks = [socket]
    try:
        await eventually(lambda: len(sent) == 1, timeout_s=10, interval_s=0.02)  # read from the database: resumed
        own = FrameRelay(db, stored=hub.stored)
        for n in range(3):  # no change stream yet: only the relay's hand-off can bring these
            await queue(db, {"type": "own", "n": n})
            await own.relay_once()
        await eventually(lambda: len(sent) == 4, timeout_s=10, interval_s=0.02)

        tasks.append(asyncio.create_task(hub.run()))  # now the change stream too
        await asyncio.wait_for(hub.watching.wait(), 10)
        for n in range(3, 6):
            await queue(db, {"type": "own", "n": n})
            await own.relay_once()
        await queue(db, {"type": "another instance's"})  # its relay: this hub hears of it by the change stream
        await FrameRelay(db).relay_once()
        await eventually(lambda: any(f["type"] == "another instance's" for f in sent), timeout_s=10,
                         interval_s=0.02)
        # the change stream delivers in commit order: every repeat of an own frame came before the last frame
        assert [f["position"] for f in sent] == list(range(1, 9))
        assert [f.get("n") for f in sent] == [None, 0, 1, 2, 3, 4, 5, None]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
