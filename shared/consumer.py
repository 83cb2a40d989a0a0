"""Consuming one Kafka record: decode the envelope, call the service's handler for its type, and
dead-letter what cannot be processed so the consumer moves on.

- invalid record (not JSON, bad envelope, payload fails validation): dead-lettered at once;
- handler keeps failing: retried `max_attempts` times with backoff, then dead-lettered;
- infrastructure unreachable (MongoDB, Kafka): never dead-lettered, the error propagates and the
  record is read again later (the subscriber nacks it), since the message itself is fine;
- a repeat (AlreadyProcessed from the unit of work, which records the envelope id of the message being
  handled in the handler's transaction by default): dropped;
- a type this service does not handle: ignored (consumers skip what they do not know).

Records of one partition that wait together are handled together: with a unit of work that can group-commit
(MongoUnitOfWork.run_group), consecutive messages for the same handler are committed in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from aiokafka.errors import KafkaConnectionError
from pymongo.errors import ConnectionFailure

from shared.contracts.deadletter import MessageDeadLettered
from shared.contracts.envelope import (Command, Envelope, InvalidMessage, Message, UnknownMessageType, decode,
                                      wrap)
from shared.logging import bound_contextvars, get_logger
from shared.mongo import AlreadyProcessed, Member, consuming
from shared import tracing

log = get_logger(__name__)

Handler = Callable[[Envelope[Any]], Awaitable[None]]
# What the dispatcher calls: envelopes of one partition (or of several: ServiceRuntime.consume's
# across_partitions), each partition's in order; it may say which of them were repeats.
BatchHandler = Callable[[Sequence[Envelope[Any]]], Awaitable[Sequence[bool] | None]]
# Around the handling of each envelope of a batch: its log context and its CONSUMER span.
Each = Callable[[Envelope[Any]], contextlib.AbstractContextManager[Any]]
# A service's own batch form of a handler (Batched): the envelopes, and `each` to wrap each one's handling in.
ManyHandler = Callable[[Sequence[Envelope[Any]], Each], Awaitable[Sequence[bool]]]
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (ConnectionFailure, KafkaConnectionError)
DeadLetterSink = Callable[[Envelope[MessageDeadLettered]], Awaitable[None]]
# Told each command dead-lettered (after its letter): its answer, so that the sender is not left waiting.
FailedCommand = Callable[[Envelope[Command]], Awaitable[None]]
Redact = Callable[[str], str]  # what a service hides in dead letters and failure logs (chat: its masker)


def keep_as_is(text: str) -> str:
    return text


class Outcome(StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


def processed_id(event_id: str, scope: str | None = None) -> str:
    """The id a consumer records a message as processed under: the envelope id, prefixed by the scope of a
    consumer group other than the service's own (each group handles every message once, independently)."""
    return f"{scope}:{event_id}" if scope else event_id


class GroupCommitter(Protocol):
    async def run_group(self, members: Sequence[Member]) -> int | None: ...


class BatchFailedAt(Exception):
    """A batch handler kept the first `index` envelopes (committed; `repeats` says which of them were repeats)
    and failed on the next one."""

    def __init__(self, index: int, error: BaseException, repeats: Sequence[bool] = ()) -> None:
        super().__init__(f"failed at message {index} of the batch: {error!r}")
        self.index = index
        self.error = error
        self.repeats = list(repeats)


def about(env: Envelope[Any]) -> contextlib.AbstractContextManager[Any]:
    """Log lines written while handling `env` carry its ids (a conversation's lines found across services by
    its id)."""
    return bound_contextvars(event_id=env.event_id, tenant_id=env.tenant_id, message_type=env.type,
                             conversation_id=getattr(env.payload, "conversation_id", None))


@dataclass(frozen=True)
class Source:
    """Where a dispatcher's records come from, for their spans: the topic and the consumer group."""

    topic: str | None = None
    group: str = ""

    def span(self, env: Envelope[Any]) -> contextlib.AbstractContextManager[None]:
        """The CONSUMER span of handling `env` (a child of the span that emitted it; nothing when tracing is
        off). A repeat dropped is not an error of the span."""
        if not tracing.ENABLED:
            return _UNTRACED
        return tracing.consuming_span(env, topic=self.topic, group=self.group, quiet=(AlreadyProcessed,))

    def preparing(self, env: Envelope[Any]) -> contextlib.AbstractContextManager[None]:
        """The span of a Prepared handler's slow part (a model's inference) before its unit of work: a CONSUMER
        span of its own, named `prepare <type>`, beside the one of handling it (nothing when tracing is off)."""
        if not tracing.ENABLED:
            return _UNTRACED
        return tracing.consuming_span(env, topic=self.topic, group=self.group, name=f"prepare {env.type}")


_UNTRACED = contextlib.nullcontext()


@dataclass(frozen=True)
class Batched:
    """A handler with a batch form of its own, for a service that can do better than group commit: `many`
    takes a run of several envelopes (each partition's in order) and handles them in one unit of work of its
    own, saying which were repeats; a lone envelope goes to `one` as any per-message handler does. If `many`
    raises, the dispatcher handles the run again envelope by envelope through `one`, so a bad message is
    retried and dead-lettered alone. Register one instance for all the types it handles, so they form runs."""

    one: Handler
    many: ManyHandler


@dataclass(frozen=True)
class Prepared:
    """A handler with slow work to do before its unit of work, outside any transaction (a model's inference):
    `prepare` gets an envelope and returns what `handle` needs with it. A run of several envelopes is prepared
    one by one, then handled with group commit (one transaction, as `grouped`): the slow part holds no
    transaction open, and a consumer that fell behind catches up in few transactions. A run that fails is handled
    again envelope by envelope, each prepared again."""

    prepare: Callable[[Envelope[Any]], Awaitable[Any]]
    handle: Callable[[Envelope[Any], Any], Awaitable[None]]


def prepared(handler: Prepared, uow: GroupCommitter | None, scope: str | None = None, source: Source = Source()
             ) -> BatchHandler:
    """A batch handler from a Prepared pair: every envelope prepared in order, then handled as `grouped` does."""
    async def handle(batch: Sequence[Envelope[Any]]) -> Sequence[bool] | None:
        ready: dict[int, Any] = {}
        for env in batch:
            with about(env), source.preparing(env):
                ready[id(env)] = await handler.prepare(env)

        async def call(env: Envelope[Any]) -> None:
            await handler.handle(env, ready[id(env)])
        inner = one_at_a_time(call, scope, source) if uow is None else grouped(call, uow, scope, source)
        return await inner(batch)
    return handle


def alone(handler: Any) -> Any:
    """Marks a handler never to be group-committed: one whose work is not a plain unit of work (a model's
    inference before its transaction, state kept in memory, writes outside any transaction)."""
    func = getattr(handler, "__func__", handler)
    func.group_commit = False
    return handler


def grouped(handler: Handler, uow: GroupCommitter, scope: str | None = None, source: Source = Source()
            ) -> BatchHandler:
    """A batch handler from a per-message one, with group commit: the envelopes' units of work join one
    transaction (MongoUnitOfWork.run_group), a repeat skipped. If one of them fails, nothing of the group is
    kept; those before it are committed as a group again, then it and the rest run one by one. When one fails
    alone, BatchFailedAt tells the dispatcher how many are committed (the rest is retried one by one)."""
    one = one_at_a_time(handler, scope, source)

    async def handle(batch: Sequence[Envelope[Any]]) -> list[bool] | None:
        if len(batch) == 1:
            return await one(batch)
        repeats = [False] * len(batch)  # as the attempt that was kept found them

        async def call(i: int) -> None:
            repeats[i] = False
            try:
                with about(batch[i]), source.span(batch[i]):
                    await handler(batch[i])
            except AlreadyProcessed:
                repeats[i] = True

        async def in_groups(lo: int, hi: int) -> None:
            if hi - lo == 1:
                try:
                    with consuming(processed_id(batch[lo].event_id, scope)):
                        await call(lo)
                except Exception as exc:
                    raise BatchFailedAt(lo, exc, repeats[:lo]) from exc
            if hi - lo <= 1:
                return
            failed = await uow.run_group([(processed_id(batch[i].event_id, scope), functools.partial(call, i))
                                          for i in range(lo, hi)])
            if failed is None:
                return
            log.info("group commit failed on one message; the rest one by one", size=hi - lo, at=failed)
            await in_groups(lo, lo + failed)  # went through before the failure: likely to commit as a group
            for i in range(lo + failed, hi):  # not regrouped: a failure that repeats (rejections of an overloaded
                await in_groups(i, i + 1)  # service, busy documents) would make every group fail again

        await in_groups(0, len(batch))
        return repeats
    return handle


def in_batches(handler: Batched, scope: str | None = None, source: Source = Source()) -> BatchHandler:
    """A batch handler from a Batched pair: runs of several envelopes to its `many`, a lone one to its `one`."""
    one = one_at_a_time(handler.one, scope, source)

    @contextlib.contextmanager
    def each(env: Envelope[Any]) -> Iterator[None]:
        with about(env), source.span(env):
            yield

    async def handle(batch: Sequence[Envelope[Any]]) -> Sequence[bool] | None:
        if len(batch) == 1:
            return await one(batch)
        return await handler.many(batch, each)
    return handle


def one_at_a_time(handler: Handler, scope: str | None = None, source: Source = Source()) -> BatchHandler:
    """A batch handler from a per-message one: each envelope in order, in its own unit of work (the consuming
    context records its id, see processed_id), a repeat skipped (and said), the rest of the batch still handled."""
    async def handle(batch: Sequence[Envelope[Any]]) -> list[bool] | None:
        if len(batch) == 1:  # the dispatcher counts a repeat of a lone message as a duplicate
            with consuming(processed_id(batch[0].event_id, scope)), about(batch[0]), source.span(batch[0]):
                await handler(batch[0])
            return None
        repeats = []
        for env in batch:
            try:
                with consuming(processed_id(env.event_id, scope)), about(env), source.span(env):
                    await handler(env)
                repeats.append(False)
            except AlreadyProcessed:
                repeats.append(True)
        return repeats
    return handle


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class MessageDispatcher:
    """Handles the records of one partition, in order, batch by batch: each record is decoded, invalid ones are
    dead-lettered, and runs of consecutive envelopes with the same handler go to it as one batch. A batch that
    fails is handled again one envelope at a time (already handled ones are repeats), so that one bad message
    is retried and dead-lettered alone (or, if it says how far it got with BatchFailedAt, the rest of it).
    Handlers are batch-shaped (BatchHandler); `handlers` takes per-message ones, adapted with `grouped` when a
    `group_commit` unit of work is given (and the handler is not marked `alone`), else with one_at_a_time, and
    Batched pairs (a service's own batch form), adapted with in_batches, and Prepared pairs (slow work before
    the unit of work), adapted with `prepared`.
    `idempotency_scope` (a second consumer group of the same service on the same topic) keeps its processed
    records apart from the service's main group's: see processed_id. Each envelope a per-message handler
    handles is a CONSUMER span when tracing is on (`topic` names it). `failed_command` is told each command
    dead-lettered (a command owner's consumer answers it: shared.commands.answer_failed)."""

    def __init__(self, *, group: str, dead_letter: DeadLetterSink,
                 handlers: Mapping[type[Message], Handler | Batched | Prepared] | None = None,
                 batch_handlers: Mapping[type[Message], BatchHandler] | None = None, max_attempts: int = 5,
                 retry_base_s: float = 0.2,
                 infrastructure_errors: tuple[type[BaseException], ...] = INFRASTRUCTURE_ERRORS,
                 redact: Redact = keep_as_is, idempotency_scope: str | None = None,
                 group_commit: GroupCommitter | None = None, topic: str | None = None,
                 failed_command: FailedCommand | None = None) -> None:
        self.group = group
        self._failed_command = failed_command
        source = Source(topic, group)
        self._redact = redact
        self._scope = idempotency_scope
        handlers, batch_handlers = handlers or {}, batch_handlers or {}

        def adapt(h: Handler | Batched | Prepared) -> BatchHandler:
            if isinstance(h, Batched):
                return in_batches(h, idempotency_scope, source)
            if isinstance(h, Prepared):
                return prepared(h, group_commit, idempotency_scope, source)
            if group_commit is None or getattr(h, "group_commit", True) is False:
                return one_at_a_time(h, idempotency_scope, source)
            return grouped(h, group_commit, idempotency_scope, source)
        # one adapter per handler: batches group
        adapted = {h: adapt(h) for h in set(handlers.values())}
        self._handlers: dict[str, BatchHandler] = {cls.TYPE: adapted[h] for cls, h in handlers.items()}
        self._handlers.update({cls.TYPE: h for cls, h in batch_handlers.items()})
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts
        self._retry_base_s = retry_base_s
        self._infrastructure_errors = infrastructure_errors
        self.outcomes: Counter[Outcome] = Counter()
        # for the lag in seconds (shared/metrics.py): the occurred-at of the first envelope of the batch being
        # handled, and of the last envelope of the last batch handled
        self.in_flight_since: datetime | None = None
        self.last_occurred_at: datetime | None = None
        self._newest: datetime | None = None  # of the batch being decoded

    def handles(self) -> list[str]:
        return sorted(self._handlers)

    async def dispatch(self, record: Record) -> Outcome:
        """A batch of one record (what the subscriber hands over today)."""
        (outcome,) = await self.dispatch_batch([record])
        return outcome

    async def dispatch_batch(self, records: Sequence[Record]) -> list[Outcome]:
        """Records of one partition, in offset order; one outcome per record."""
        outcomes: list[Outcome] = []
        self.in_flight_since, self._newest = None, self.last_occurred_at

        def done(these: list[Outcome]) -> None:  # counted as each run ends (a batch may take a while)
            outcomes.extend(these)
            self.outcomes.update(these)

        run: list[tuple[Record, Envelope[Any]]] = []
        run_handler: BatchHandler | None = None
        # An ignored record (a type this consumer has no handler for) does nothing, so it does not end the run
        # around it: routing.events carries a bulk setup's CapacityChanged and AgentSkillsChanged alternating, and
        # a consumer of one of them would otherwise commit a transaction per record. Its outcome keeps its place:
        # `skipped` holds, for each, how many records of the run came before it.
        skipped: list[int] = []

        async def end_run() -> None:
            placed = await self._run(run_handler, run)
            for before in reversed(skipped):  # the last first, so that the earlier places do not move
                placed.insert(before, Outcome.IGNORED)
            done(placed)
            skipped.clear()

        for record in records:
            decoded = await self._decode(record)
            if decoded is Outcome.IGNORED and run:
                skipped.append(len(run))
                continue
            if isinstance(decoded, Outcome):  # dead-lettered at decode, or ignored with no run open: the run ends
                await end_run()
                done([decoded])
                run, run_handler = [], None
                continue
            env, handler = decoded
            if handler is not run_handler:
                await end_run()
                run, run_handler = [], handler
            run.append((record, env))
        await end_run()
        self.last_occurred_at, self.in_flight_since = self._newest, None
        return outcomes

    async def _decode(self, record: Record) -> tuple[Envelope[Any], BatchHandler] | Outcome:
        try:
            env = decode(record.value)
        except UnknownMessageType as exc:
            log.debug("ignoring unknown message type", type=exc.type, topic=record.topic)
            return Outcome.IGNORED
        except InvalidMessage as exc:
            await self._give_up(record, None, str(exc), "invalid", 1)
            return Outcome.DEAD_LETTERED
        if self.in_flight_since is None:
            self.in_flight_since = env.occurred_at
        self._newest = env.occurred_at
        handler = self._handlers.get(env.type)
        return Outcome.IGNORED if handler is None else (env, handler)

    async def _run(self, handler: BatchHandler | None, run: list[tuple[Record, Envelope[Any]]]) -> list[Outcome]:
        if handler is None or not run:
            return []
        kept: list[Outcome] = []
        if len(run) > 1:
            try:
                repeats = await handler([env for _, env in run]) or [False] * len(run)
                return [Outcome.DUPLICATE if repeat else Outcome.HANDLED for repeat in repeats]
            except self._infrastructure_errors:
                raise  # not the messages' fault: the records are read again
            except BatchFailedAt as failed:
                if isinstance(failed.error, self._infrastructure_errors):
                    raise failed.error from None
                kept = [Outcome.DUPLICATE if repeat else Outcome.HANDLED for repeat in failed.repeats]
                kept += [Outcome.HANDLED] * (failed.index - len(kept))
                log.warning("batch failed; handling the rest of its messages one at a time", size=len(run),
                            kept=len(kept), error=self._redact(repr(failed.error)))
            except Exception as exc:
                log.warning("batch failed; handling its messages one at a time", size=len(run),
                            error=self._redact(repr(exc)))
        return kept + [await self._one(handler, record, env) for record, env in run[len(kept):]]

    async def _one(self, handler: BatchHandler, record: Record, env: Envelope[Any]) -> Outcome:
        with about(env):
            for attempt in range(1, self._max_attempts + 1):
                try:
                    with consuming(processed_id(env.event_id, self._scope)):
                        await handler([env])
                    return Outcome.HANDLED
                except AlreadyProcessed:
                    log.info("duplicate delivery dropped")
                    return Outcome.DUPLICATE
                except Exception as exc:
                    log.warning("handler failed", attempt=attempt, error=self._redact(repr(exc)))
                    if attempt == self._max_attempts:
                        if isinstance(exc, self._infrastructure_errors):
                            raise  # not the message's fault: keep it, it is read again
                        await self._give_up(record, env, repr(exc), "failing", attempt)
                        return Outcome.DEAD_LETTERED
                    await asyncio.sleep(self._retry_base_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async def _give_up(self, record: Record, env: Envelope[Any] | None, reason: str, kind: str,
                       attempts: int) -> None:
        reason = self._redact(reason)  # pydantic's errors quote the input
        log.error("message dead-lettered", topic=record.topic, partition=record.partition, offset=record.offset,
                  reason=reason)
        key = record.key.decode(errors="replace") if record.key is not None else None
        letter = MessageDeadLettered(
            consumer_group=self.group, original_topic=record.topic, original_partition=record.partition,
            original_offset=record.offset, original_key=key, original_event_id=env.event_id if env else None,
            original_type=env.type if env else None, reason=reason, error_kind=kind, attempts=attempts,
            value=self._redact(record.value.decode(errors="replace")))
        await self._dead_letter(wrap(letter, tenant_id=env.tenant_id if env else "unknown",
                                     key=key or f"{record.topic}/{record.partition}/{record.offset}",
                                     producer=self.group, causation_id=env.event_id if env else None,
                                     traceparent=env.traceparent if env else None))  # in the message's trace
        if env is not None and isinstance(env.payload, Command) and self._failed_command is not None:
            await self._failed_command(env)
