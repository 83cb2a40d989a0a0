"""Routing's cache of what its process committed (adapters/state_cache.py): when it may be used, what a commit
leaves in it, and the queue selection that stands in for the repository's queries."""

from __future__ import annotations

import bson
from bson.codec_options import CodecOptions

from services.routing.adapters.state_cache import (ENTRY_OVERHEAD, MEMBER_OVERHEAD, Reads, StateCache, queue_docs,
                                                   queue_entry)

CODEC: CodecOptions = CodecOptions(tz_aware=True)


def queue(queue_id: str, *members: str) -> dict:
    return {"_id": f"t1|{queue_id}", "queue_id": queue_id, "member_ids": sorted(members), "version": 1}


def test_entries_are_used_only_at_the_next_claim_of_the_same_epoch():
    cache = StateCache()
    assert cache.valid("t1", "e1", 1) is None  # nothing yet
    cache.committed("t1", "e1", 1, None, Reads(agents={"a1": bson.encode({"agent_id": "a1"})}))
    assert cache.valid("t1", "e2", 2) is None  # another database (its claim document is new)
    cache.committed("t1", "e1", 5, None, Reads())
    assert cache.valid("t1", "e1", 7) is None  # claim 6 was someone else's
    cache.committed("t1", "e1", 7, None, Reads(agents={"a1": bson.encode({"agent_id": "a1"})}))
    state = cache.valid("t1", "e1", 8)
    assert state is not None and set(state.agents) == {"a1"}
    assert (cache.hits, cache.misses) == (1, 3)


def test_a_commit_applies_what_it_wrote_over_what_was_there():
    cache = StateCache()
    everything = {q["queue_id"]: queue_entry(q) for q in (queue("q1", "a1"), queue("q2", "a2"))}
    cache.committed("t1", "e", 1, None, Reads(all_queues=everything, agents={"a1": b"x", "gone": None}))
    state = cache.valid("t1", "e", 2)
    assert state is not None
    cache.committed("t1", "e", 2, state, Reads(queues_written={"q2": None, "q3": queue_entry(queue("q3", "a1"))},
                                              agents={"a2": b"y"}))
    state = cache.valid("t1", "e", 3)
    assert state is not None and state.queues is not None
    assert sorted(state.queues) == ["q1", "q3"]
    assert state.agents == {"a1": b"x", "gone": None, "a2": b"y"}


def test_queues_written_before_every_queue_is_known_are_not_kept_as_if_they_were_all():
    cache = StateCache()
    cache.committed("t1", "e", 1, None, Reads(queues_written={"q1": queue_entry(queue("q1"))}))
    state = cache.valid("t1", "e", 2)
    assert state is not None and state.queues is None  # q2 may exist: the next transaction reads them all


def test_the_least_recently_used_tenants_go_first_past_the_byte_budget():
    agent = bson.encode({"agent_id": "a", "pad": "x" * 900})  # about 1,000 bytes with its overhead

    def reads() -> Reads:
        return Reads(agents={"a": agent})
    cache = StateCache(max_bytes=2500)
    for tenant in ("t1", "t2"):
        cache.committed(tenant, "e", 1, None, reads())
    assert cache.size == 2 * (len(agent) + ENTRY_OVERHEAD)
    cache.committed("t1", "e", 2, cache.valid("t1", "e", 2), reads())  # t1 used: t2 is now the oldest
    cache.committed("t3", "e", 1, None, reads())
    assert cache.valid("t2", "e", 2) is None
    assert cache.valid("t1", "e", 3) is not None and cache.valid("t3", "e", 2) is not None
    assert cache.size == 2 * (len(agent) + ENTRY_OVERHEAD)
    cache.committed("t4", "e", 1, None, Reads(agents={f"a{n}": agent for n in range(3)}))  # alone past the budget
    assert cache.valid("t4", "e", 2) is None
    nothing = StateCache(max_bytes=0)
    nothing.committed("t1", "e", 1, None, Reads())
    assert nothing.valid("t1", "e", 2) is None and nothing.size == 0


def test_the_size_follows_what_commits_change():
    cache = StateCache()
    q1, q2 = queue_entry(queue("q1", "a1")), queue_entry(queue("q2", "a1", "a2"))
    cache.committed("t1", "e", 1, None, Reads(all_queues={"q1": q1}, agents={"a1": b"12345", "x": None}))
    state = cache.valid("t1", "e", 2)
    cache.committed("t1", "e", 2, state, Reads(queues_written={"q1": None, "q2": q2}, agents={"a1": b"1"}))
    expected = (len(q2[0]) + 2 * MEMBER_OVERHEAD + ENTRY_OVERHEAD) + (1 + ENTRY_OVERHEAD) + ENTRY_OVERHEAD
    assert cache.size == expected == cache.valid("t1", "e", 3).size


def test_queue_selection_matches_the_repositorys_queries():
    entries = {q["queue_id"]: queue_entry(q) for q in (queue("q1", "a1", "a2"), queue("q2", "a3"), queue("q3"))}
    ids = lambda docs: [d["queue_id"] for d in docs]  # noqa: E731
    assert ids(queue_docs(entries, CODEC)) == ["q1", "q2", "q3"]  # all()
    assert ids(queue_docs(entries, CODEC, {"q3", "nope"})) == ["q3"]  # by_ids()
    assert ids(queue_docs(entries, CODEC, {"q2"}, {"a2"})) == ["q1", "q2"]  # named_or_with_members()
    assert ids(queue_docs(entries, CODEC, set(), set())) == []
    assert queue_docs(entries, CODEC, {"q2"})[0] == queue("q2", "a3")
