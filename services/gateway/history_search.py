"""History search (C6) for staff: which conversations a search may look in, decided here by the same permission
table as every other read (read_messages), then searched by chat over masked text only.

The scope is a list of conversation ids from the gateway's own projection (`conversations`, indexed by agent,
served_by, queue and customer): one conversation, a customer's (or a contact's customers'), or all the caller
may read. A caller who may read more than chat takes in one search (a supervisor of busy queues) searches the
tenant's newest matches instead, and each hit is checked the same way before it is shown."""

from __future__ import annotations

from typing import Any

from shared.contracts.chat.privacy import MAX_SEARCH_CONVERSATIONS

from services.gateway.adapters.favourites import FAVOURITES
from services.gateway.adapters.store import CONVERSATIONS, QUEUES
from services.gateway.auth.permissions import Action, Relation, allowed
from services.gateway.identity import Staff, relations_to, waits_in_queue

Doc = dict[str, Any]
# What relations_to reads (nothing more: decoding thousands of views is most of a wide search's time here).
_RELATION_FIELDS = {"conversation_id": 1, "state": 1, "agents": 1, "served_by": 1, "offered": 1, "invited": 1,
                    "queue_id": 1, "offline": 1, "customer_id": 1}


async def _member_queues(db: Any, staff: Staff) -> set[str]:
    return {q["queue_id"] async for q in db[QUEUES].find({"tenant_id": staff.tenant_id, "members": staff.user_id},
                                                         {"queue_id": 1})}


async def _favourites(db: Any, staff: Staff) -> set[str]:
    """The customers the caller has as favourites (index of_agent)."""
    return {f["customer_id"] async for f in db[FAVOURITES].find({"tenant_id": staff.tenant_id,
                                                                 "agents": staff.user_id}, {"customer_id": 1})}


async def readable(db: Any, staff: Staff, views: list[Doc]) -> list[str]:
    """The ids of those conversations the caller may read the messages of, in the order given."""
    members = await _member_queues(db, staff) if any(waits_in_queue(v) for v in views) else set()
    favourites = await _favourites(db, staff) if views else set()
    return [v["conversation_id"] for v in views if allowed(staff.role, Action.READ_MESSAGES, relations_to(
        v, staff, queue_member=v.get("queue_id") in members, favourite=v.get("customer_id") in favourites))]


async def customers_conversations(db: Any, staff: Staff, customer_ids: list[str]) -> list[str]:
    """The conversations of these chat customers the caller may read, newest first (index customer_appeals)."""
    views = await db[CONVERSATIONS].find({"tenant_id": staff.tenant_id, "customer_id": {"$in": customer_ids}},
                                         _RELATION_FIELDS).sort("started_at", -1).to_list()
    return (await readable(db, staff, views))[:MAX_SEARCH_CONVERSATIONS]


async def callers_conversations(db: Any, staff: Staff) -> list[str] | None:
    """Every conversation the caller may read, or None when there may be more than one search takes: those they
    served or work, of queues they supervise, offline messages of their queues, their favourites'.

    The closed conversations they served are most of an agent's (thousands): those are 'assigned' to them by
    relations_to whatever else they are, so when the caller's role may read what is assigned to it they are
    taken by id alone (no view decoded, no check per view); the rest is checked view by view."""
    if staff.queues and await db[CONVERSATIONS].count_documents(  # counted on index open_list, no document read
            {"tenant_id": staff.tenant_id, "queue_id": {"$in": list(staff.queues)}},
            limit=MAX_SEARCH_CONVERSATIONS + 1) > MAX_SEARCH_CONVERSATIONS:
        return None
    members, favourites = await _member_queues(db, staff), await _favourites(db, staff)
    me = staff.user_id
    by_id: list[str] = []
    branches: list[Doc] = [{"agents": me}]
    if allowed(staff.role, Action.READ_MESSAGES, {Relation.ASSIGNED}):
        by_id = [v["conversation_id"] for v in await db[CONVERSATIONS].find(
            {"tenant_id": staff.tenant_id, "served_by": me, "state": "closed"}, {"_id": 0, "conversation_id": 1}
        ).limit(MAX_SEARCH_CONVERSATIONS + 1).to_list()]
        if len(by_id) > MAX_SEARCH_CONVERSATIONS:
            return None  # too many already: the other branches need not be read
        branches.append({"served_by": me, "state": {"$ne": "closed"}})
    else:
        branches.append({"served_by": me})
    if staff.queues:
        branches.append({"queue_id": {"$in": list(staff.queues)}})
    if members:
        branches.append({"queue_id": {"$in": sorted(members)}, "state": "closed", "offline": True})
    if favourites:
        branches.append({"customer_id": {"$in": sorted(favourites)}})
    # The tenant in every branch, none at the top: else the planner may scan the tenant on one index.
    views = await db[CONVERSATIONS].find({"$or": [{"tenant_id": staff.tenant_id, **b} for b in branches]},
                                         _RELATION_FIELDS).limit(MAX_SEARCH_CONVERSATIONS + 1).to_list()
    known = set(by_id)
    views = [v for v in views if v["conversation_id"] not in known]
    if len(by_id) + len(views) > MAX_SEARCH_CONVERSATIONS:
        return None
    return by_id + [v["conversation_id"] for v in views if allowed(staff.role, Action.READ_MESSAGES, relations_to(
        v, staff, queue_member=v.get("queue_id") in members, favourite=v.get("customer_id") in favourites))]


async def readable_hits(db: Any, staff: Staff, hits: list[Doc]) -> list[Doc]:
    """The hits (of the tenant's newest matches) from conversations the caller may read."""
    ids = sorted({h["conversation_id"] for h in hits})
    views = await db[CONVERSATIONS].find({"_id": {"$in": [f"{staff.tenant_id}:{cid}" for cid in ids]}},
                                         _RELATION_FIELDS).to_list()
    keep = set(await readable(db, staff, views))
    return [h for h in hits if h["conversation_id"] in keep]
