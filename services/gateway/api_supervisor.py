"""Supervisors (G5): the live board of the queues they supervise (conversations, agents, waiting items) and
read-only observation of those conversations. The board is read from the gateway's own projections (the
conversations of the work lists, the active views, agents' presence and load); it changes as
`board_conversation` / `board_agent` frames on the supervisor's stream, and an observed conversation's frames
come there too, marked `observing` (desk.py). An observer may not write to the customer (403 read_only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from shared.contracts.envelope import Identifier

from services.gateway import board
from services.gateway.adapters.store import ACTIVE_VIEWS, CONVERSATIONS, QUEUES
from services.gateway.auth.permissions import FORBIDDEN, Action, Relation, refusal
from services.gateway.desk import AGENT_STATUS, OBSERVERS, agent_load
from services.gateway.identity import Staff, authorise, raise_refusal, require_staff
from services.gateway.reads import chat_read

router = APIRouter(tags=["supervisor"])


class Board(BaseModel):
    queues: list[str] = Field(description="The queues the caller supervises.")
    conversations: list[dict[str, Any]] = Field(description="Not closed, newest change first: conversation_id, "
                                                            "state, queue_id, customer_name, agent_id, agents, "
                                                            "waiting, waited_s, preview, started_at.")
    waiting: list[dict[str, Any]] = Field(description="The conversations waiting for an agent, longest first.")
    agents: list[dict[str, Any]] = Field(description="Members of those queues: presence, and load and capacity "
                                                     "per channel.")


@router.get("/v1/supervisor/board", response_model=Board)
async def read_board(request: Request, staff: Staff = Depends(require_staff),
                     limit: int = Query(200, ge=1, le=1000)) -> Board:
    refused = refusal(staff.role, Action.SUPERVISE)
    if refused is not None:
        raise_refusal(refused)
    db, t, queues = request.app.state.gateway.db, staff.tenant_id, list(staff.queues)
    now = datetime.now(UTC)
    conversations = await db[CONVERSATIONS].find({"tenant_id": t, "queue_id": {"$in": queues},
                                                  "state": {"$ne": "closed"}}).sort("updated_at", -1).limit(
        limit).to_list()
    views = {v["_id"]: v async for v in db[ACTIVE_VIEWS].find({"_id": {"$in": [c["_id"] for c in conversations]}})}
    rows = [board.conversation_row(c, views.get(c["_id"]), now) for c in conversations]
    members: dict[str, list[str]] = {}
    async for queue in db[QUEUES].find({"tenant_id": t, "queue_id": {"$in": queues}}):
        for member in queue["members"]:
            members.setdefault(member, []).append(queue["queue_id"])
    statuses = {s["agent_id"]: s async for s in db[AGENT_STATUS].find({"tenant_id": t,
                                                                        "agent_id": {"$in": list(members)}})}
    for agent in members:  # counted now: a stored load is only kept while someone supervises the agent
        statuses[agent] = {**statuses.get(agent, {}), "load": await agent_load(db, t, agent)}
    return Board(queues=queues, conversations=rows,
                 waiting=sorted((r for r in rows if r["waiting"]), key=lambda r: -(r["waited_s"] or 0)),
                 agents=[board.agent_row(a, statuses.get(a), qs) for a, qs in sorted(members.items())])


class Observing(BaseModel):
    conversation_id: str
    observing: bool
    messages: list[dict[str, Any]] = Field(default_factory=list, description="The transcript so far (private "
                                                                             "notes included for supervisors).")


@router.post("/v1/supervisor/conversations/{conversation_id}/observe", response_model=Observing)
async def observe(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff)) -> Observing:
    """Follow a conversation of a supervised queue live, read-only: its transcript now, then a copy of every
    frame its agents get (marked `observing`) on the caller's stream, until unobserved."""
    gw = request.app.state.gateway
    access = await authorise(gw.db, staff, conversation_id, Action.OBSERVE)
    if Relation.SUPERVISOR_OF_QUEUE not in access.relations:  # a favourite's follower: favourite frames already,
        raise_refusal(FORBIDDEN)  # never the private notes an observer's copies carry
    # on the conversation's document, which the consumer reads for every event of it anyway
    await gw.db[CONVERSATIONS].update_one({"_id": f"{staff.tenant_id}:{conversation_id}"},
                                          {"$addToSet": {OBSERVERS: staff.user_id}})
    page = await chat_read(gw, f"/internal/tenants/{staff.tenant_id}/conversations/{conversation_id}/messages",
                           after_seq=0, limit=500, include_private="true")
    return Observing(conversation_id=conversation_id, observing=True, messages=page.get("messages", []))


@router.delete("/v1/supervisor/conversations/{conversation_id}/observe", response_model=Observing)
async def unobserve(conversation_id: Identifier, request: Request,
                    staff: Staff = Depends(require_staff)) -> Observing:
    gw = request.app.state.gateway
    await authorise(gw.db, staff, conversation_id, Action.OBSERVE)
    await gw.db[CONVERSATIONS].update_one({"_id": f"{staff.tenant_id}:{conversation_id}"},
                                          {"$pull": {OBSERVERS: staff.user_id}})
    return Observing(conversation_id=conversation_id, observing=False)
