"""The envelope and its registry: wrap/encode/decode, readable decode errors, upcasting, unique types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from shared.contracts.envelope import (
    Command,
    Envelope,
    Event,
    InvalidMessage,
    Message,
    UnknownMessageType,
    decode,
    encode,
    registered_types,
    wrap,
)

pytestmark = pytest.mark.unit

T0 = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


class NoteTaken(Event):
    TYPE: ClassVar[str] = "test.unit.NoteTaken"
    note_id: str
    words: int
    tags: dict[str, int] = {}


class RenameCustomer(Command):
    """Version 2: v1 had one `name` field, v2 splits it into first and last name."""

    TYPE: ClassVar[str] = "test.unit.RenameCustomer"
    VERSION: ClassVar[int] = 2
    customer_id: str
    first_name: str
    last_name: str

    @classmethod
    def upcast(cls, from_version: int, data: dict[str, Any]) -> dict[str, Any]:
        if from_version == 1:
            first, _, last = data["name"].partition(" ")
            data = {k: v for k, v in data.items() if k != "name"} | {"first_name": first, "last_name": last}
        return data


class Original(Event):
    TYPE: ClassVar[str] = "test.unit.Duplicated"
    value: int


def raw(type_: str = "test.unit.NoteTaken", payload: Any = None, **fields: Any) -> bytes:
    """A record value as another producer might write it."""
    envelope = {"event_id": "e-1", "type": type_, "schema_version": 1, "occurred_at": T0.isoformat(),
                "tenant_id": "acme", "key": "n1", "producer": "elsewhere",
                "payload": {"note_id": "n1", "words": 3} if payload is None else payload}
    envelope.update(fields)
    return json.dumps({k: v for k, v in envelope.items() if v is not ...}).encode()


def decode_error(value: bytes | str) -> InvalidMessage:
    with pytest.raises(InvalidMessage) as error:
        decode(value)
    return error.value


# --- round trip -----------------------------------------------------------------------------------

def test_wrap_takes_type_and_version_from_the_payload_class():
    env = wrap(RenameCustomer(customer_id="c1", first_name="Ada", last_name="Lovelace"), tenant_id="acme",
               key="c1", producer="customer")
    assert env.type == "test.unit.RenameCustomer" and env.schema_version == 2
    assert env.event_id and env.occurred_at.tzinfo is not None
    other = wrap(RenameCustomer(customer_id="c1", first_name="A", last_name="L"), tenant_id="acme", key="c1",
                 producer="customer")
    assert other.event_id != env.event_id  # each message gets its own id


def test_encode_then_decode_keeps_every_envelope_field_and_the_typed_payload():
    env = wrap(NoteTaken(note_id="n1", words=42, tags={"urgent": 1}), tenant_id="acme", key="n1", producer="notes",
               correlation_id="corr-7", causation_id="cause-3", occurred_at=T0)

    back = decode(encode(env))

    assert isinstance(back.payload, NoteTaken)
    assert back.payload == NoteTaken(note_id="n1", words=42, tags={"urgent": 1})
    for name in Envelope.model_fields:
        assert getattr(back, name) == getattr(env, name), name
    assert back.occurred_at == T0 and back.occurred_at.utcoffset() is not None
    assert back.model_dump() == env.model_dump()


def test_decode_accepts_text_as_well_as_bytes():
    env = wrap(NoteTaken(note_id="n1", words=1), tenant_id="acme", key="n1", producer="notes")
    assert decode(encode(env).decode()).event_id == env.event_id


def test_optional_envelope_fields_default_when_a_producer_leaves_them_out():
    env = decode(raw(correlation_id=..., causation_id=..., schema_version=...))
    assert env.correlation_id is None and env.causation_id is None and env.schema_version == 1
    assert env.payload.tags == {}


# --- decode errors: a readable reason -------------------------------------------------------------

def test_not_json_is_invalid_with_a_reason():
    assert "not JSON" in str(decode_error(b"{not json"))


def test_undecodable_bytes_are_invalid_not_a_crash():
    assert "not JSON" in str(decode_error(b"\x80\x81 definitely not utf-8"))


def test_a_json_array_is_not_an_envelope():
    error = decode_error(b'[{"type": "test.unit.NoteTaken"}]')
    assert "not a JSON object" in str(error)


@pytest.mark.parametrize("type_", [..., None, 7])
def test_missing_or_non_string_type_is_invalid(type_):
    error = decode_error(raw(type=type_))
    assert not isinstance(error, UnknownMessageType)
    assert "'type'" in str(error)


@pytest.mark.parametrize("payload", [[1, 2], "n1", 5])
def test_payload_that_is_not_an_object_is_invalid(payload):
    error = decode_error(raw(payload=payload))
    assert "test.unit.NoteTaken" in str(error) and "payload is not an object" in str(error)


def test_missing_payload_is_invalid():
    assert "payload is not an object" in str(decode_error(raw(payload=...)))


def test_payload_failing_validation_names_the_field():
    error = decode_error(raw(payload={"note_id": "n1", "words": "many"}))
    assert str(error).startswith("test.unit.NoteTaken:")
    assert "payload.words" in str(error)
    assert "note_id" not in str(error)  # only the field that is wrong


def test_missing_payload_field_names_the_field():
    assert "payload.words" in str(decode_error(raw(payload={"note_id": "n1"})))


def test_missing_envelope_field_names_the_field():
    error = decode_error(raw(tenant_id=...))
    assert "tenant_id" in str(error)


def test_unregistered_type_is_unknown_and_keeps_the_envelope():
    with pytest.raises(UnknownMessageType) as error:
        decode(raw(type="test.unit.NobodyRegisteredThis"))
    assert isinstance(error.value, InvalidMessage)  # callers catching InvalidMessage see it too
    assert error.value.type == "test.unit.NobodyRegisteredThis"
    assert error.value.envelope["tenant_id"] == "acme"
    assert "test.unit.NobodyRegisteredThis" in str(error.value)


# --- tolerance: producers may add fields ----------------------------------------------------------

def test_unknown_fields_in_envelope_and_payload_are_ignored():
    env = decode(raw(payload={"note_id": "n1", "words": 3, "mood": "cheerful"}, trace_parent="00-abc", region="eu"))
    assert env.payload == NoteTaken(note_id="n1", words=3)
    assert not hasattr(env.payload, "mood") and not hasattr(env, "region")
    assert "mood" not in encode(env).decode() and "region" not in encode(env).decode()


# --- versions -------------------------------------------------------------------------------------

def test_older_schema_version_is_upcast_on_read():
    value = raw(type="test.unit.RenameCustomer", schema_version=1,
                payload={"customer_id": "c1", "name": "Ada Lovelace"})
    env = decode(value)
    assert isinstance(env.payload, RenameCustomer)
    assert (env.payload.first_name, env.payload.last_name) == ("Ada", "Lovelace")


def test_schema_version_missing_counts_as_version_1_and_is_upcast():
    value = raw(type="test.unit.RenameCustomer", schema_version=...,
                payload={"customer_id": "c1", "name": "Grace Hopper"})
    assert decode(value).payload.last_name == "Hopper"


def test_current_schema_version_is_not_upcast():
    value = raw(type="test.unit.RenameCustomer", schema_version=2,
                payload={"customer_id": "c1", "first_name": "Ada", "last_name": "Lovelace"})
    assert decode(value).payload.first_name == "Ada"
    # a current-version payload in the old shape is simply invalid: no upcast was applied
    error = decode_error(raw(type="test.unit.RenameCustomer", schema_version=2,
                             payload={"customer_id": "c1", "name": "Ada Lovelace"}))
    assert "first_name" in str(error)


def test_current_version_round_trip_needs_no_upcast():
    env = wrap(RenameCustomer(customer_id="c1", first_name="Ada", last_name="Lovelace"), tenant_id="acme", key="c1",
               producer="customer")
    assert decode(encode(env)).payload == env.payload


# --- registry -------------------------------------------------------------------------------------

def test_message_classes_register_their_type():
    types = registered_types()
    assert types["test.unit.NoteTaken"] is NoteTaken
    assert types["test.unit.RenameCustomer"] is RenameCustomer
    types.clear()  # a copy: callers cannot break the registry
    assert registered_types()["test.unit.NoteTaken"] is NoteTaken


def test_two_classes_with_the_same_type_raise():
    with pytest.raises(TypeError, match="test.unit.Duplicated"):
        class Impostor(Event):  # noqa: F841 - defining it is the test
            TYPE: ClassVar[str] = "test.unit.Duplicated"
            other: str

    assert registered_types()["test.unit.Duplicated"] is Original
    assert isinstance(decode(raw(type="test.unit.Duplicated", payload={"value": 3})).payload, Original)


def test_a_subclass_without_its_own_type_does_not_take_over_the_parent_type():
    class NoteTakenWithExtras(NoteTaken):
        extra: str = ""

    assert registered_types()["test.unit.NoteTaken"] is NoteTaken


def test_message_kinds():
    assert (Message.KIND, Command.KIND, Event.KIND) == ("message", "command", "event")
    assert RenameCustomer.KIND == "command" and NoteTaken.KIND == "event"
