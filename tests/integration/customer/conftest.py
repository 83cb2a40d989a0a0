"""The customer service's handlers on the MongoDB unit of work and its read API over HTTP (ASGI), against the
session's real mongod: each test gets its own database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.customer.adapters.line_queries import LineQueries
from services.customer.adapters.lines import ensure_line_indexes
from services.customer.adapters.queries import CustomerQueries
from services.customer.adapters.store import ensure_indexes
from services.customer.entrypoints.http import read_api
from services.customer.handlers import CustomerHandlers
from shared.contracts import customer as c
from shared.contracts.envelope import wrap
from shared.mongo import MongoUnitOfWork, consuming, make_mongo_client
from shared.settings import ServiceSettings


class Service:
    def __init__(self, client: Any, db_name: str) -> None:
        self.db = client[db_name]
        self.handlers = CustomerHandlers(MongoUnitOfWork(client, db_name))
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=read_api(CustomerQueries(self.db), LineQueries(self.db))),
                                      base_url="http://customer")

    async def send(self, command: c.CustomerCommand, tenant: str = "t1") -> None:
        env = wrap(command, tenant_id=tenant, key=getattr(command, command.KEY), producer="test")
        with consuming(env.event_id):
            await self.handlers.handle_command(env)

    async def search(self, q: str, tenant: str = "t1") -> list[tuple[str, str, str]]:
        response = await self.http.get(f"/internal/tenants/{tenant}/search", params={"q": q})
        assert response.status_code == 200, response.text
        return [(h["kind"], h["id"], h["matched"]) for h in response.json()["hits"]]


@pytest.fixture
async def service(infrastructure, unique) -> AsyncIterator[Service]:
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    s = Service(client, f"customer-{unique}")
    await ensure_indexes(s.db)
    await ensure_line_indexes(s.db)
    yield s
    await s.http.aclose()
    await client.drop_database(f"customer-{unique}")
    await client.close()


