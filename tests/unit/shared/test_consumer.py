"""MessageDispatcher with in-memory handlers and dead-letter sink: every outcome, retries, dead letters."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

import shared.consumer as consumer_module
from shared.consumer import MessageDispatcher, Outcome, Record
from shared.contracts.deadletter import MessageDeadLettered
from shared.contracts.envelope import Command, Envelope, Event, encode, wrap
from shared.mongo import AlreadyProcessed

pytestmark = pytest.mark.unit

TOPIC = "test.unit.orders"


class OrderPlaced(Event):
    TYPE: ClassVar[str] = "test.unit.consumer.OrderPlaced"
    order_id: str
    amount: int


class OrderShipped(Event):
    """Registered (decodable) but this consumer has no handler for it."""

    TYPE: ClassVar[str] = "test.unit.consumer.OrderShipped"
    order_id: str


class FakeHandler:
    """Fails with the given exceptions in turn, then succeeds; records what it was called with."""

    def __init__(self, *failures: BaseException | None) -> None:
        self.failures = list(failures)
        self.calls: list[Envelope[Any]] = []

    async def __call__(self, env: Envelope[Any]) -> None:
        self.calls.append(env)
        if self.failures:
            failure = self.failures.pop(0)
            if failure is not None:
                raise failure


class Always:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.calls = 0

    async def __call__(self, env: Envelope[Any]) -> None:
        self.calls += 1
        raise self.exc


def dispatcher(handler: Any, letters: list, *, max_attempts: int = 3) -> MessageDispatcher:
    async def sink(env: Envelope[MessageDeadLettered]) -> None:
        letters.append(env)

    return MessageDispatcher(group="orders-svc", handlers={OrderPlaced: handler}, dead_letter=sink,
                             max_attempts=max_attempts, retry_base_s=0)


def order(order_id: str = "o1", *, tenant: str = "acme") -> Envelope[OrderPlaced]:
    return wrap(OrderPlaced(order_id=order_id, amount=10), tenant_id=tenant, key=order_id, producer="shop",
                correlation_id="corr-1")


def record(value: bytes, *, key: bytes | None = b"o1", partition: int = 2, offset: int = 41) -> Record:
    return Record(topic=TOPIC, partition=partition, offset=offset, key=key, value=value)


# --- outcomes -------------------------------------------------------------------------------------

async def test_a_valid_record_is_handled_once_with_the_decoded_envelope():
    handler, letters = FakeHandler(), []
    d = dispatcher(handler, letters)
    env = order()

    assert await d.dispatch(record(encode(env))) == Outcome.HANDLED

    assert len(handler.calls) == 1
    assert handler.calls[0].event_id == env.event_id and handler.calls[0].payload == env.payload
    assert letters == []
    assert d.handles() == [OrderPlaced.TYPE]


async def test_an_unregistered_type_is_ignored_without_calling_anything():
    handler, letters = FakeHandler(), []
    d = dispatcher(handler, letters)
    value = encode(order()).replace(OrderPlaced.TYPE.encode(), b"test.unit.consumer.NeverDefined")

    assert await d.dispatch(record(value)) == Outcome.IGNORED
    assert handler.calls == [] and letters == []


async def test_a_registered_type_without_a_handler_is_ignored():
    handler, letters = FakeHandler(), []
    d = dispatcher(handler, letters)
    shipped = wrap(OrderShipped(order_id="o1"), tenant_id="acme", key="o1", producer="shop")

    assert await d.dispatch(record(encode(shipped))) == Outcome.IGNORED
    assert handler.calls == [] and letters == []


async def test_already_processed_is_a_duplicate_and_is_not_retried():
    handler, letters = FakeHandler(AlreadyProcessed("e-1")), []
    d = dispatcher(handler, letters)

    assert await d.dispatch(record(encode(order()))) == Outcome.DUPLICATE
    assert len(handler.calls) == 1
    assert letters == []


@pytest.mark.parametrize("value, reason_part", [
    (b"{not json", "not JSON"),
    (b"[1, 2, 3]", "not a JSON object"),
    (b'{"payload": {}}', "'type'"),
])
async def test_an_undecodable_record_is_dead_lettered_at_once(value, reason_part):
    handler, letters = FakeHandler(), []
    d = dispatcher(handler, letters)

    assert await d.dispatch(record(value, key=b"o9", partition=5, offset=7)) == Outcome.DEAD_LETTERED

    assert handler.calls == []
    (letter,) = letters
    p = letter.payload
    assert isinstance(p, MessageDeadLettered)
    assert (p.error_kind, p.attempts) == ("invalid", 1)
    assert reason_part in p.reason
    assert (p.original_topic, p.original_partition, p.original_offset, p.original_key) == (TOPIC, 5, 7, "o9")
    assert p.value == value.decode()
    assert p.original_event_id is None and p.original_type is None
    assert p.consumer_group == "orders-svc"
    assert letter.tenant_id == "unknown" and letter.causation_id is None
    assert letter.key == "o9" and letter.producer == "orders-svc"
    assert letter.type == MessageDeadLettered.TYPE


async def test_a_payload_failing_validation_is_dead_lettered_with_the_field_and_never_handled():
    handler, letters = FakeHandler(), []
    d = dispatcher(handler, letters)
    value = encode(order()).replace(b'"amount":10', b'"amount":"ten"')

    assert await d.dispatch(record(value)) == Outcome.DEAD_LETTERED

    assert handler.calls == []
    (letter,) = letters
    assert (letter.payload.error_kind, letter.payload.attempts) == ("invalid", 1)
    assert "amount" in letter.payload.reason and OrderPlaced.TYPE in letter.payload.reason
    assert letter.payload.value == value.decode()


async def test_an_invalid_record_without_a_key_gets_a_dead_letter_key_from_its_position():
    letters: list = []
    d = dispatcher(FakeHandler(), letters)

    await d.dispatch(record(b"nope", key=None, partition=3, offset=99))

    (letter,) = letters
    assert letter.payload.original_key is None
    assert letter.key == f"{TOPIC}/3/99"


async def test_undecodable_bytes_are_kept_readable_in_the_dead_letter():
    letters: list = []
    d = dispatcher(FakeHandler(), letters)

    assert await d.dispatch(record(b"\xff\xfeoops", key=b"k\xff")) == Outcome.DEAD_LETTERED

    (letter,) = letters
    assert "oops" in letter.payload.value and "\ufffd" in letter.payload.value
    assert letter.payload.original_key.startswith("k")


async def test_a_handler_failing_every_time_is_tried_max_attempts_times_then_dead_lettered():
    handler, letters = Always(RuntimeError("database says no")), []
    d = dispatcher(handler, letters, max_attempts=4)
    env = order("o7", tenant="globex")
    value = encode(env)

    assert await d.dispatch(record(value, key=b"o7", partition=1, offset=1234)) == Outcome.DEAD_LETTERED

    assert handler.calls == 4
    (letter,) = letters
    p = letter.payload
    assert (p.error_kind, p.attempts) == ("failing", 4)
    assert "RuntimeError" in p.reason and "database says no" in p.reason
    assert (p.original_topic, p.original_partition, p.original_offset, p.original_key) == (TOPIC, 1, 1234, "o7")
    assert p.value == value.decode()
    assert p.original_event_id == env.event_id and p.original_type == OrderPlaced.TYPE
    assert letter.tenant_id == "globex"
    assert letter.causation_id == env.event_id
    assert letter.key == "o7"


async def test_a_handler_that_fails_twice_then_succeeds_is_handled_without_a_dead_letter():
    handler, letters = FakeHandler(ConnectionError("blip"), TimeoutError("slow"), None), []
    d = dispatcher(handler, letters, max_attempts=3)
    env = order()

    assert await d.dispatch(record(encode(env))) == Outcome.HANDLED

    assert len(handler.calls) == 3
    assert {c.event_id for c in handler.calls} == {env.event_id}
    assert letters == []


async def test_a_duplicate_detected_on_a_retry_is_a_duplicate_not_a_dead_letter():
    handler, letters = FakeHandler(ConnectionError("blip"), AlreadyProcessed("e")), []
    d = dispatcher(handler, letters, max_attempts=5)

    assert await d.dispatch(record(encode(order()))) == Outcome.DUPLICATE
    assert len(handler.calls) == 2 and letters == []


async def test_retries_back_off_exponentially(monkeypatch):
    delays: list[float] = []
    real_sleep = asyncio.sleep
    this = asyncio.current_task()

    async def fake_sleep(seconds: float, *args: Any) -> None:
        # asyncio.sleep is patched for the whole loop: a task another test left running on it (a loop sleeping
        # 0.1 s) once added its own delay here (CI, 0e4edfe). Only this test's own are counted.
        if asyncio.current_task() is this:
            delays.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(consumer_module.asyncio, "sleep", fake_sleep)
    letters: list = []

    async def sink(env: Envelope[MessageDeadLettered]) -> None:
        letters.append(env)

    d = MessageDispatcher(group="g", handlers={OrderPlaced: Always(RuntimeError("x"))}, dead_letter=sink,
                          max_attempts=4, retry_base_s=0.5)
    assert await d.dispatch(record(encode(order()))) == Outcome.DEAD_LETTERED
    assert delays == [0.5, 1.0, 2.0]  # between attempts only, none after the last


async def test_a_failing_dead_letter_sink_propagates_so_the_record_is_not_skipped():
    async def broken_sink(env: Envelope[MessageDeadLettered]) -> None:
        raise ConnectionError("broker away")

    d = MessageDispatcher(group="g", handlers={OrderPlaced: FakeHandler()}, dead_letter=broken_sink,
                          max_attempts=1, retry_base_s=0)
    with pytest.raises(ConnectionError):
        await d.dispatch(record(b"{not json"))


class ShipOrder(Command):
    TYPE: ClassVar[str] = "test.unit.consumer.ShipOrder"
    order_id: str


async def test_a_dead_lettered_command_is_told_after_its_letter_and_an_event_or_invalid_record_is_not():
    told: list = []
    letters: list = []

    async def sink(env: Envelope[MessageDeadLettered]) -> None:
        letters.append(env)

    async def failed(env: Envelope[Any]) -> None:
        told.append((env.event_id, len(letters)))

    failing = Always(RuntimeError("x"))
    d = MessageDispatcher(group="g", handlers={OrderPlaced: failing, ShipOrder: failing}, dead_letter=sink,
                          max_attempts=2, retry_base_s=0, failed_command=failed)
    ship = wrap(ShipOrder(order_id="o1"), tenant_id="acme", key="o1", producer="shop")
    assert await d.dispatch(record(encode(ship))) == Outcome.DEAD_LETTERED
    assert told == [(ship.event_id, 1)]  # after its letter was written
    assert await d.dispatch(record(encode(order()))) == Outcome.DEAD_LETTERED  # an event: nobody waits for it
    assert await d.dispatch(record(b'{"type": "test.unit.consumer.ShipOrder"}')) == Outcome.DEAD_LETTERED
    assert len(told) == 1 and len(letters) == 3


async def test_outcomes_count_each_dispatch():
    letters: list = []
    handler = FakeHandler(None, AlreadyProcessed("x"))
    d = dispatcher(handler, letters, max_attempts=2)
    shipped = wrap(OrderShipped(order_id="o1"), tenant_id="acme", key="o1", producer="shop")

    await d.dispatch(record(encode(order("a"))))  # handled
    await d.dispatch(record(encode(order("b"))))  # duplicate
    await d.dispatch(record(encode(order("c"))))  # handled (no failures left)
    await d.dispatch(record(encode(shipped)))  # ignored: no handler
    await d.dispatch(record(b'{"type": "test.unit.consumer.Nope", "payload": {}}'))  # ignored: unknown
    await d.dispatch(record(b"garbage"))  # dead-lettered

    assert d.outcomes == {Outcome.HANDLED: 2, Outcome.DUPLICATE: 1, Outcome.IGNORED: 2, Outcome.DEAD_LETTERED: 1}
    assert len(letters) == 1


# --- batches of one partition ---------------------------------------------------------------------

class BatchRecorder:
    """A batch-shaped handler: records each batch it gets; fails on any batch holding a poisoned order."""

    def __init__(self, poisoned: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.poisoned = poisoned

    async def __call__(self, batch) -> None:
        self.batches.append([env.payload.order_id for env in batch])
        if any(env.payload.order_id == self.poisoned for env in batch):
            raise ValueError("poison")


def batch_dispatcher(handler: Any, letters: list) -> MessageDispatcher:
    async def sink(env: Envelope[MessageDeadLettered]) -> None:
        letters.append(env)
    return MessageDispatcher(group="orders-svc", batch_handlers={OrderPlaced: handler}, dead_letter=sink,
                             max_attempts=2, retry_base_s=0)


async def test_a_run_of_records_goes_to_a_batch_handler_as_one_batch_in_order():
    handler, letters = BatchRecorder(), []
    d = batch_dispatcher(handler, letters)
    records = [record(encode(order(f"o{n}")), offset=n) for n in range(4)]
    assert await d.dispatch_batch(records) == [Outcome.HANDLED] * 4
    assert handler.batches == [["o0", "o1", "o2", "o3"]] and letters == []


async def test_an_invalid_record_in_a_batch_is_dead_lettered_and_splits_the_run_around_it():
    handler, letters = BatchRecorder(), []
    d = batch_dispatcher(handler, letters)
    records = [record(encode(order("o0")), offset=0), record(b"not json", offset=1),
               record(encode(order("o2")), offset=2), record(encode(order("o3")), offset=3)]
    assert await d.dispatch_batch(records) == [Outcome.HANDLED, Outcome.DEAD_LETTERED, Outcome.HANDLED,
                                               Outcome.HANDLED]
    assert handler.batches == [["o0"], ["o2", "o3"]]
    assert [letter.payload.original_offset for letter in letters] == [1]


async def test_records_without_a_handler_inside_a_run_are_ignored_in_place_without_splitting_it():
    """A bulk setup's events alternate two types on one partition; a consumer of only one of them handles its
    records as one batch (one transaction), not one per record, and every outcome keeps its record's place."""
    handler, letters = BatchRecorder(), []
    d = batch_dispatcher(handler, letters)
    shipped = [wrap(OrderShipped(order_id=f"s{n}"), tenant_id="acme", key="o1", producer="orders") for n in range(4)]
    records = [record(encode(shipped[0]), offset=0), record(encode(order("o1")), offset=1),
               record(encode(shipped[1]), offset=2), record(encode(order("o3")), offset=3),
               record(encode(shipped[2]), offset=4), record(encode(shipped[3]), offset=5),
               record(encode(order("o6")), offset=6), record(encode(shipped[3]), offset=7)]
    assert await d.dispatch_batch(records) == [Outcome.IGNORED, Outcome.HANDLED, Outcome.IGNORED, Outcome.HANDLED,
                                               Outcome.IGNORED, Outcome.IGNORED, Outcome.HANDLED, Outcome.IGNORED]
    assert handler.batches == [["o1", "o3", "o6"]] and letters == []
    # an invalid record still ends the run: its dead letter is written where it sits
    records = [record(encode(order("o0")), offset=10), record(encode(shipped[0]), offset=11),
               record(b"not json", offset=12), record(encode(order("o3")), offset=13)]
    assert await d.dispatch_batch(records) == [Outcome.HANDLED, Outcome.IGNORED, Outcome.DEAD_LETTERED,
                                               Outcome.HANDLED]
    assert handler.batches[1:] == [["o0"], ["o3"]]


async def test_a_failing_batch_is_retried_one_message_at_a_time_and_only_the_bad_one_is_dead_lettered():
    handler, letters = BatchRecorder(poisoned="o1"), []
    d = batch_dispatcher(handler, letters)
    records = [record(encode(order(f"o{n}")), offset=n) for n in range(3)]
    assert await d.dispatch_batch(records) == [Outcome.HANDLED, Outcome.DEAD_LETTERED, Outcome.HANDLED]
    assert handler.batches == [["o0", "o1", "o2"], ["o0"], ["o1"], ["o1"], ["o2"]]
    assert [letter.payload.original_offset for letter in letters] == [1]


async def test_per_message_handlers_take_batches_one_message_at_a_time_and_skip_repeats():
    seen: list[str] = []

    async def handle(env: Envelope[Any]) -> None:
        seen.append(env.payload.order_id)
        if env.payload.order_id == "o1":
            raise AlreadyProcessed(env.event_id)

    d = dispatcher(handle, [])
    records = [record(encode(order(f"o{n}")), offset=n) for n in range(3)]
    assert await d.dispatch_batch(records) == [Outcome.HANDLED, Outcome.DUPLICATE, Outcome.HANDLED]
    assert seen == ["o0", "o1", "o2"]
    assert await d.dispatch(record(encode(order("o1")), offset=9)) == Outcome.DUPLICATE


class BatchedPair:
    """A Batched handler's two forms, recording what each got; `many` fails on a batch holding a poisoned order
    and says the rest were repeats when asked to."""

    def __init__(self, poisoned: str | None = None) -> None:
        self.ones: list[str] = []
        self.manys: list[list[str]] = []
        self.wrapped: list[str] = []
        self.poisoned = poisoned

    async def one(self, env: Envelope[Any]) -> None:
        self.ones.append(env.payload.order_id)

    async def many(self, batch, each) -> list[bool]:
        self.manys.append([env.payload.order_id for env in batch])
        if any(env.payload.order_id == self.poisoned for env in batch):
            raise ValueError("poison")
        for env in batch:
            with each(env):
                self.wrapped.append(env.payload.order_id)
        return [env.payload.order_id.endswith("again") for env in batch]


def batched_dispatcher(pair: BatchedPair, letters: list) -> MessageDispatcher:
    async def sink(env: Envelope[MessageDeadLettered]) -> None:
        letters.append(env)
    handler = consumer_module.Batched(pair.one, pair.many)
    return MessageDispatcher(group="orders-svc", handlers={OrderPlaced: handler}, dead_letter=sink, max_attempts=2,
                             retry_base_s=0)


async def test_a_batched_handler_gets_runs_in_its_batch_form_and_a_lone_message_in_its_single_form():
    pair, letters = BatchedPair(), []
    d = batched_dispatcher(pair, letters)
    records = [record(encode(order(name)), offset=n) for n, name in enumerate(["o0", "o1", "o1-again"])]
    assert await d.dispatch_batch(records) == [Outcome.HANDLED, Outcome.HANDLED, Outcome.DUPLICATE]
    assert await d.dispatch(record(encode(order("o3")), offset=3)) == Outcome.HANDLED
    assert pair.manys == [["o0", "o1", "o1-again"]] and pair.wrapped == ["o0", "o1", "o1-again"]
    assert pair.ones == ["o3"] and letters == []


async def test_a_batched_handler_whose_batch_form_fails_gets_each_message_again_in_its_single_form():
    pair, letters = BatchedPair(poisoned="o1"), []
    d = batched_dispatcher(pair, letters)
    records = [record(encode(order(f"o{n}")), offset=n) for n in range(3)]
    assert await d.dispatch_batch(records) == [Outcome.HANDLED] * 3
    assert pair.manys == [["o0", "o1", "o2"]] and pair.ones == ["o0", "o1", "o2"] and letters == []


class PreparedPair:
    """A Prepared handler: `prepare` stands for a model's inference (outside any transaction), `handle` writes
    what it got in a unit of work of the fake; handling a poisoned order fails."""

    def __init__(self, uow: Any, poisoned: str | None = None) -> None:
        self.uow, self.poisoned = uow, poisoned
        self.calls: list[str] = []

    async def prepare(self, env: Envelope[Any]) -> str:
        self.calls.append(f"prepare {env.payload.order_id}")
        return f"score of {env.payload.order_id}"

    async def handle(self, env: Envelope[Any], prepared: str) -> None:
        self.calls.append(f"handle {env.payload.order_id}")

        async def work(tx: Any) -> None:
            if env.payload.order_id == self.poisoned:
                raise ValueError("poison")
            tx.collection("scored")[env.payload.order_id] = {"_id": env.payload.order_id, "prepared": prepared}
        await self.uow.run(work)


def prepared_dispatcher(pair: PreparedPair, letters: list) -> MessageDispatcher:
    async def sink(env: Envelope[MessageDeadLettered]) -> None:
        letters.append(env)
    return MessageDispatcher(group="orders-svc", handlers={OrderPlaced: consumer_module.Prepared(pair.prepare,
                                                                                                 pair.handle)},
                             dead_letter=sink, max_attempts=2, retry_base_s=0, group_commit=pair.uow)


async def test_a_prepared_run_is_prepared_in_order_first_then_committed_in_one_transaction():
    from shared.testing.fakes import FakeUnitOfWork
    pair, letters = PreparedPair(FakeUnitOfWork()), []
    d = prepared_dispatcher(pair, letters)
    records = [record(encode(order(f"o{n}")), offset=n) for n in range(3)]
    assert await d.dispatch_batch(records) == [Outcome.HANDLED] * 3
    assert pair.calls == ["prepare o0", "prepare o1", "prepare o2", "handle o0", "handle o1", "handle o2"]
    assert pair.uow.stats["committed"] == 1 and pair.uow.stats["grouped"] == 3
    assert {k: v["prepared"] for k, v in pair.uow.docs["scored"].items()} == {
        "o0": "score of o0", "o1": "score of o1", "o2": "score of o2"}
    again = [record(encode(env), offset=n) for n, env in enumerate([order("o3")])]
    assert await d.dispatch_batch(again) == [Outcome.HANDLED]  # a lone one: prepared, then its own transaction
    assert pair.calls[-2:] == ["prepare o3", "handle o3"] and pair.uow.stats["committed"] == 2 and letters == []


async def test_a_prepared_run_failing_on_one_message_keeps_the_rest_and_dead_letters_only_that_one():
    from shared.testing.fakes import FakeUnitOfWork
    pair, letters = PreparedPair(FakeUnitOfWork(), poisoned="o1"), []
    d = prepared_dispatcher(pair, letters)
    records = [record(encode(order(f"o{n}")), offset=n) for n in range(3)]
    assert await d.dispatch_batch(records) == [Outcome.HANDLED, Outcome.DEAD_LETTERED, Outcome.HANDLED]
    assert sorted(pair.uow.docs["scored"]) == ["o0", "o2"]
    assert [letter.payload.original_offset for letter in letters] == [1]
