"""A service's shutdown never waits forever on the broker's stop (aiokafka's consumer can sit in a group rejoin
right after a broker outage; CI once saw routing miss the 30 s after SIGTERM and get killed)."""

from __future__ import annotations

import asyncio
import time

from shared import runtime as runtime_module
from shared.runtime import ServiceRuntime, stop_broker_bounded
from shared.settings import ServiceSettings
from shared.testing.fakes import FakeUnitOfWork


class HangingBroker:
    def __init__(self) -> None:
        self.cancelled = False

    async def stop(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


class QuickBroker:
    stopped = False

    async def stop(self) -> None:
        self.stopped = True


async def test_a_hanging_stop_is_given_up_after_the_bound():
    broker = HangingBroker()
    started = time.monotonic()
    assert await stop_broker_bounded(broker, timeout_s=0.2) is False
    assert broker.cancelled
    assert time.monotonic() - started < 5


async def test_a_stop_that_finishes_is_reported():
    broker = QuickBroker()
    assert await stop_broker_bounded(broker, timeout_s=5) is True
    assert broker.stopped


async def test_the_served_app_stops_with_its_hooks_though_the_broker_hangs(monkeypatch):
    monkeypatch.setattr(runtime_module, "BROKER_STOP_S", 0.2)
    runtime = ServiceRuntime(ServiceSettings(service_name="bounded-stop"), title="t", uow=FakeUnitOfWork())
    hooks: list[str] = []

    async def on_stop() -> None:
        hooks.append("stopped")

    async def after() -> None:
        hooks.append("closed")

    app = runtime.asgi_app()
    app._on_shutdown_calling = [on_stop]
    app._after_shutdown_calling = [after]
    hanging = HangingBroker()
    monkeypatch.setattr(runtime.broker, "stop", hanging.stop)
    await asyncio.wait_for(app.stop(), 5)
    assert hanging.cancelled
    assert hooks == ["stopped", "closed"]
