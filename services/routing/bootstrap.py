"""Wires the routing service: settings, runtime, repository indexes, handlers, Kafka and timer entrypoints, and
the internal read API."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from services.routing.adapters.deadlines import RoutingDeadlines
from services.routing.adapters.queries import MongoRoutingQueries, RoutingQueries
from services.routing.adapters.repository import RoutingRepository, ensure_indexes
from services.routing.adapters.state_cache import StateCache
from services.routing.entrypoints import kafka, timers
from services.routing.entrypoints.http import read_api
from services.routing.handlers import RoutingHandlers
from services.routing.settings import RoutingSettings
from shared.runtime import ServiceRuntime

if TYPE_CHECKING:
    from shared.testing.fakes import FakeUnitOfWork


def bootstrap(settings: RoutingSettings | None = None) -> ServiceRuntime:
    return build(settings)[0]


def build(settings: RoutingSettings | None = None, *, uow: FakeUnitOfWork | None = None,
          deadlines: Any = None, repositories: Any = None,
          queries: RoutingQueries | None = None) -> tuple[ServiceRuntime, RoutingHandlers]:
    """The runtime and, for tests and benchmarks, the handlers it drives. Unit tests hand in in-memory fakes
    (a unit of work, deadlines, repositories, queries) and drive the subscribers through FastStream's
    TestKafkaBroker."""
    settings = settings or RoutingSettings()
    runtime = ServiceRuntime(settings, title="routing service", uow=uow,
                             description="Queues, presence, capacity, offers, RONA, transfer and conference (R1-R11).")
    if repositories is None:  # MongoDB's, with the process's cache of the state it committed last
        cache = StateCache(max_bytes=settings.state_cache_max_bytes)
        repositories = partial(RoutingRepository, cache=cache)
        runtime.metrics.counter("routing_state_cache_hits", "Claims (transaction attempts) that found this "
                                "process's copy of their tenant's queues and agents current: not read again.",
                                lambda: cache.hits)
        runtime.metrics.counter("routing_state_cache_misses", "Claims that found the copy out of date (another "
                                "transaction committed since this process last did): read from MongoDB.",
                                lambda: cache.misses)
        runtime.metrics.gauge("routing_state_cache_bytes", "Estimated size of the copies kept (at most "
                              "STATE_CACHE_MAX_BYTES).", lambda: cache.size)
    handlers = RoutingHandlers(runtime.uow, deadlines or RoutingDeadlines(runtime.db), repositories=repositories,
                               producer=settings.service_name)
    runtime.on_startup(lambda: ensure_indexes(runtime.db, keep_ended_days=settings.keep_ended_days))
    kafka.register(runtime, handlers)
    runtime.add_loop(lambda: timers.run_timers(handlers, interval_s=settings.timer_interval_s,
                                               sweep_interval_s=settings.sweep_interval_s))
    runtime.serve_http(read_api(queries or MongoRoutingQueries(runtime.db)))
    return runtime, handlers
