"""A support line's rows (U3) as a reader may see them: a row's preview is the last message of the user's latest
conversation on the line, so it shows only to whoever may read that conversation's preview or messages
(auth/permissions.py). A line member with nothing to do with the conversation still gets the row (name, status,
when it last wrote, who has it open) with an empty preview. Used by the line list (api_lines.py) and its live
`line_user` frames (handlers.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.gateway.adapters.store import CONVERSATIONS, QUEUES, USERS
from services.gateway.auth.permissions import Action, Role, allowed
from services.gateway.identity import Staff, relations_to

Doc = dict[str, Any]


def just_started(line_id: str, customer_id: str) -> Doc:
    """The view of a conversation the gateway has not seen yet when its line row changes: chat's start reaches the
    gateway on another topic than customer's row, and either may come first. A conversation not seen yet has just
    started on the line, so it waits in it (the line is its queue)."""
    return {"queue_id": line_id, "state": "queued", "agents": [], "offered": [], "customer_id": customer_id}


def may_see_preview(staff: Staff, view: Doc | None, *, queue_member: bool, favourite: bool) -> bool:
    """Whether `staff` may read the preview or the messages of the conversation `view` (none: no)."""
    if view is None:
        return False
    relations = relations_to(view, staff, queue_member=queue_member, favourite=favourite)
    return allowed(staff.role, Action.READ_PREVIEW, relations) or allowed(staff.role, Action.READ_MESSAGES, relations)


async def latest_on_line(db: Any, tenant_id: str, line_id: str, customer_ids: Iterable[str],
                         session: Any = None) -> dict[str, Doc]:
    """Each customer's most recent conversation on the line, as the gateway's view keeps it."""
    latest: dict[str, Doc] = {}
    cursor = db[CONVERSATIONS].find({"tenant_id": tenant_id, "customer_id": {"$in": list(customer_ids)},
                                     "queue_id": line_id}, session=session).sort("started_at", -1)
    async for view in cursor:
        latest.setdefault(view["customer_id"], view)
    return latest


async def hide_previews(db: Any, staff: Staff, line_id: str, page: Doc) -> Doc:
    """The line list's page with the previews `staff` may not read emptied."""
    rows = [row for row in page.get("rows", []) if row.get("preview")]
    if not rows:
        return page
    queue = await db[QUEUES].find_one({"_id": f"{staff.tenant_id}:{line_id}"})
    member = bool(queue) and staff.user_id in queue["members"]
    views = await latest_on_line(db, staff.tenant_id, line_id, {row["customer_id"] for row in rows})
    for row in rows:
        view = views.get(row["customer_id"]) or just_started(line_id, row["customer_id"])
        if not may_see_preview(staff, view, queue_member=member,
                               favourite=bool(row.get("favourite"))):
            row["preview"] = ""
    return page


async def hide_in_frames(db: Any, session: Any, tenant_id: str, line_id: str, customer_id: str,
                         frames: list[tuple[str, Doc]], *, members: Iterable[str], favourites: Iterable[str]
                         ) -> list[tuple[str, Doc]]:
    """(agent, line_user frame) pairs with the preview emptied for the agents who may not read it."""
    if not any(frame.get("preview") for _, frame in frames):
        return frames
    view = (await latest_on_line(db, tenant_id, line_id, [customer_id], session)).get(customer_id) \
        or just_started(line_id, customer_id)
    members, favourites = set(members), set(favourites)
    users = db[USERS].find({"_id": {"$in": [f"{tenant_id}:{agent}" for agent, _ in frames]}}, session=session)
    staff = {u["user_id"]: Staff(tenant_id, u["user_id"], Role(u["role"]), "", tuple(u.get("supervises", ())))
             async for u in users}
    return [(agent, frame if agent in staff and may_see_preview(staff[agent], view, queue_member=agent in members,
                                                                 favourite=agent in favourites)
             else {**frame, "preview": ""}) for agent, frame in frames]
