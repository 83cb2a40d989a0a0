"""Replaying a dead letter once its cause is fixed (shared/deadletters.py), on the real broker and mongod: the
group that gave up handles it now; a group that handled it the first time drops it as a repeat. A command that
is dead-lettered is answered `failed` at once (its sender is not left waiting), and its replay answers it again."""

from __future__ import annotations

import pytest

from typing import ClassVar

from shared.broker import ensure_topics
from shared.commands import Done, Publisher, answer_command
from shared.consumer import Outcome, alone
from shared.contracts.answers import CommandAccepted, CommandRejected
from shared.contracts.catalogue import Topic
from shared.contracts.envelope import Command, Envelope, encode, wrap
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


class FileNote(Command):
    TYPE: ClassVar[str] = "test.FileNote"
    KEY: ClassVar[str] = "note_id"
    note_id: str


async def test_a_dead_lettered_command_is_answered_failed_and_its_replay_answers_it_again(infrastructure, unique):
    commands = Topic(name=f"test.note-commands.{unique}", partitions=2, key="note_id", producer="a", consumers=("b",),
                     description="test commands", messages=(FileNote,))
    events = Topic(name=f"test.note-events.{unique}", partitions=2, key="note_id", producer="b", consumers=("a",),
                   description="test answers", messages=(CommandAccepted, CommandRejected))
    await ensure_topics(infrastructure.kafka_bootstrap, [commands, events])
    broken = [True]
    b = ServiceRuntime(settings(infrastructure, f"b-{unique}"), title="b")
    b.publishes(events)

    async def file_note(env: Envelope[FileNote]) -> None:
        async def execute(tx: Transaction) -> Done:
            if broken:
                raise LookupError("the note's folder does not exist yet")
            await tx.db.filed.insert_one({"_id": env.payload.note_id}, session=tx.session)
            return Done(result_id=env.payload.note_id)
        await answer_command(b.uow, env, execute, publisher=Publisher(events.name, "b"))
    inbox = b.consume(commands, {FileNote: file_note}, answers_on=events)
    a = ServiceRuntime(settings(infrastructure, f"a-{unique}"), title="a")
    heard: list = []

    @alone
    async def hear(env: Envelope) -> None:
        heard.append(env.payload)
    a.consume(events, {CommandAccepted: hear, CommandRejected: hear})
    await b.start()
    await a.start()
    try:
        env = wrap(FileNote(note_id="n1"), tenant_id="t1", key="n1", producer="a")
        await produce(infrastructure.kafka_bootstrap, commands.name, encode(env), b"n1")
        (failed,) = await eventually(lambda: heard, timeout_s=60)
        assert inbox.outcomes[Outcome.DEAD_LETTERED] == 1
        assert isinstance(failed, CommandRejected) and (failed.code, failed.request_id, failed.command_id) == (
            "failed", env.payload.request_id, env.event_id)
        assert "dead letter" in failed.reason and "folder" not in failed.reason  # the error stays with operators

        async def letters_of_b() -> list:
            return chosen(await read_letters(infrastructure.kafka_bootstrap), group=f"b-{unique}")
        (letter,) = await eventually(letters_of_b, timeout_s=30)
        broken.clear()  # the cause is fixed: the replay carries the command out (the failure was not its answer)
        assert await replay(infrastructure.kafka_bootstrap, [letter]) == 1
        await eventually(lambda: len(heard) == 2, timeout_s=60)
        assert isinstance(heard[1], CommandAccepted) and heard[1].request_id == env.payload.request_id
        assert await b.db.filed.count_documents({}) == 1
    finally:
        await a.stop()
        await b.stop()
