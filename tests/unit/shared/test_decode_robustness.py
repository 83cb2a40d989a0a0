"""Records no consumer could ever process must surface as InvalidMessage (dead-lettered), never as a crash."""

from typing import Any, ClassVar

import pytest
from pymongo.errors import ServerSelectionTimeoutError

from shared.consumer import MessageDispatcher, Outcome, Record
from shared.contracts.envelope import Event, InvalidMessage, decode, encode, wrap

pytestmark = pytest.mark.unit


class Renamed(Event):
    """v1 had `name`; v2 calls it `full_name`."""
    TYPE: ClassVar[str] = "test.robust.Renamed"
    VERSION: ClassVar[int] = 2
    full_name: str

    @classmethod
    def upcast(cls, from_version: int, data: dict[str, Any]) -> dict[str, Any]:
        data["full_name"] = data.pop("name")
        return data


def raw(version: Any, payload: dict[str, Any]) -> bytes:
    return encode(wrap(Renamed(full_name="x"), tenant_id="t", key="k", producer="p")).replace(
        b'"schema_version":2', f'"schema_version":{__import__("json").dumps(version)}'.encode()).replace(
        b'{"full_name":"x"}', __import__("json").dumps(payload).encode())


def test_an_old_version_is_upcast_and_then_says_it_is_current():
    env = decode(raw(1, {"name": "Ann"}))
    assert env.payload.full_name == "Ann" and env.schema_version == 2
    again = decode(encode(env))  # re-encoding a decoded envelope must not upcast twice
    assert again.payload.full_name == "Ann"


def test_an_old_shape_the_upcaster_cannot_read_is_invalid_not_a_crash():
    with pytest.raises(InvalidMessage, match="cannot upcast version 1"):
        decode(raw(1, {}))


@pytest.mark.parametrize("version", ["1", 0, -3, True, None])
def test_schema_version_must_be_a_positive_integer(version):
    with pytest.raises(InvalidMessage, match="schema_version"):
        decode(raw(version, {"full_name": "x"}))


async def test_an_unreadable_old_record_is_dead_lettered_and_an_outage_is_not():
    letters: list[Any] = []

    async def sink(env: Any) -> None:
        letters.append(env)

    async def handler(env: Any) -> None:
        raise ServerSelectionTimeoutError("no primary")

    dispatcher = MessageDispatcher(group="g", handlers={Renamed: handler}, dead_letter=sink, max_attempts=2,
                                   retry_base_s=0)
    assert await dispatcher.dispatch(Record("t", 0, 1, b"k", raw(1, {}))) == Outcome.DEAD_LETTERED
    assert letters[0].payload.error_kind == "invalid"
    with pytest.raises(ServerSelectionTimeoutError):  # the record is kept (nacked), not dead-lettered
        await dispatcher.dispatch(Record("t", 0, 2, b"k", raw(2, {"full_name": "Ann"})))
    assert len(letters) == 1


@pytest.mark.parametrize("bad_id", ["a|b", "$where", "", "x" * 129, "spa ce"])
def test_ids_that_could_collide_or_break_storage_keys_are_invalid(bad_id):
    from shared.contracts import routing
    good = encode(wrap(routing.SetPresence(agent_id="agent-7", presence="available"), tenant_id="acme",
                       key="agent-7", producer="p"))
    with pytest.raises(InvalidMessage, match="agent_id"):
        decode(good.replace(b'"agent_id":"agent-7"', f'"agent_id":"{bad_id}"'.encode()))
    with pytest.raises(InvalidMessage, match="tenant_id"):
        decode(good.replace(b'"tenant_id":"acme"', f'"tenant_id":"{bad_id}"'.encode()))
    members = encode(wrap(routing.ConfigureQueue(queue_id="q", name="Q", members={"agent-7": 1}), tenant_id="acme",
                          key="q", producer="p"))
    with pytest.raises(InvalidMessage, match="members"):
        decode(members.replace(b'"agent-7":1', f'"{bad_id}":1'.encode()))
