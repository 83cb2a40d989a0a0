"""One contract, two backends: the in-memory FakeUnitOfWork (shared/testing/fakes.py) that use-case tests
run on behaves as the MongoDB unit of work the services run on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from shared.contracts.envelope import Event, wrap
from shared.mongo import OUTBOX, AlreadyProcessed, ConcurrencyConflict, MongoUnitOfWork, consuming
from shared.settings import ServiceSettings
from shared.testing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.integration


class Noted(Event):
    """A test event."""
    TYPE: ClassVar[str] = "test.uow.Noted"
    key: str


class Backend:
    """The same few operations on either backend: write a document, read them all, read the outbox."""

    def __init__(self, uow: Any, kind: str) -> None:
        self.uow, self.kind = uow, kind

    async def put(self, tx: Any, key: str, value: int) -> None:
        if self.kind == "fake":
            tx.collection("kv")[key] = {"_id": key, "v": value}
        else:
            await tx.db.kv.replace_one({"_id": key}, {"v": value}, upsert=True, session=tx.session)

    async def stored(self) -> dict[str, int]:
        if self.kind == "fake":
            return {k: d["v"] for k, d in self.uow.docs.get("kv", {}).items()}
        return {d["_id"]: d["v"] async for d in self.uow.db.kv.find()}

    async def emitted(self) -> list[str]:
        if self.kind == "fake":
            return [env.payload.key for _, env in self.uow.outbox]
        return [r["key"] async for r in self.uow.db[OUTBOX].find().sort("_id", 1)]


@pytest.fixture(params=["fake", "mongo"])
async def backend(request, unique) -> AsyncIterator[Backend]:
    if request.param == "fake":
        yield Backend(FakeUnitOfWork(), "fake")
        return
    from shared.mongo import make_mongo_client
    infra = request.getfixturevalue("infrastructure")
    client = make_mongo_client(ServiceSettings(mongo_url=infra.mongo_url))
    try:
        yield Backend(MongoUnitOfWork(client, f"uow-{unique}"), "mongo")
    finally:
        await client.drop_database(f"uow-{unique}")
        await client.close()


def note(backend: Backend, key: str, value: int, *, fail: Exception | None = None):
    async def work(tx: Any) -> int:
        await backend.put(tx, key, value)
        tx.emit("test.notes", wrap(Noted(key=key), tenant_id="t1", key=key, producer="test"))
        if fail is not None:
            raise fail
        return value
    return work


async def test_state_and_events_commit_together(backend):
    assert await backend.uow.run(note(backend, "a", 1)) == 1
    assert await backend.stored() == {"a": 1}
    assert await backend.emitted() == ["a"]


async def test_a_failing_unit_of_work_changes_nothing_and_emits_nothing(backend):
    await backend.uow.run(note(backend, "a", 1))
    with pytest.raises(RuntimeError, match="rule broken"):
        await backend.uow.run(note(backend, "a", 2, fail=RuntimeError("rule broken")))
    assert await backend.stored() == {"a": 1}
    assert await backend.emitted() == ["a"]


async def test_a_message_id_seen_before_is_refused_and_changes_nothing(backend):
    await backend.uow.run(note(backend, "a", 1), message_id="m1")
    with pytest.raises(AlreadyProcessed):
        await backend.uow.run(note(backend, "a", 2), message_id="m1")
    assert await backend.stored() == {"a": 1}
    assert await backend.emitted() == ["a"]


async def test_the_consumed_message_id_is_recorded_by_default_and_only_inside_a_consumer(backend):
    with consuming("envelope-7"):
        await backend.uow.run(note(backend, "a", 1))
        with pytest.raises(AlreadyProcessed):
            await backend.uow.run(note(backend, "a", 2))
        await backend.uow.run(note(backend, "b", 1), message_id=None)  # stated explicitly: not the message
    await backend.uow.run(note(backend, "c", 1))  # outside a consumer: nothing to record
    await backend.uow.run(note(backend, "c", 2))
    assert await backend.stored() == {"a": 1, "b": 1, "c": 2}


async def test_a_version_conflict_runs_the_work_again_on_fresh_state(backend):
    tries = []

    async def conflicting_once(tx: Any) -> int:
        tries.append(1)
        await note(backend, "a", len(tries))(tx)
        if len(tries) == 1:
            raise ConcurrencyConflict("changed since it was read")
        return len(tries)

    assert await backend.uow.run(conflicting_once, message_id="m2") == 2
    assert await backend.stored() == {"a": 2}
    assert await backend.emitted() == ["a"]  # the first attempt's event was never committed
    assert backend.uow.stats["conflicts"] == 1


async def test_a_versioned_put_inserts_once_and_replaces_only_the_version_it_read(backend):
    async def put(doc: dict[str, Any], read_version: int | None) -> None:
        async def work(tx: Any) -> None:
            await tx.put("versioned", doc, read_version=read_version)
        await backend.uow.run(work, max_conflicts=1)

    async def stored() -> dict[str, Any] | None:
        async def work(tx: Any) -> dict[str, Any] | None:
            return await tx.load("versioned", "x")
        return await backend.uow.run(work)

    await put({"_id": "x", "version": 1, "v": "first"}, None)
    with pytest.raises(ConcurrencyConflict, match="changed since it was read|created concurrently"):
        await put({"_id": "x", "version": 1, "v": "again"}, None)  # it exists now
    await put({"_id": "x", "version": 2, "v": "second"}, 1)
    with pytest.raises(ConcurrencyConflict, match="changed since it was read"):
        await put({"_id": "x", "version": 2, "v": "stale"}, 1)  # read before the second write
    assert await stored() == {"_id": "x", "version": 2, "v": "second"}


async def test_find_one_matches_on_equal_fields(backend):
    async def work(tx: Any) -> list[Any]:
        await tx.put("people", {"_id": "a", "tenant_id": "t1", "email": "x@example.com", "version": 1},
                     read_version=None)
        await tx.put("people", {"_id": "b", "tenant_id": "t2", "email": "x@example.com", "version": 1},
                     read_version=None)
        return [await tx.find_one("people", {"tenant_id": "t2", "email": "x@example.com"}),
                await tx.find_one("people", {"tenant_id": "t3", "email": "x@example.com"})]
    found, missing = await backend.uow.run(work)
    assert found["_id"] == "b" and missing is None


async def test_find_update_many_and_delete_many_match_on_equal_fields_and_dotted_paths(backend):
    async def seed(tx: Any) -> None:
        for key, tenant, who in (("a", "t1", "c1"), ("b", "t1", "c2"), ("c", "t2", "c1"), ("d", "t1", "c1")):
            await tx.store("talks", {"_id": key, "tenant_id": tenant, "customer": {"customer_id": who}, "text": key})
    await backend.uow.run(seed, message_id=None)

    async def change(tx: Any) -> tuple[list[str], int, int, int]:
        mine = {"tenant_id": "t1", "customer.customer_id": "c1"}
        found = sorted(d["_id"] for d in await tx.find("talks", mine))
        changed = await tx.update_many("talks", mine, {"text": "[erased]", "customer.name": "Erased"})
        again = await tx.update_many("talks", mine, {"text": "[erased]", "customer.name": "Erased"})
        gone = await tx.delete_many("talks", {"tenant_id": "t1", "customer.customer_id": "c2"})
        return found, changed, again, gone
    assert await backend.uow.run(change, message_id=None) == (["a", "d"], 2, 0, 1)

    async def read(tx: Any) -> list[tuple[str, str, str | None]]:
        return sorted((d["_id"], d["text"], d["customer"].get("name")) for d in await tx.find("talks", {}))
    assert await backend.uow.run(read, message_id=None) == [("a", "[erased]", "Erased"), ("c", "c", None),
                                                             ("d", "[erased]", "Erased")]


async def test_an_array_field_matches_a_value_it_holds(backend):
    async def work(tx: Any) -> tuple[list[str], list[str], int]:
        for key, records in (("a", ["case:k1", "contact:ann"]), ("b", ["contact:ann"]), ("c", [])):
            await tx.store("entries", {"_id": key, "tenant_id": "t1", "records": records})
        found = sorted(d["_id"] for d in await tx.find("entries", {"tenant_id": "t1", "records": "contact:ann"}))
        whole = sorted(d["_id"] for d in await tx.find("entries", {"records": ["contact:ann"]}))
        changed = await tx.update_many("entries", {"records": "case:k1"}, {"records": ["case:k2"]})
        return found, whole, changed
    assert await backend.uow.run(work, message_id=None) == (["a", "b"], ["b"], 1)


# --- group commit (run_group): several consumed messages in one transaction ---------------------------------

def member(backend: Backend, message_id: str, key: str, value: int, *, fail: Exception | None = None):
    """What the consumer's group adapter hands run_group: the message's id, and a call running its unit of work."""
    async def call() -> None:
        with contextlib.suppress(AlreadyProcessed):
            await backend.uow.run(note(backend, key, value, fail=fail))
    return message_id, call


async def test_a_group_commits_its_members_state_events_and_ids_together(backend):
    members = [member(backend, f"m{n}", k, n) for n, k in enumerate("abc")]
    assert await backend.uow.run_group(members) is None
    assert await backend.stored() == {"a": 0, "b": 1, "c": 2}
    assert await backend.emitted() == ["a", "b", "c"]
    for n in range(3):
        with consuming(f"m{n}"), pytest.raises(AlreadyProcessed):
            await backend.uow.run(note(backend, "z", 9))


async def test_a_failing_member_keeps_nothing_of_the_group_and_says_which_it_was(backend):
    members = [member(backend, "m0", "a", 0), member(backend, "m1", "b", 1, fail=ValueError("bad")),
               member(backend, "m2", "c", 2)]
    assert await backend.uow.run_group(members) == 1
    assert await backend.stored() == {} and await backend.emitted() == []
    with consuming("m0"):  # its id was not kept either
        await backend.uow.run(note(backend, "a", 0))


async def test_members_seen_before_or_twice_in_the_group_are_skipped_and_the_rest_commits(backend):
    with consuming("m1"):
        await backend.uow.run(note(backend, "b", 1))
    members = [member(backend, "m0", "a", 0), member(backend, "m1", "b", 99), member(backend, "m2", "c", 2),
               member(backend, "m2", "c", 98)]
    assert await backend.uow.run_group(members) is None
    assert await backend.stored() == {"a": 0, "b": 1, "c": 2}
    assert await backend.emitted() == ["b", "a", "c"]


async def test_a_conflict_in_one_member_runs_the_whole_group_again_and_keeps_each_once(backend):
    conflicts = [ConcurrencyConflict("kv/b: changed since it was read")]

    async def flaky() -> None:
        async def work(tx: Any) -> None:
            await backend.put(tx, "b", 1)
            tx.emit("test.notes", wrap(Noted(key="b"), tenant_id="t1", key="b", producer="test"))
            if conflicts:
                raise conflicts.pop()
        await backend.uow.run(work)

    members = [member(backend, "m0", "a", 0), ("m1", flaky), member(backend, "m2", "c", 2)]
    assert await backend.uow.run_group(members) is None
    assert await backend.stored() == {"a": 0, "b": 1, "c": 2}
    assert await backend.emitted() == ["a", "b", "c"]


async def test_an_error_a_handler_caught_still_spoils_the_group(backend):
    async def swallowing() -> None:
        with contextlib.suppress(ValueError):
            await backend.uow.run(note(backend, "b", 1, fail=ValueError("bad")))
        await backend.uow.run(note(backend, "b2", 1), message_id=None)  # what it would do instead

    assert await backend.uow.run_group([member(backend, "m0", "a", 0), ("m1", swallowing)]) == 1
    assert await backend.stored() == {} and await backend.emitted() == []


async def test_a_group_that_keeps_conflicting_gives_up_at_the_member_it_reached_and_keeps_nothing(backend):
    async def always_conflicting() -> None:
        async def work(tx: Any) -> None:
            raise ConcurrencyConflict("kv/b: changed since it was read")
        await backend.uow.run(work)

    members = [member(backend, "m0", "a", 0), ("m1", always_conflicting), member(backend, "m2", "c", 2)]
    assert await backend.uow.run_group(members) == 1
    assert await backend.stored() == {} and await backend.emitted() == []


# --- insert_later: inserts at the end of the transaction, a group's in one write ------------------------------

async def later_ones(backend: Backend) -> list[str]:
    if backend.kind == "fake":
        return [d["n"] for _, d in sorted(backend.uow.docs.get("later", {}).items())]
    return [d["n"] async for d in backend.uow.db.later.find().sort("_id", 1)]


def queuing(backend: Backend, message_id: str, *names: str, fail: Exception | None = None):
    async def call() -> None:
        async def work(tx: Any) -> None:
            for name in names:
                tx.insert_later("later", {"n": name})
            if fail is not None:
                raise fail
        await backend.uow.run(work)
    return message_id, call


async def test_inserts_later_commit_with_the_group_in_call_order_or_not_at_all(backend):
    assert await backend.uow.run_group([queuing(backend, "m0", "a", "b"), queuing(backend, "m1", "c"),
                                        queuing(backend, "m2", "d")]) is None
    assert await later_ones(backend) == ["a", "b", "c", "d"]
    failed = [queuing(backend, "m3", "e"), queuing(backend, "m4", "f", fail=ValueError("bad"))]
    assert await backend.uow.run_group(failed) == 1
    assert await later_ones(backend) == ["a", "b", "c", "d"]


async def test_a_groups_inserts_later_are_one_insert_command(infrastructure, unique):
    from pymongo import AsyncMongoClient

    from shared.testing.mongo import CommandLog

    commands = CommandLog()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infrastructure.mongo_url, tz_aware=True,
                                                                event_listeners=[commands])
    backend = Backend(MongoUnitOfWork(client, f"uow-{unique}"), "mongo")
    try:
        assert await backend.uow.run_group([queuing(backend, f"m{n}", f"x{n}") for n in range(5)]) is None
        inserts = [target for _, target in commands.named("insert")]
        assert inserts.count("later") == 1, inserts
        assert await later_ones(backend) == [f"x{n}" for n in range(5)]
    finally:
        await client.drop_database(f"uow-{unique}")
        await client.close()


async def test_a_commit_wakes_only_the_relays_of_what_it_wrote(backend):
    """The outbox relay after a commit that emitted, the gateway's frame relay after one that queued frames
    (insert_later): a relay woken after a commit that wrote nothing for it reads its queue for nothing."""
    woken: list[str] = []
    backend.uow.add_on_commit(lambda: woken.append("outbox"), wrote=OUTBOX)
    backend.uow.add_on_commit(lambda: woken.append("later"), wrote="later")

    async def state_only(tx: Any) -> None:
        await backend.put(tx, "s", 1)
    await backend.uow.run(state_only)
    assert woken == []
    await backend.uow.run(note(backend, "a", 1))
    assert woken == ["outbox"]
    await queuing(backend, "m0", "x")[1]()
    assert woken == ["outbox", "later"]
    assert await backend.uow.run_group([queuing(backend, "m1", "y"), queuing(backend, "m2", "z")]) is None
    assert woken == ["outbox", "later", "later"]
    with pytest.raises(ValueError):
        await queuing(backend, "m3", "w", fail=ValueError("bad"))[1]()
    assert woken == ["outbox", "later", "later"]


async def test_after_commit_runs_only_for_the_attempt_that_committed(backend):
    """A transaction's after_commit callbacks run once it has committed: not those of an attempt that was run
    again after a conflict, nor those of a unit of work that failed, nor those of a group that was not kept."""
    done: list[str] = []
    tries: list[int] = []

    async def conflicting_once(tx: Any) -> None:
        tries.append(1)
        tx.after_commit(lambda n=len(tries): done.append(f"attempt {n}"))
        await note(backend, "a", len(tries))(tx)
        if len(tries) == 1:
            raise ConcurrencyConflict("changed since it was read")
    await backend.uow.run(conflicting_once)
    assert done == ["attempt 2"]

    async def failing(tx: Any) -> None:
        tx.after_commit(lambda: done.append("failed"))
        raise ValueError("bad")
    with pytest.raises(ValueError):
        await backend.uow.run(failing)
    assert done == ["attempt 2"]

    def in_group(message_id: str, *, fail: Exception | None = None):
        async def call() -> None:
            async def work(tx: Any) -> None:
                tx.after_commit(lambda: done.append(message_id))
                await note(backend, message_id, 1, fail=fail)(tx)
            await backend.uow.run(work)
        return message_id, call
    assert await backend.uow.run_group([in_group("g1"), in_group("g2")]) is None
    assert done == ["attempt 2", "g1", "g2"]
    assert await backend.uow.run_group([in_group("g3"), in_group("g4", fail=ValueError("bad"))]) == 1
    assert done == ["attempt 2", "g1", "g2"]


async def test_a_failing_after_commit_callback_does_not_undo_or_fail_the_commit(backend):
    done: list[str] = []

    async def work(tx: Any) -> int:
        tx.after_commit(lambda: 1 / 0)
        tx.after_commit(lambda: done.append("second"))
        return await note(backend, "a", 1)(tx)
    assert await backend.uow.run(work) == 1
    assert await backend.stored() == {"a": 1}
    assert done == ["second"]
