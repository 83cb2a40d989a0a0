"""What this process last committed of a tenant's queues and agents, so that its next routing transaction
need not read them again (two of a transaction's eleven round trips, the largest reads).

Valid exactly while no other transaction has written the tenant's routing state since: every routing transaction
claims its tenant first (repository.py), a counter incremented in the transaction, and only those transactions
write queues and agents. A claim that finds the counter one past the one this process's last commit left proves
that nothing else committed in between; any other value (another instance's commit, a reset database: the claim
document's epoch is new) drops the tenant's entries, and the transaction reads as before. Entries are kept as
BSON and decoded afresh for each use: what a transaction changes (it may yet abort) never reaches them before its
commit, and a decoded entry is exactly what a read would have returned."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import bson
from bson.codec_options import CodecOptions

Doc = dict[str, Any]
QueueEntries = dict[str, tuple[bytes, frozenset[str]]]  # queue id -> (document, member ids)


ENTRY_OVERHEAD = 100  # bytes an entry costs beyond its BSON (dict slot, key, bytes object), roughly
MEMBER_OVERHEAD = 80  # and each member id in a queue's frozenset


@dataclass
class TenantState:
    """One tenant's entries, as of the claim counter `stamp` of the commit that left them."""

    epoch: str
    stamp: int
    queues: QueueEntries | None = None  # every queue of the tenant; None: not known
    agents: dict[str, bytes | None] = field(default_factory=dict)  # agent id -> doc, or None: known not to exist
    queue_bytes: int = 0  # estimated size of `queues`
    agent_bytes: int = 0  # and of `agents`

    @property
    def size(self) -> int:
        return self.queue_bytes + self.agent_bytes


@dataclass
class Reads:
    """What one transaction read and wrote of a tenant's queues and agents, for the cache once it commits."""

    all_queues: QueueEntries | None = None  # set when it read every queue
    queues_written: dict[str, tuple[bytes, frozenset[str]] | None] = field(default_factory=dict)  # None: deleted
    agents: dict[str, bytes | None] = field(default_factory=dict)  # read (None: asked for, not found) or written


def queue_entry(doc: Doc) -> tuple[bytes, frozenset[str]]:
    return bson.encode(doc), frozenset(doc.get("member_ids", ()))


def queue_docs(entries: QueueEntries, codec: CodecOptions[Doc], ids: set[str] | None = None,
               members: set[str] | None = None) -> list[Doc]:
    """The queues with these ids or with any of these members (every queue when both are None), by id: what the
    repository's queries by id, by id or member, and of all queues return."""
    if ids is None and members is None:
        chosen = list(entries)
    elif members is None:  # by id: no need to look at the others
        chosen = [queue_id for queue_id in ids or () if queue_id in entries]
    else:  # only the chosen ones sorted, not every queue of the tenant in each transaction
        chosen = [queue_id for queue_id, (_, member_ids) in entries.items()
                  if queue_id in (ids or ()) or not member_ids.isdisjoint(members)]
    return [bson.decode(entries[queue_id][0], codec) for queue_id in sorted(chosen)]


def _queue_size(entry: tuple[bytes, frozenset[str]] | None) -> int:
    return 0 if entry is None else len(entry[0]) + MEMBER_OVERHEAD * len(entry[1]) + ENTRY_OVERHEAD


def _agent_size(raw: bytes | None) -> int:
    return len(raw or b"") + ENTRY_OVERHEAD


class StateCache:
    """Per tenant, within `max_bytes` (estimated): the least recently used tenants go first, and a tenant
    larger than that is not kept at all."""

    def __init__(self, *, max_bytes: int = 64 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._tenants: OrderedDict[str, TenantState] = OrderedDict()
        self.size = 0  # estimated bytes of every tenant's entries
        # claims (transaction attempts) that found the tenant's entries valid, and those that did not
        self.hits = self.misses = 0

    def valid(self, tenant_id: str, epoch: str, claimed: int) -> TenantState | None:
        """The tenant's entries if nothing committed since them (this transaction's claim is `claimed`)."""
        state = self._tenants.get(tenant_id)
        if state is None or state.epoch != epoch or state.stamp != claimed - 1:
            self._drop(tenant_id)
            self.misses += 1
            return None
        self._tenants.move_to_end(tenant_id)
        self.hits += 1
        return state

    def committed(self, tenant_id: str, epoch: str, claimed: int, used: TenantState | None, reads: Reads) -> None:
        """A transaction that claimed `claimed` committed, having used `used` (None: it read everything it
        needed) and read and written `reads`: the tenant's entries as of that commit. Built aside and swapped
        in, so that a failure halfway leaves the tenant with no entries rather than a mix."""
        self._drop(tenant_id)
        state = TenantState(epoch, claimed)
        if reads.all_queues is not None:
            state.queues = dict(reads.all_queues)
            state.queue_bytes = sum(map(_queue_size, state.queues.values()))
        elif used is not None and used.queues is not None:
            state.queues, state.queue_bytes = dict(used.queues), used.queue_bytes
        if state.queues is not None:
            for queue_id, entry in reads.queues_written.items():
                state.queue_bytes += _queue_size(entry) - _queue_size(state.queues.pop(queue_id, None))
                if entry is not None:
                    state.queues[queue_id] = entry
        if used is not None:
            state.agents, state.agent_bytes = used.agents, used.agent_bytes  # `used` is out: its dict is taken
        for agent_id, raw in reads.agents.items():
            state.agent_bytes += _agent_size(raw) - (_agent_size(state.agents[agent_id])
                                                      if agent_id in state.agents else 0)
            state.agents[agent_id] = raw
        if self.max_bytes <= 0 or state.size > self.max_bytes:  # none kept, or a tenant larger than all of it
            return
        self._tenants[tenant_id] = state
        self.size += state.size
        while self.size > self.max_bytes:
            self._drop(next(iter(self._tenants)))

    def _drop(self, tenant_id: str) -> None:
        state = self._tenants.pop(tenant_id, None)
        if state is not None:
            self.size -= state.size
