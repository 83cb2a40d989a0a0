"""Wires the cases service: settings, runtime, indexes, handlers, its Kafka subscribers and read API."""

from __future__ import annotations

from typing import Any

from services.cases.adapters.articles import ensure_knowledge_indexes
from services.cases.adapters.embeddings import KnowledgeSettings, shared_embedder
from services.cases.adapters.queries import CaseQueries
from services.cases.adapters.retrieval import Retriever
from services.cases.adapters.store import ensure_indexes
from services.cases.adapters.timeline import TimelineQueries, ensure_timeline_indexes
from services.cases.entrypoints import kafka, suggestions
from services.cases.entrypoints.http import read_api
from services.cases.entrypoints.http_knowledge import knowledge_router
from services.cases.entrypoints.http_timeline import timeline_router
from services.cases.handlers import CasesHandlers
from services.cases.settings import CasesSettings
from services.cases.suggestions import Suggester
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
    # K4: articles' indexes, the suggestions consumer (a consumer group of its own), the knowledge read API
    knowledge = KnowledgeSettings()
    runtime.on_startup(lambda: ensure_knowledge_indexes(runtime.db))
    runtime.on_startup(shared_embedder().warm)
    retriever = Retriever(runtime.db, shared_embedder(), candidates=knowledge.candidates)
    suggester = Suggester(runtime.uow, retriever, group=suggestions.group_of(runtime),
                          max_age_s=knowledge.suggestion_max_age_s, producer=settings.service_name)
    suggestions.register(runtime, suggester)
    runtime.serve_http(read_api(CaseQueries(runtime.db), timeline_router(TimelineQueries(runtime.db)),
                                knowledge_router(runtime.db, retriever, suggester.stats)))
    return runtime, handlers
