"""Every service's HTTP server keeps an idle keep-alive connection open longer than its HTTP clients keep theirs, so
the client is always the side that drops an idle connection. With uvicorn's default (5 s, the same as httpx's
keep-alive expiry, which the gateway's read clients and the tests' clients use) the server closed connections that
clients were just reusing: under load a request was lost as "Server disconnected without sending a response"
(tests/e2e/test_instances.py, a widget polling its answer_url after a 504)."""

from __future__ import annotations

import signal
from typing import Any

import httpx
import pytest

from shared import runtime as runtime_module
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from shared.testing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit


def served_config(monkeypatch: pytest.MonkeyPatch, settings: ServiceSettings) -> Any:
    """The uvicorn config ServiceRuntime.run() serves with (nothing is served)."""
    served: list[Any] = []

    class Server:
        def __init__(self, config: Any) -> None:
            served.append(config)

        def run(self) -> None:
            pass

    monkeypatch.setattr(runtime_module.uvicorn, "Server", Server)
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    ServiceRuntime(settings, title="svc", uow=FakeUnitOfWork()).run()
    (config,) = served
    return config


def test_idle_connections_outlive_the_http_clients_ones(monkeypatch):
    config = served_config(monkeypatch, ServiceSettings())
    assert config.timeout_keep_alive == 75
    assert config.timeout_keep_alive > httpx.Limits().keepalive_expiry == 5


def test_the_keep_alive_is_a_setting(monkeypatch):
    monkeypatch.setenv("HTTP_KEEP_ALIVE_S", "120")
    assert served_config(monkeypatch, ServiceSettings()).timeout_keep_alive == 120
