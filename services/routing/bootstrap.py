"""Wires the routing service: settings, runtime, repository indexes, handlers, Kafka and timer entrypoints."""

from services.routing.adapters.deadlines import RoutingDeadlines
from services.routing.adapters.repository import ensure_indexes
from services.routing.entrypoints import kafka, timers
from services.routing.handlers import RoutingHandlers
from services.routing.settings import RoutingSettings
from shared.runtime import ServiceRuntime


def bootstrap(settings: RoutingSettings | None = None) -> ServiceRuntime:
    return build(settings)[0]


def build(settings: RoutingSettings | None = None) -> tuple[ServiceRuntime, RoutingHandlers]:
    """The runtime and, for tests and benchmarks, the handlers it drives."""
    settings = settings or RoutingSettings()
    runtime = ServiceRuntime(settings, title="routing service",
                             description="Queues, presence, capacity, offers, RONA, transfer and conference (R1-R11).")
    handlers = RoutingHandlers(runtime.uow, RoutingDeadlines(runtime.db), producer=settings.service_name)
    runtime.on_startup(lambda: ensure_indexes(runtime.db, keep_ended_days=settings.keep_ended_days))
    kafka.register(runtime, handlers)
    runtime.add_loop(lambda: timers.run_timers(handlers, interval_s=settings.timer_interval_s,
                                               sweep_interval_s=settings.sweep_interval_s))
    return runtime, handlers
