"""The cases service's handlers on the MongoDB unit of work and its read API over HTTP (ASGI), against the
session's real mongod: each test gets its own database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from services.cases.adapters.queries import CaseQueries
from services.cases.adapters.store import ensure_indexes
from services.cases.adapters.timeline import TimelineQueries, ensure_timeline_indexes
from services.cases.entrypoints.http import read_api
from services.cases.entrypoints.http_timeline import timeline_router
from services.cases.handlers import CasesHandlers
from shared.contracts import cases as c
from shared.contracts.envelope import Actor, Event, wrap
from shared.mongo import MongoUnitOfWork, consuming, make_mongo_client
from shared.settings import ServiceSettings

AGENT = Actor(user_id="alice", role="agent")


class Service:
    def __init__(self, client: Any, db_name: str) -> None:
        self.db = client[db_name]
        self.uow = MongoUnitOfWork(client, db_name)
        self.handlers = CasesHandlers(self.uow)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(
            app=read_api(CaseQueries(self.db), timeline_router(TimelineQueries(self.db)))),
                                      base_url="http://cases")

    async def send(self, command: c.CasesCommand, tenant: str = "t1", handlers: CasesHandlers | None = None) -> None:
        command = command.model_copy(update={"actor": AGENT})
        env = wrap(command, tenant_id=tenant, key=getattr(command, command.KEY), producer="test")
        with consuming(env.event_id):
            await (handlers or self.handlers).handle_command(env)

    async def feed(self, event: Event, tenant: str = "t1", occurred_at: datetime | None = None) -> None:
        env = wrap(event, tenant_id=tenant, key=str(getattr(event, event.KEY)), producer="test",
                   occurred_at=occurred_at)
        with consuming(env.event_id):
            await self.handlers.handle_event(env)

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def service(infrastructure, unique) -> AsyncIterator[Service]:
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    s = Service(client, f"cases-{unique}")
    await ensure_indexes(s.db)
    await ensure_timeline_indexes(s.db)
    yield s
    await s.http.aclose()
    await client.drop_database(f"cases-{unique}")
    await client.close()
