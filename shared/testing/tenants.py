"""pytest plugin (tests/conftest.py loads it): one whole system per test run, shared by tests/e2e and
tests/browser, and a fresh tenant per test, set up through the gateway's admin API."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.system import Api, Stream, System, ws_url

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def system() -> Iterator[System]:
    with tempfile.TemporaryDirectory(prefix="e2e-") as tmp:
        running = System(Path(tmp))
        running.start()
        try:
            yield running
        finally:
            running.stop()


class Tenant:
    """A tenant with an admin, agents and queues, and the clients its people use."""

    def __init__(self, system: System, tenant_id: str) -> None:
        self.system = system
        self.id = tenant_id
        self.admin = Api(system.gateway_url)
        self._closing: list[Any] = [self.admin]

    async def sign_in(self, user: str, password: str = PASSWORD) -> Api:
        api = Api(self.system.gateway_url)
        self._closing.append(api)
        response = await api.post("/v1/auth/sign-in", {"tenant_id": self.id, "username": user, "password": password})
        assert response.status_code == 200, response.text
        api.token = response.json()["access_token"]
        api.refresh_token = response.json()["refresh_token"]  # type: ignore[attr-defined]
        return api

    async def agent(self, user: str, *, capacity: int = 2, role: str = "agent", **extra: Any) -> Api:
        created = await self.admin.post("/v1/admin/staff", {"user_id": user, "password": PASSWORD, "role": role,
                                                            "capacity": {"chat": capacity}, **extra})
        assert created.status_code == 200, created.text
        return await self.sign_in(user)

    async def queue(self, queue_id: str, members: list[str], **settings: Any) -> None:
        body = {"name": queue_id, "members": dict.fromkeys(members, 1), "offer_timeout_s": 30, **settings}
        response = await self.admin.put(f"/v1/admin/queues/{queue_id}", body)
        assert response.status_code == 200, response.text

    async def stream(self, api: Api, after: int = -1) -> Stream:
        stream = await Stream(ws_url(self.system.gateway_url, "/v1/agent/stream", access_token=api.token,
                                     after=after)).open()
        self._closing.append(stream)
        return stream

    async def customer(self, queue_id: str, message: str | None = "Hello, I need help", **body: Any
                       ) -> tuple[Api, dict[str, Any]]:
        api = Api(self.system.gateway_url)
        self._closing.append(api)
        response = await api.post(f"/v1/widget/{self.id}/conversations",
                                  {"queue_id": queue_id, "message": message, **body})
        assert response.status_code == 200, response.text
        started = response.json()
        api.token = started["conversation_token"]
        return api, started

    async def customer_stream(self, started: dict[str, Any], after: int = -1) -> Stream:
        stream = await Stream(ws_url(self.system.gateway_url, "/v1/widget/stream",
                                     token=started["conversation_token"], after=after)).open()
        self._closing.append(stream)
        return stream

    async def close(self) -> None:
        for thing in reversed(self._closing):
            await thing.close()


@pytest.fixture
async def tenant(system: System) -> AsyncIterator[Tenant]:
    tenant_id = f"t-{uuid.uuid4().hex[:10]}"
    settings = GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192)
    assert await create_tenant(settings, tenant_id, "admin", PASSWORD)
    t = Tenant(system, tenant_id)
    signed = await t.admin.post("/v1/auth/sign-in", {"tenant_id": tenant_id, "username": "admin",
                                                     "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    t.admin.token = signed.json()["access_token"]
    yield t
    await t.close()
