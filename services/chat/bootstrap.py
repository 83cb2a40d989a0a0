"""Wires the chat service: settings, runtime, repository indexes, handlers, Kafka subscribers and the
internal read API."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.chat.adapters.after_chat import ensure_after_chat_indexes
from services.chat.adapters.blobs import BlobStore
from services.chat.adapters.erasure import ensure_erasure_indexes
from services.chat.adapters.masking import MaskingQueries, MongoMaskingQueries, ensure_masking_indexes
from services.chat.adapters.queries import ChatQueries, MongoChatQueries
from services.chat.adapters.repositories import ensure_indexes, mongo_repositories
from services.chat.adapters.sentiment_model import SentimentProcess
from services.chat.context import ChatRepositories
from services.chat.entrypoints import kafka
from services.chat.entrypoints.attachments import attachments_api, sweep_unattached
from services.chat.entrypoints.http import read_api
from services.chat.entrypoints.http_export import FileRecords, export_api
from services.chat.entrypoints.http_masking import masking_api
from services.chat.handlers import ChatHandlers
from services.chat import erasure_cases  # noqa: F401  (registers customer.ContactErased: privacy)
from services.chat.redaction import mask_log_line, mask_stdlib_logging, redact
from services.chat.sentiment_cases import Score, SentimentHandlers
from services.chat.settings import ChatSettings
from shared.runtime import ServiceRuntime

if TYPE_CHECKING:
    from shared.testing.fakes import FakeUnitOfWork


def bootstrap(settings: ChatSettings | None = None) -> ServiceRuntime:
    return build(settings)[0]


def build(settings: ChatSettings | None = None, *, uow: FakeUnitOfWork | None = None,
          repositories: Callable[[Any, str], ChatRepositories] = mongo_repositories,
          queries: ChatQueries | None = None, masking_queries: MaskingQueries | None = None,
          sentiment_score: Score | None = None, **handler_options: Any) -> tuple[ServiceRuntime, ChatHandlers]:
    """The runtime and, for tests, the handlers it drives. Unit tests hand in in-memory fakes (a unit of
    work, repositories, queries; a clock and ids through handler_options) and drive the subscribers
    through FastStream's TestKafkaBroker."""
    settings = settings or ChatSettings()
    # C4: dead letters and every log line masked with every kind on (redaction.py)
    runtime = ServiceRuntime(settings, title="chat service", uow=uow, redact=redact, log_processors=[mask_log_line],
                             description="Conversations and messages: lifecycle, messages, read positions, "
                                         "wrap-up, persistent and proactive chat (C1-C3, C7, C8).")
    handlers = ChatHandlers(runtime.uow, repositories=repositories, producer=settings.service_name,
                            **handler_options)
    runtime.on_startup(lambda: ensure_indexes(runtime.db))
    runtime.on_startup(lambda: ensure_masking_indexes(runtime.db))
    mask_stdlib_logging()
    runtime.on_startup(lambda: ensure_after_chat_indexes(runtime.db))
    sentiment = None
    if settings.sentiment:  # C5: the model loads in the background at start (chat's other consumers do not wait)
        if sentiment_score is None:
            model = SentimentProcess(threads=settings.sentiment_threads)
            runtime.add_loop(model.warm)
            sentiment_score = model.score
        sentiment = SentimentHandlers(runtime.uow, sentiment_score, repositories=repositories,
                                      window=settings.sentiment_window, producer=settings.service_name)
    kafka.register(runtime, handlers, sentiment)
    queries = queries or MongoChatQueries(runtime.db)
    blobs = BlobStore(runtime.db)  # attachments: bytes over HTTP, never Kafka (entrypoints/attachments.py)
    runtime.on_startup(blobs.ensure_indexes)
    runtime.add_loop(lambda: sweep_unattached(blobs, keep_s=settings.attachment_keep_s,
                                              every_s=settings.attachment_sweep_every_s))
    app = read_api(queries)
    app.include_router(attachments_api(blobs, queries, keep_s=settings.attachment_keep_s))
    masking_queries = masking_queries or MongoMaskingQueries(runtime.db)
    app.include_router(masking_api(queries, masking_queries))
    app.include_router(export_api(queries, masking_queries, FileRecords(runtime.db)))  # privacy: a customer's export
    runtime.on_startup(lambda: ensure_erasure_indexes(runtime.db))
    runtime.serve_http(app)
    return runtime, handlers
