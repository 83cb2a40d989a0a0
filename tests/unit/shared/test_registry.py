"""shared/registry.py is the one list of services: settings and the local stack agree with it."""

import importlib
import re
from pathlib import Path

import pytest

from shared.localstack.__main__ import SERVICES as LOCAL_STACK
from shared.registry import SERVICES, service
from shared.settings import ServiceSettings

pytestmark = pytest.mark.unit

SERVICES_DIR = Path(__file__).resolve().parents[3] / "services"


def settings_class(name: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{name}.settings")
    [cls] = [c for c in vars(module).values()
             if isinstance(c, type) and issubclass(c, ServiceSettings) and c.__module__ == module.__name__]
    return cls


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch):
    for var in ("SERVICE_NAME", "HTTP_PORT", "MONGO_DB"):
        monkeypatch.delenv(var, raising=False)


def test_names_ports_and_databases_are_unique():
    for field in ("name", "http_port", "mongo_db"):
        values = [getattr(s, field) for s in SERVICES]
        assert len(set(values)) == len(values), f"two services share a {field}: {values}"


def test_every_service_package_is_registered_and_every_entry_has_a_package():
    packages = {main.parent.name for main in SERVICES_DIR.glob("*/__main__.py")}
    assert packages == {s.name for s in SERVICES}


def test_names_are_valid_kubernetes_and_compose_names():
    for s in SERVICES:
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", s.name), s.name


def test_lookup_by_name():
    assert service("routing").replicas == 2
    with pytest.raises(KeyError):
        service("billing")


@pytest.mark.parametrize("entry", SERVICES, ids=lambda s: s.name)
def test_settings_default_to_the_registry(entry):
    settings = settings_class(entry.name)()
    assert (settings.service_name, settings.http_port, settings.database_name) == (
        entry.name, entry.http_port, entry.mongo_db)


def test_the_environment_still_overrides_the_defaults(monkeypatch):
    monkeypatch.setenv("HTTP_PORT", "9123")
    monkeypatch.setenv("MONGO_DB", "elsewhere")
    settings = settings_class("chat")()
    assert (settings.http_port, settings.database_name) == (9123, "elsewhere")


def test_the_local_stack_runs_every_registered_service_on_its_port_public_ones_last():
    assert LOCAL_STACK == {s.name: s.http_port for s in SERVICES}
    behind, public = [s.name for s in SERVICES if not s.public], [s.name for s in SERVICES if s.public]
    assert list(LOCAL_STACK) == behind + public == ["routing", "chat", "customer", "cases", "gateway"]
