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


@dataclass
class TenantState:
    """One tenant's entries, as of the claim counter `stamp` of the commit that left them."""

    epoch: str
    stamp: int
    queues: QueueEntries | None = None  # every queue of the tenant; None: not known
    agents: dict[str, bytes | None] = field(default_factory=dict)  # agent id -> doc, or None: known not to exist


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
    return [bson.decode(raw, codec) for queue_id, (raw, member_ids) in sorted(entries.items())
            if ids is None and members is None or queue_id in (ids or ()) or not member_ids.isdisjoint(members or ())]


class StateCache:
    """Per tenant, for the most recently used `max_tenants` tenants."""

    def __init__(self, *, max_tenants: int = 256) -> None:
        self.max_tenants = max_tenants
        self._tenants: OrderedDict[str, TenantState] = OrderedDict()
        self.hits = self.misses = 0  # claims that found the tenant's entries valid, and those that did not

    def valid(self, tenant_id: str, epoch: str, claimed: int) -> TenantState | None:
        """The tenant's entries if nothing committed since them (this transaction's claim is `claimed`)."""
        state = self._tenants.get(tenant_id)
        if state is None or state.epoch != epoch or state.stamp != claimed - 1:
            self._tenants.pop(tenant_id, None)
            self.misses += 1
            return None
        self._tenants.move_to_end(tenant_id)
        self.hits += 1
        return state

    def committed(self, tenant_id: str, epoch: str, claimed: int, used: TenantState | None, reads: Reads) -> None:
        """A transaction that claimed `claimed` committed, having used `used` (None: it read everything it
        needed) and read and written `reads`: the tenant's entries as of that commit."""
        state = used if used is not None else TenantState(epoch, claimed)
        state.stamp = claimed
        if reads.all_queues is not None:
            state.queues = dict(reads.all_queues)
        if state.queues is not None:
            for queue_id, entry in reads.queues_written.items():
                if entry is None:
                    state.queues.pop(queue_id, None)
                else:
                    state.queues[queue_id] = entry
        state.agents.update(reads.agents)
        self._tenants[tenant_id] = state
        self._tenants.move_to_end(tenant_id)
        while len(self._tenants) > self.max_tenants:
            self._tenants.popitem(last=False)
