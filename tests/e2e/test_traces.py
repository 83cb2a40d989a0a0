"""One trace follows a conversation across the processes: a customer's message from the widget's POST through
the gateway, Kafka and chat, back to the gateway and onto the agent's socket (shared/tracing.py). Every
process of the test system writes its spans to a file of its own (shared/testing/system.py); this reads them
all."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.testing.system import System
from tests.e2e.helpers import accept, available, message, offer_for

pytestmark = pytest.mark.e2e

Span = dict[str, Any]
WIDGET_START = "POST /v1/widget/{tenant_id}/conversations"
WIDGET_MESSAGE = "POST /v1/widget/conversations/{conversation_id}/messages"


def ancestry(span: Span, by_id: dict[str, Span]) -> list[Span] | None:
    """`span` and its parents up to the root, or None while a parent is missing from the collected spans."""
    path = [span]
    while path[-1]["parent_span_id"] is not None:
        parent = by_id.get(path[-1]["parent_span_id"])
        if parent is None:
            return None
        path.append(parent)
    return path


def connected(spans: list[Span], request: str, cid: str, frame: dict[str, Any], recipient: str
              ) -> dict[str, Any] | None:
    """The trace of the gateway's HTTP `request` about `cid`, complete: the span that sent `frame` on
    `recipient`'s socket descends from the request's span, and every span of the trace has its parent among the
    collected ones. None until all of that is exported."""
    roots = [s for s in spans if s["service"] == "gateway" and s["kind"] == "SERVER" and s["name"] == request
             and s["attributes"].get("conversation_id") == cid]
    if len(roots) != 1:
        return None
    (root,) = roots
    trace = [s for s in spans if s["trace_id"] == root["trace_id"]]
    by_id = {s["span_id"]: s for s in trace}
    sends = [s for s in trace if s["service"] == "gateway" and s["name"] == f"websocket send {frame['type']}"
             and s["attributes"].get("stream.recipient") == recipient
             and s["attributes"].get("stream.position") == frame["position"]]
    if len(sends) != 1:
        return None
    path = ancestry(sends[0], by_id)
    if path is None or any(ancestry(s, by_id) is None for s in trace):
        return None
    return {"root": root, "send": sends[0], "path": path, "trace": trace}


async def complete_trace(system: System, request: str, cid: str, frame: dict[str, Any], recipient: str
                         ) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30  # spans are exported every 200 ms; a busy machine takes longer
    while (found := connected(spans := system.spans(), request, cid, frame, recipient)) is None:
        if loop.time() > deadline:
            about = [(s["service"], s["kind"], s["name"], s["trace_id"][:8], s["span_id"], s["parent_span_id"])
                     for s in spans if s["attributes"].get("conversation_id") == cid]
            raise AssertionError(f"no complete trace from {request} to the {frame['type']} frame at position "
                                 f"{frame['position']} on {recipient}'s socket within 30 s; {len(spans)} spans in "
                                 f"{system.traces_dir}, those of {cid}: {about}")
        await asyncio.sleep(0.25)
    return found


def steps(path: list[Span]) -> list[tuple[str, str, str | None]]:
    """From the root down: which service, what kind of span, handling which message type."""
    return [(s["service"], s["kind"], s["attributes"].get("message.type")) for s in reversed(path)]


async def test_one_trace_follows_a_customer_message_from_the_widget_to_the_agents_socket(tenant):
    system: System = tenant.system
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    customer, started = await tenant.customer("support", "Where is my order?")  # the widget's start
    cid = started["conversation_id"]
    offer = await offer_for(desk, cid)
    await accept(alice, desk, cid)
    sent = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                               {"client_message_id": "traced", "text": "Is it traced?"})
    assert sent.status_code == 200, sent.text
    shown = await desk.wait_for(message("Is it traced?"), what="the customer's message on the agent's socket")
    recipient = f"agent:{tenant.id}:alice"

    found = await complete_trace(system, WIDGET_MESSAGE, cid, shown, recipient)
    root, send, path = found["root"], found["send"], found["path"]
    assert path[-1] is root and root["parent_span_id"] is None  # the gateway's HTTP span starts the trace
    chain = steps(path)
    command, event = ("chat", "CONSUMER", "chat.SendMessage"), ("gateway", "CONSUMER", "chat.MessagePosted")
    assert command in chain and event in chain and chain.index(command) < chain.index(event), chain
    assert send["kind"] == "PRODUCER" and chain[-1] == ("gateway", "PRODUCER", None)
    assert all(s["attributes"].get("conversation_id") == cid for s in path), \
        [(s["name"], s["attributes"].get("conversation_id")) for s in path]
    assert {s["service"] for s in found["trace"]} >= {"gateway", "chat"}

    # the widget's start: one trace through chat and routing to the offer on the agent's socket
    start = await complete_trace(system, WIDGET_START, cid, offer, recipient)
    chain = steps(start["path"])
    for step in (("chat", "CONSUMER", "chat.StartConversation"), ("routing", "CONSUMER", "routing.RouteConversation"),
                 ("gateway", "CONSUMER", "routing.OfferMade")):
        assert step in chain, chain
    assert start["root"]["trace_id"] != root["trace_id"]  # each request a trace of its own
