"""A service's AsyncAPI document: FastStream's (servers, channels, operations, bindings, HTTP routes) with the
messages of every Kafka channel taken from the contracts: one message per payload type, its envelope typed.

FastStream 0.7.8 gives a channel one message without a description, and builds a subscriber's from the handler's
signature, which here is the raw bytes (the runtime decodes them itself so that a bad record is dead-lettered).
So the runtime names the payload types of each channel and this replaces the channel's message with them."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.utils import ref
from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema, CorrelationId, Reference
from faststream.specification.asyncapi.v3_0_0.schema import Message as MessageObject
from pydantic.json_schema import models_json_schema

from shared.contracts.envelope import Envelope, Message

SCHEMAS = "#/components/schemas/"


class ContractAsyncAPI(AsyncAPI):
    """FastStream's AsyncAPI 3.0 factory; `channel_messages` maps a channel (the endpoint's title, e.g.
    on_routing_commands) to the payload types its records carry. Read on every build, so it may still grow."""

    def __init__(self, *brokers: Any, channel_messages: Mapping[str, tuple[type[Message], ...]],
                 **options: Any) -> None:
        super().__init__(*brokers, schema_version="3.0.0", **options)
        self.channel_messages = channel_messages

    def to_specification(self) -> ApplicationSchema:
        spec = super().to_specification()
        assert isinstance(spec, ApplicationSchema)
        components = spec.components
        assert components is not None
        wanted = {key: types for key, types in self.channel_messages.items() if key in spec.channels and types}
        payloads, schemas = envelope_schemas(tuple(dict.fromkeys(t for types in wanted.values() for t in types)))
        messages = dict(components.messages or {})
        for key, types in wanted.items():
            spec.channels[key].messages = {t.TYPE: Reference(**ref("components", "messages", t.TYPE)) for t in types}
            messages.update({t.TYPE: message_object(t, payloads[t]) for t in types})
            for operation in spec.operations.values():
                if operation.channel.ref == ref("channels", key)["$ref"]:
                    operation.messages = [Reference(**ref("channels", key, "messages", t.TYPE)) for t in types]
        # FastStream's own messages for these channels (and their payload schemas) are no longer referenced.
        used = {r.ref for channel in spec.channels.values() for r in channel.messages.values()
                if isinstance(r, Reference)}
        components.messages = {name: m for name, m in messages.items()
                               if ref("components", "messages", name)["$ref"] in used}
        components.schemas = _reachable({**(components.schemas or {}), **schemas},
                                        [m.payload for m in components.messages.values()])
        return spec


def envelope_schemas(types: tuple[type[Message], ...]) -> tuple[dict[type[Message], dict[str, Any]], dict[str, Any]]:
    """JSON Schema of `Envelope[T]` for each type: the reference to it, and every schema it needs by name."""
    refs, top = models_json_schema([(Envelope[t], "validation") for t in types], ref_template=SCHEMAS + "{model}")
    schemas: dict[str, Any] = top.get("$defs", {})
    payloads = {t: refs[(Envelope[t], "validation")] for t in types}
    for t, payload in payloads.items():
        envelope = schemas[payload["$ref"].removeprefix(SCHEMAS)]
        envelope["description"] = inspect.getdoc(Envelope)
        # A record's type names its payload class (shared.contracts.envelope.decode), so here it is fixed.
        envelope["properties"]["type"] = {**envelope["properties"]["type"], "const": t.TYPE, "examples": [t.TYPE]}
    return payloads, schemas


def message_object(t: type[Message], payload: dict[str, Any]) -> MessageObject:
    return MessageObject(
        name=t.TYPE, title=t.__name__, description=describe(t), contentType="application/json", payload=payload,
        correlationId=CorrelationId(location="$message.payload#/correlation_id",
                                    description="Shared by everything one request caused."))


def describe(t: type[Message]) -> str:
    """The payload class's docstring; one that has none says what its base class (Command, Event) says."""
    return inspect.getdoc(t) or f"{t.KIND} {t.TYPE}"


def _reachable(schemas: dict[str, Any], roots: list[Any]) -> dict[str, Any]:
    keep: dict[str, Any] = {}
    pending = [r for root in roots for r in _refs(root)]
    while pending:
        # A reference is a JSON pointer, URI-encoded (FastStream's are; pydantic's names need no encoding).
        name = unquote(pending.pop().removeprefix(SCHEMAS)).replace("~1", "/").replace("~0", "~")
        if name in schemas and name not in keep:
            keep[name] = schemas[name]
            pending.extend(_refs(schemas[name]))
    return {name: keep[name] for name in sorted(keep)}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)
