"""Trace context in the envelope (shared/tracing.py): the field's round trip, and a trace carried from a span
through the outbox into the next consumer's span, one record at a time and in a group commit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.consumer import MessageDispatcher, Outcome, Record
from shared.contracts.envelope import Envelope, Event, decode, encode, wrap
from shared.mongo import Transaction, outbox_row
from shared.testing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.unit

TOPIC, OUT = "test.unit.tracing.in", "test.unit.tracing.out"
INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"  # a span of the producing service


class MessageWritten(Event):
    TYPE: ClassVar[str] = "test.unit.tracing.MessageWritten"
    conversation_id: str
    text: str


class MessageNoted(Event):
    TYPE: ClassVar[str] = "test.unit.tracing.MessageNoted"
    conversation_id: str


def written(cid: str = "c-1", traceparent: str | None = INCOMING) -> Envelope[MessageWritten]:
    return wrap(MessageWritten(conversation_id=cid, text="hi"), tenant_id="acme", key=cid, producer="chat",
                traceparent=traceparent)


def record(env: Envelope[Any], offset: int = 7) -> Record:
    return Record(TOPIC, 0, offset, env.key.encode(), encode(env))


def parts(traceparent: str) -> tuple[str, str]:
    """(trace id, span id) of a traceparent."""
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    try:
        yield exporter
    finally:
        tracing.disable()


def noting(uow: FakeUnitOfWork) -> Any:
    """A handler that notes each message it handles with an event of its own, through the outbox."""
    async def handle(env: Envelope[MessageWritten]) -> None:
        async def work(tx: Any) -> None:
            tx.emit(OUT, wrap(MessageNoted(conversation_id=env.payload.conversation_id), tenant_id=env.tenant_id,
                              key=env.key, producer="gateway"))
        await uow.run(work)
    return handle


def dispatcher(uow: FakeUnitOfWork, *, group_commit: bool = False, letters: list | None = None,
               handler: Any = None) -> MessageDispatcher:
    async def sink(env: Envelope[Any]) -> None:
        (letters if letters is not None else []).append(env)
    return MessageDispatcher(group="gateway", handlers={MessageWritten: handler or noting(uow)}, dead_letter=sink,
                             max_attempts=1, retry_base_s=0, topic=TOPIC, group_commit=uow if group_commit else None)


# --- the envelope field ---------------------------------------------------------------------------

def test_the_traceparent_survives_encoding_and_decoding():
    assert decode(encode(written())).traceparent == INCOMING


def test_a_record_from_before_the_field_reads_without_one():
    old = json.loads(encode(written()))
    del old["traceparent"]
    assert decode(json.dumps(old)).traceparent is None


@pytest.mark.parametrize("bad", ["garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
                                 "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",
                                 "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                 INCOMING.upper(), 42])
def test_a_malformed_traceparent_reads_as_none_and_the_message_stays_valid(bad):
    raw = json.loads(encode(written()))
    raw["traceparent"] = bad
    env = decode(json.dumps(raw))
    assert env.traceparent is None and env.payload.text == "hi"


def test_the_field_is_described_in_the_schema():
    field = Envelope[MessageWritten].model_json_schema()["properties"]["traceparent"]
    assert "W3C" in field["description"] and field["examples"] == [INCOMING]


# --- off ------------------------------------------------------------------------------------------

async def test_with_tracing_off_nothing_is_stamped():
    uow = FakeUnitOfWork()
    assert await dispatcher(uow).dispatch(record(written())) == Outcome.HANDLED
    (noted,) = uow.emitted(OUT)
    assert noted.traceparent is None and not tracing.ENABLED


# --- through the outbox ---------------------------------------------------------------------------

async def test_the_consumer_span_is_a_child_of_the_incoming_context_and_what_it_emits_carries_its_own(spans):
    uow = FakeUnitOfWork()
    assert await dispatcher(uow).dispatch(record(written("c-42"))) == Outcome.HANDLED
    (span,) = spans.get_finished_spans()
    trace_id, parent_id = parts(INCOMING)
    assert span.kind == SpanKind.CONSUMER and span.name == f"process {MessageWritten.TYPE}"
    assert f"{span.context.trace_id:032x}" == trace_id and f"{span.parent.span_id:016x}" == parent_id
    assert span.parent.is_remote
    assert span.attributes["conversation_id"] == "c-42" and span.attributes["messaging.destination.name"] == TOPIC
    assert span.attributes["messaging.consumer.group.name"] == "gateway"
    (noted,) = uow.emitted(OUT)
    assert parts(noted.traceparent) == (trace_id, f"{span.context.span_id:016x}")


async def test_a_prepared_handlers_slow_part_has_a_span_of_its_own_in_the_messages_trace(spans):
    """A Prepared handler's `prepare` (chat's sentiment model) runs before its unit of work, outside the consumer
    span of handling the message: it gets a span of its own, a child of the incoming context, with the model's
    time in it."""
    from shared.consumer import Prepared
    uow = FakeUnitOfWork()
    handle = noting(uow)

    async def prepare(env: Envelope[MessageWritten]) -> str:
        tracing.annotate(model="scored")  # the slow part's own attributes land on its span
        return env.payload.text

    async def handled(env: Envelope[MessageWritten], text: str) -> None:
        await handle(env)
    d = dispatcher(uow, handler=Prepared(prepare, handled))
    assert await d.dispatch(record(written("c-7"))) == Outcome.HANDLED
    by_name = {span.name: span for span in spans.get_finished_spans()}
    assert set(by_name) == {f"prepare {MessageWritten.TYPE}", f"process {MessageWritten.TYPE}"}
    prepared = by_name[f"prepare {MessageWritten.TYPE}"]
    trace_id, parent_id = parts(INCOMING)
    assert f"{prepared.context.trace_id:032x}" == trace_id and f"{prepared.parent.span_id:016x}" == parent_id
    assert prepared.kind == SpanKind.CONSUMER and prepared.attributes["model"] == "scored"
    assert prepared.attributes["conversation_id"] == "c-7"
    assert prepared.end_time <= by_name[f"process {MessageWritten.TYPE}"].start_time


async def test_a_message_without_a_context_starts_a_trace_of_its_own(spans):
    uow = FakeUnitOfWork()
    await dispatcher(uow).dispatch(record(written(traceparent=None)))
    (span,) = spans.get_finished_spans()
    assert span.parent is None
    assert parts(uow.emitted(OUT)[0].traceparent) == (f"{span.context.trace_id:032x}",
                                                      f"{span.context.span_id:016x}")


async def test_each_message_of_a_group_commit_keeps_its_own_trace(spans):
    uow = FakeUnitOfWork()
    first = written("c-1")
    second = written("c-2", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    outcomes = await dispatcher(uow, group_commit=True).dispatch_batch([record(first, 1), record(second, 2)])
    assert outcomes == [Outcome.HANDLED, Outcome.HANDLED] and uow.stats["grouped"] == 2
    by_conversation = {s.attributes["conversation_id"]: s for s in spans.get_finished_spans()}
    for env in (first, second):
        (noted,) = [n for n in uow.emitted(OUT) if n.payload.conversation_id == env.payload.conversation_id]
        span = by_conversation[env.payload.conversation_id]
        assert parts(noted.traceparent) == (parts(env.traceparent)[0], f"{span.context.span_id:016x}")


async def test_the_outbox_row_the_relay_publishes_carries_the_context(spans):
    """MongoUnitOfWork's transaction stamps as it emits; its outbox row's value is what the relay publishes."""
    with tracing.consuming_span(written(), topic=TOPIC, group="chat"):
        tx = Transaction(session=None, db=None)  # type: ignore[arg-type]  # emit touches neither
        tx.emit(OUT, wrap(MessageNoted(conversation_id="c-1"), tenant_id="acme", key="c-1", producer="chat"))
        expected = tracing.current_traceparent()
    (topic, env), = tx.pending
    published = decode(outbox_row(topic, env)["value"])
    assert expected is not None and published.traceparent == expected
    assert parts(expected)[0] == parts(INCOMING)[0]


async def test_a_context_set_by_the_producer_is_kept(spans):
    with tracing.consuming_span(written(), topic=TOPIC, group="chat"):
        env = tracing.stamped(written(traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
    assert env.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_repeat_is_not_an_error_and_a_failure_is(spans):
    uow = FakeUnitOfWork()
    d = dispatcher(uow)
    again = written()
    assert await d.dispatch(record(again)) == Outcome.HANDLED
    assert await d.dispatch(record(again)) == Outcome.DUPLICATE
    assert [s.status.status_code.name for s in spans.get_finished_spans()] == ["UNSET", "UNSET"]
    assert spans.get_finished_spans()[1].attributes["outcome"] == "AlreadyProcessed"

    async def failing(env: Envelope[Any]) -> None:
        raise RuntimeError("boom")
    letters: list[Envelope[Any]] = []
    spans.clear()
    assert await dispatcher(uow, handler=failing, letters=letters).dispatch(record(written())) \
        == Outcome.DEAD_LETTERED
    (span,) = spans.get_finished_spans()
    assert span.status.status_code.name == "ERROR" and span.events[0].name == "exception"
    (letter,) = letters
    assert letter.traceparent == INCOMING  # the dead letter is in the message's trace


# --- the HTTP entry -------------------------------------------------------------------------------

async def test_a_request_is_a_server_span_and_the_commands_it_emits_are_its_children(spans):
    uow = FakeUnitOfWork()
    app = FastAPI()

    @app.post("/v1/conversations/{conversation_id}/messages")
    async def post(conversation_id: str) -> dict:
        async def work(tx: Any) -> None:
            tx.emit(OUT, wrap(MessageNoted(conversation_id=conversation_id), tenant_id="acme", key=conversation_id,
                              producer="gateway"))
        await uow.run(work, message_id=None)
        return {}

    transport = httpx.ASGITransport(app=tracing.server_spans(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        assert (await http.post("/v1/conversations/c-7/messages")).status_code == 200
        assert (await http.post("/v1/conversations/c-8/messages", headers={"traceparent": INCOMING})).status_code \
            == 200
    root, joined = spans.get_finished_spans()
    assert root.kind == SpanKind.SERVER and root.parent is None
    assert root.name == "POST /v1/conversations/{conversation_id}/messages"
    assert root.attributes["conversation_id"] == "c-7" and root.attributes["http.response.status_code"] == 200
    assert f"{joined.parent.span_id:016x}" == parts(INCOMING)[1]  # a caller's context is joined
    first = uow.emitted(OUT)[0]
    assert parts(first.traceparent) == (f"{root.context.trace_id:032x}", f"{root.context.span_id:016x}")


# --- the file ------------------------------------------------------------------------------------

def test_the_file_exporter_writes_one_span_per_line_with_its_parent(tmp_path):
    path = tmp_path / "traces" / "{service}-{pid}.jsonl"
    provider = TracerProvider()
    exporter = tracing.JsonLinesExporter(tracing.trace_file_path(str(path), "chat"))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("outer", kind=SpanKind.SERVER), \
            tracer.start_as_current_span("inner", attributes={"conversation_id": "c-1"}):
        pass
    provider.shutdown()
    (written_file,) = (tmp_path / "traces").iterdir()
    assert written_file.name.startswith("chat-")
    inner, outer = [json.loads(line) for line in written_file.read_text().splitlines()]
    assert outer["parent_span_id"] is None and outer["kind"] == "SERVER"
    assert inner["parent_span_id"] == outer["span_id"] and inner["trace_id"] == outer["trace_id"]
    assert inner["attributes"] == {"conversation_id": "c-1"} and len(inner["span_id"]) == 16
