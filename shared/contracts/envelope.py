"""The typed envelope every Kafka record carries, and the registry that decodes it.

Payloads are pydantic models with a unique TYPE and a VERSION; an older version is
upcast on read, unknown fields are ignored so producers can add fields freely."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar
from uuid import uuid4

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

# Ids of tenants, conversations, agents, queues...: safe as database keys and map keys everywhere.
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")]

_TRACEPARENT = re.compile(r"^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


def _traceparent_or_none(value: Any) -> str | None:
    """A W3C traceparent as it is, anything else as None: a bad trace context is dropped, never a reason to
    dead-letter the message it came with (the W3C's rule for a malformed header)."""
    return value if isinstance(value, str) and _TRACEPARENT.match(value) else None


# W3C Trace Context, `traceparent` header format: version-trace_id-parent_id-flags, in lowercase hex.
TraceParent = Annotated[str | None, BeforeValidator(_traceparent_or_none)]


class Message(BaseModel):
    """A command or event payload. Subclasses set TYPE (unique) and VERSION."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    KIND: ClassVar[str] = "message"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" in cls.__dict__:
            existing = _REGISTRY.get(cls.TYPE)
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise TypeError(f"message type {cls.TYPE!r} is registered twice")
            _REGISTRY[cls.TYPE] = cls

    @classmethod
    def upcast(cls, from_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Turn an older payload shape into the current one (override when VERSION grows)."""
        return data


Role = Literal["admin", "supervisor", "agent", "customer", "system"]


class Actor(BaseModel):
    """Who asked for a command: a user of the envelope's tenant, in a role (the gateway fills it in from the
    signed-in session; a service's own commands, e.g. chat asking routing to route, act as "system")."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    user_id: str = Field("system", description="Agent, supervisor, admin or customer id; 'system' for a service.")
    role: Role = Field("system", description="The role the user acted in.")
    display_name: str | None = Field(None, max_length=200,
                                     description="The staff member's display name, as the gateway keeps it (chat "
                                                 "fills {agent_name} in quick replies with it); None: not known.")


class Command(Message):
    """Imperative: asks the owning service to do something; answered by shared.contracts.answers'
    CommandAccepted or CommandRejected, carrying the same request id. A repeat of a request id (a retry)
    changes nothing again and gets the first answer again."""

    KIND: ClassVar[str] = "command"
    request_id: Identifier = Field(default_factory=lambda: uuid4().hex,
                                   description="The sender's idempotency key: the same request id sent twice is "
                                               "carried out once, and answered with the first answer.")
    actor: Actor = Field(default_factory=Actor, description="Who asked (tenant: the envelope's tenant_id).")


class Event(Message):
    """Past tense: something that happened in the producing service."""

    KIND: ClassVar[str] = "event"


_REGISTRY: dict[str, type[Message]] = {}

M = TypeVar("M", bound=Message)


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel, Generic[M]):
    """Metadata every record carries; `key` is also the Kafka record key (the partitioning key)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str = Field(default_factory=lambda: str(uuid4()),
                          description="Unique id of this message; consumers drop repeats of it.")
    type: str = Field(description="Payload type, e.g. routing.ConversationQueued.",
                      examples=["routing.ConversationQueued"])
    schema_version: int = Field(1, description="Version of the payload schema.", examples=[1])
    occurred_at: datetime = Field(default_factory=_now, description="When it happened (UTC).")
    tenant_id: Identifier = Field(description="Tenant (support organisation) the message belongs to.",
                                  examples=["acme"])
    key: str = Field(description="Partitioning key: the conversation id for conversation messages, "
                                 "the agent id for agent messages.", examples=["conv-42"])
    producer: str = Field(description="Service that produced the message.", examples=["routing"])
    correlation_id: str | None = Field(None, description="Id shared by everything one request caused.")
    causation_id: str | None = Field(None, description="event_id of the message that caused this one.")
    traceparent: TraceParent = Field(
        None, description="W3C trace context of the span that produced this message (the `traceparent` header's "
                          "format): its consumer's span is a child of it, so one trace follows a conversation "
                          "across services. Null when tracing is off; a malformed value reads as null.",
        examples=["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"])
    payload: M


class InvalidMessage(ValueError):
    """A record that can never be processed: not JSON, no envelope, or a payload that fails validation."""


class UnknownMessageType(InvalidMessage):
    """The envelope is valid but no payload class is registered for its type."""

    def __init__(self, type_: str, envelope: dict[str, Any]) -> None:
        super().__init__(f"unknown message type {type_!r}")
        self.type = type_
        self.envelope = envelope


def wrap(payload: M, *, tenant_id: str, key: str, producer: str, correlation_id: str | None = None,
             causation_id: str | None = None, occurred_at: datetime | None = None,
             traceparent: str | None = None) -> Envelope[M]:
    """Wrap a payload; the type and version come from its class. The trace context is usually left to the unit
    of work, which stamps the current span's as the envelope is emitted (shared.tracing.stamped)."""
    return Envelope[type(payload)](  # type: ignore[index]
        type=payload.TYPE, schema_version=payload.VERSION, tenant_id=tenant_id, key=key, producer=producer,
        correlation_id=correlation_id, causation_id=causation_id, occurred_at=occurred_at or _now(),
        traceparent=traceparent, payload=payload)


def encode(env: Envelope[Any]) -> bytes:
    return env.model_dump_json().encode()


def decode(raw: bytes | str) -> Envelope[Message]:
    """Parse and validate a record value; raises InvalidMessage with a readable reason."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidMessage("envelope is not a JSON object")
    type_ = data.get("type")
    if not isinstance(type_, str):
        raise InvalidMessage("envelope has no 'type'")
    payload_cls = _REGISTRY.get(type_)
    if payload_cls is None:
        raise UnknownMessageType(type_, data)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise InvalidMessage(f"{type_}: payload is not an object")
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidMessage(f"{type_}: schema_version must be a positive integer, got {version!r}")
    if version < payload_cls.VERSION:
        try:
            payload = payload_cls.upcast(version, dict(payload))
        except Exception as exc:  # an old shape the upcaster cannot read is as unprocessable as a bad payload
            raise InvalidMessage(f"{type_}: cannot upcast version {version}: {exc!r}") from None
        # The payload now has the current shape; say so, so re-encoding it does not upcast again.
        data = {**data, "schema_version": payload_cls.VERSION}
    try:
        return Envelope[payload_cls].model_validate({**data, "payload": payload})  # type: ignore[valid-type]
    except ValidationError as exc:
        raise InvalidMessage(f"{type_}: {_short(exc)}") from None


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5])


def registered_types() -> dict[str, type[Message]]:
    return dict(_REGISTRY)
