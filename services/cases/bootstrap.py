"""Wires the cases service: settings, runtime, indexes, handlers, its Kafka subscribers and read API."""

from __future__ import annotations

from typing import Any

from services.cases.adapters.queries import CaseQueries
from services.cases.adapters.store import ensure_indexes
from services.cases.adapters.timeline import TimelineQueries, ensure_timeline_indexes
from services.cases.entrypoints import kafka
from services.cases.entrypoints.http import read_api
from services.cases.entrypoints.http_timeline import timeline_router
from services.cases.handlers import CasesHandlers
from services.cases.settings import CasesSettings
from shared.runtime import ServiceRuntime


def bootstrap(settings: CasesSettings | None = None) -> ServiceRuntime:
    return build(settings)[0]


def build(settings: CasesSettings | None = None, *, uow: Any = None,
          **handler_options: Any) -> tuple[ServiceRuntime, CasesHandlers]:
    """The runtime and, for tests, the handlers it drives (a FakeUnitOfWork and a clock may be handed in)."""
    settings = settings or CasesSettings()
    runtime = ServiceRuntime(settings, title="cases service", uow=uow,
                             description="Cases (K1), timelines (K2), service requests (K3), knowledge (K4).")
    handlers = CasesHandlers(runtime.uow, producer=settings.service_name, **handler_options)
    runtime.on_startup(lambda: ensure_indexes(runtime.db))
    runtime.on_startup(lambda: ensure_timeline_indexes(runtime.db))
    kafka.register(runtime, handlers)
    runtime.serve_http(read_api(CaseQueries(runtime.db), timeline_router(TimelineQueries(runtime.db))))
    return runtime, handlers
