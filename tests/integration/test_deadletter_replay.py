"""Replaying a dead letter once its cause is fixed (shared/deadletters.py), on the real broker and mongod: the
group that gave up handles it now; a group that handled it the first time drops it as a repeat."""

from __future__ import annotations

import pytest

from shared.consumer import Outcome
from shared.contracts.envelope import Envelope, encode, wrap
from shared.deadletters import chosen, read_letters, replay
from shared.mongo import Transaction
from shared.runtime import ServiceRuntime
from shared.testing.kafka import eventually, produce
from tests.integration.test_foundation import NoteWritten, settings, topic  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def recorder(runtime: ServiceRuntime, broken: list[bool]):
    async def record(env: Envelope[NoteWritten]) -> None:
        if broken:
            raise LookupError("the note's folder does not exist yet")

        async def work(tx: Transaction) -> None:
            await tx.db.notes_view.insert_one({"_id": env.payload.note_id}, session=tx.session)
        await runtime.uow.run(work)
    return record


async def test_a_replayed_letter_is_handled_by_the_group_that_gave_up_and_dropped_by_the_others(
        infrastructure, unique, topic):  # noqa: F811
    broken = [True]
    b = ServiceRuntime(settings(infrastructure, f"b-{unique}"), title="b")
    c = ServiceRuntime(settings(infrastructure, f"c-{unique}"), title="c")
    in_b = b.consume(topic, {NoteWritten: recorder(b, broken)})
    in_c = c.consume(topic, {NoteWritten: recorder(c, [])})
    await b.start()
    await c.start()
    try:
        env = wrap(NoteWritten(note_id="n1", text="hello"), tenant_id="t1", key="n1", producer="a")
        await produce(infrastructure.kafka_bootstrap, topic.name, encode(env), b"n1")
        await eventually(lambda: in_b.outcomes[Outcome.DEAD_LETTERED] == 1 and in_c.outcomes[Outcome.HANDLED] == 1,
                         timeout_s=60)

        async def letters_of_b() -> list:
            return chosen(await read_letters(infrastructure.kafka_bootstrap), group=f"b-{unique}")
        (letter,) = await eventually(letters_of_b, timeout_s=30)
        assert (letter.original_event_id, letter.error_kind, letter.original_key) == (env.event_id, "failing", "n1")
        assert chosen([letter], group=f"b-{unique}", kind="invalid") == []

        broken.clear()  # the cause is fixed
        assert await replay(infrastructure.kafka_bootstrap, [letter]) == 1
        await eventually(lambda: in_b.outcomes[Outcome.HANDLED] == 1 and in_c.outcomes[Outcome.DUPLICATE] == 1,
                         timeout_s=60)
        assert await b.db.notes_view.count_documents({}) == 1 and await c.db.notes_view.count_documents({}) == 1
    finally:
        await c.stop()
        await b.stop()
