"""Wires the customer service: settings, runtime, indexes, handlers, its Kafka subscribers and read API."""

from __future__ import annotations

from typing import Any

from services.customer.adapters.erasure import ensure_erasure_indexes
from services.customer.adapters.export_queries import ExportQueries
from services.customer.adapters.line_queries import LineQueries
from services.customer.adapters.lines import ensure_line_indexes
from services.customer.adapters.queries import CustomerQueries
from services.customer.adapters.store import ensure_indexes
from services.customer.entrypoints import kafka
from services.customer.entrypoints.http import read_api
from services.customer.entrypoints.http_export import export_api
from services.customer.handlers import CustomerHandlers
from services.customer.settings import CustomerSettings
from shared.runtime import ServiceRuntime


def bootstrap(settings: CustomerSettings | None = None) -> ServiceRuntime:
    return build(settings)[0]


def build(settings: CustomerSettings | None = None, *, uow: Any = None,
          **handler_options: Any) -> tuple[ServiceRuntime, CustomerHandlers]:
    """The runtime and, for tests, the handlers it drives (a FakeUnitOfWork and a clock may be handed in)."""
    settings = settings or CustomerSettings()
    runtime = ServiceRuntime(settings, title="customer service", uow=uow,
                             description="Contacts and accounts (U1), search (U2), the users of support lines (U3).")
    handlers = CustomerHandlers(runtime.uow, producer=settings.service_name, **handler_options)
    runtime.on_startup(lambda: ensure_indexes(runtime.db))
    runtime.on_startup(lambda: ensure_line_indexes(runtime.db))
    kafka.register(runtime, handlers)
    runtime.on_startup(lambda: ensure_erasure_indexes(runtime.db))
    app = read_api(CustomerQueries(runtime.db), LineQueries(runtime.db))
    app.include_router(export_api(ExportQueries(runtime.db)))  # privacy: a contact's export
    runtime.serve_http(app)
    return runtime, handlers
