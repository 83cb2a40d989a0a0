"""OpenTelemetry traces that follow one conversation across the services: the gateway's HTTP request, each
consumed record, and the frame sent on a socket are spans of one trace, linked through the envelope's W3C
`traceparent` (stamped when a unit of work emits, read back by the consumer).

Off unless OTEL_TRACES_FILE (JSON lines, one span per line) or OTEL_EXPORTER_OTLP_ENDPOINT (OTLP over HTTP) is
set; off, every function here returns after reading one module flag, so nothing is done per record."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.logging import conversation_in_path, get_logger

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from shared.contracts.envelope import Envelope
    from shared.settings import ServiceSettings

log = get_logger(__name__)

E = TypeVar("E", bound="Envelope[Any]")
Attributes = Mapping[str, str | int | float | bool | None]

# Read on every record and every emit: everything below is skipped while it is False.
ENABLED = False
_tracer: trace.Tracer = trace.NoOpTracer()
_propagator = TraceContextTextMapPropagator()
_configured = threading.Lock()


# --- switching on ---------------------------------------------------------------------------------

def configure_tracing(settings: ServiceSettings) -> bool:
    """Once per process (the first runtime's settings win): export spans to the file and/or the OTLP endpoint
    the settings name; nothing when neither is set. Returns whether tracing is on."""
    with _configured:
        if ENABLED:
            return True
        exporters: list[SpanExporter] = []
        if settings.otel_traces_file:
            exporters.append(JsonLinesExporter(trace_file_path(settings.otel_traces_file, settings.service_name)))
        if settings.otel_exporter_otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # only when used
            endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
                settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces")
            exporters.append(OTLPSpanExporter(endpoint=endpoint))
        if not exporters:
            return False
        resource = Resource.create({"service.name": settings.service_name,
                                    "service.instance.id": f"{socket.gethostname()}:{os.getpid()}"})
        provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER (default: every trace)
        for exporter in exporters:  # batched, exported by the SDK's thread; flushed at exit
            provider.add_span_processor(BatchSpanProcessor(exporter))
        # Not made the global provider on purpose: FastAPI (0.165) traces by itself once one is set, with a root
        # span of its own per request (not ours: its parent comes from headers only), a span for each whole
        # WebSocket connection, and the query string in attributes (an agent socket's access token).
        enable(provider)
    log.info("tracing on", file=settings.otel_traces_file, otlp=settings.otel_exporter_otlp_endpoint)
    return True


def enable(provider: trace.TracerProvider) -> None:
    """Trace with `provider`'s tracer (configure_tracing; tests hand in one with an in-memory exporter)."""
    global ENABLED, _tracer
    _tracer = provider.get_tracer("omnichannel")
    ENABLED = True


def disable() -> None:
    global ENABLED, _tracer
    ENABLED, _tracer = False, trace.NoOpTracer()


def trace_file_path(template: str, service: str) -> str:
    """OTEL_TRACES_FILE with `{service}` and `{pid}` filled in: one file per process when several share a
    setting (every service of `./dev run`, a second instance)."""
    return template.replace("{service}", service).replace("{pid}", str(os.getpid()))


# --- the context in envelopes ---------------------------------------------------------------------

def current_traceparent() -> str | None:
    """The current span as a W3C traceparent (None outside a span, or with tracing off)."""
    if not ENABLED:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def stamped(env: E) -> E:
    """`env` carrying the current span as its traceparent (the unit of work calls it as a handler emits, so the
    outbox row and the record the relay publishes carry it); unchanged if it has one, or outside a span."""
    if not ENABLED or env.traceparent is not None:
        return env
    traceparent = current_traceparent()
    return env if traceparent is None else env.model_copy(update={"traceparent": traceparent})


def _parent(traceparent: str | None) -> Context:
    """The remote parent a traceparent names, or an empty context (the span starts a trace of its own)."""
    return _propagator.extract({"traceparent": traceparent}) if traceparent else Context()


# --- spans ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def consuming_span(env: Envelope[Any], *, topic: str | None, group: str,
                   quiet: tuple[type[BaseException], ...] = (), name: str | None = None) -> Iterator[None]:
    """The CONSUMER span of one envelope's handling (`process <type>` unless `name` is given), a child of the
    span that emitted it. An exception in `quiet` (a repeat dropped) is not an error of the span."""
    if not ENABLED:
        yield
        return
    attributes = {"messaging.system": "kafka", "messaging.operation.type": "process",
                  "messaging.destination.name": topic, "messaging.consumer.group.name": group,
                  "messaging.message.id": env.event_id, "message.type": env.type, "message.producer": env.producer,
                  "tenant_id": env.tenant_id, "conversation_id": getattr(env.payload, "conversation_id", None)}
    with _tracer.start_as_current_span(name or f"process {env.type}", context=_parent(env.traceparent),
                                       kind=SpanKind.CONSUMER, attributes=_present(attributes),
                                       record_exception=False, set_status_on_exception=False) as span:
        try:
            yield
        except quiet as exc:
            span.set_attribute("outcome", type(exc).__name__)
            raise
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, repr(exc)[:200]))
            raise


@contextlib.contextmanager
def span_under(traceparent: str | None, name: str, *, kind: SpanKind = SpanKind.INTERNAL,
               attributes: Attributes | None = None) -> Iterator[None]:
    """A span that is a child of `traceparent` (what a stored frame carries); none without one."""
    if not ENABLED or traceparent is None:
        yield
        return
    with _tracer.start_as_current_span(name, context=_parent(traceparent), kind=kind,
                                       attributes=_present(attributes or {})):
        yield


def annotate(**attributes: str | int | float | bool | None) -> None:
    """Set attributes on the current span (e.g. the conversation a request turned out to be about)."""
    if not ENABLED:
        return
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(_present(attributes))


def server_spans(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a SERVER span around each HTTP request (`GET /v1/...` by route template), the root of
    what the request causes, or a child of a W3C `traceparent` header the client sent. WebSockets get no span
    of their own (they live for hours); each frame sent on one gets a span (services/gateway/live.py)."""
    async def traced(scope: Scope, receive: Receive, send: Send) -> None:
        if not ENABLED or scope["type"] != "http":
            await app(scope, receive, send)
            return
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        method = scope["method"]
        header = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"traceparent"), None)
        attributes = {"http.request.method": method, "url.path": scope.get("path", ""),
                      "conversation_id": conversation_in_path(scope)}
        with _tracer.start_as_current_span(method, context=_parent(header), kind=SpanKind.SERVER,
                                           attributes=_present(attributes)) as span:
            try:
                await app(scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status[0])
                if status[0] >= 500:
                    span.set_status(Status(StatusCode.ERROR))
    return traced


def _present(attributes: Attributes) -> dict[str, str | int | float | bool]:
    return {k: v for k, v in attributes.items() if v is not None}


# --- the file exporter ----------------------------------------------------------------------------

class JsonLinesExporter(SpanExporter):
    """Spans appended to a file as JSON, one per line, for operators without a collector and for tests:
    {"trace_id", "span_id", "parent_span_id" (null for a root), "name", "kind", "service", "start",
    "duration_ms", "status", "attributes", "events"}; ids in lowercase hex as in a traceparent."""

    def __init__(self, path: str, *, serialize: Callable[[ReadableSpan], dict[str, Any]] | None = None) -> None:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by shutdown)
        self._lock = threading.Lock()
        self._serialize = serialize or span_record

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(self._serialize(s), separators=(",", ":"), default=str) + "\n" for s in spans)
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            self._file.write(lines)
            self._file.flush()
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """One line of the trace file."""
    context, parent = span.context, span.parent
    start, end = span.start_time or 0, span.end_time or span.start_time or 0
    return {
        "trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}",
        "parent_span_id": f"{parent.span_id:016x}" if parent is not None else None,
        "name": span.name, "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "start": datetime.fromtimestamp(start / 1e9, UTC).isoformat(),
        "duration_ms": round((end - start) / 1e6, 3),
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
    }
