"""Routing's internal read API (FastAPI, JSON): what the gateway reads over HTTP for the customer widget (a
queue's status before a chat starts, a waiting conversation's place). Never exposed publicly; every path is
per tenant, and an unknown queue or conversation is a 404 with the reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI, HTTPException

from services.routing.adapters.queries import RoutingQueries
from services.routing.domain.model import ItemState
from services.routing.domain.waiting import QueueStaffing, estimate_wait_s, waiting_place
from shared.contracts.routing.reads import ConversationPositionView, QueueStatusView
from shared.read_api import internal_api


def read_api(queries: RoutingQueries, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    api = APIRouter(prefix="/internal/tenants/{tenant}")

    @api.get("/queues/{queue_id}/status", responses={404: {"description": "No such queue in this tenant."}})
    async def queue_status(tenant: str, queue_id: str) -> QueueStatusView:
        """Members online and available, conversations waiting, and the estimated wait of a chat starting now."""
        queue = await queries.queue(tenant, queue_id)
        if queue is None:
            raise HTTPException(404, f"queue {queue_id} does not exist in tenant {tenant}")
        staff = QueueStaffing.of(queue, await queries.agents(tenant, queue.members))
        waiting = await queries.waiting(tenant, queue_id)
        wait = estimate_wait_s(waiting.get(ItemState.QUEUED.value, 0), free_slots=staff.free_slots,
                               agents_online=staff.online, recent_assignments=queue.recent_assignments, now=clock())
        return QueueStatusView(queue_id=queue_id, agents_online=staff.online, agents_available=staff.available,
                               queued=sum(waiting.values()), estimated_wait_s=wait)

    @api.get("/conversations/{conversation_id}/position",
             responses={404: {"description": "No such conversation in routing in this tenant."}})
    async def conversation_position(tenant: str, conversation_id: str) -> ConversationPositionView:
        """Its place and estimated wait while it waits for an agent (position none otherwise)."""
        item = await queries.item(tenant, conversation_id)
        if item is None:
            raise HTTPException(404, f"conversation {conversation_id} is not in routing in tenant {tenant}")
        place = None
        queue = await queries.queue(tenant, item.queue_id)
        if queue is not None and item.state in (ItemState.QUEUED, ItemState.OFFERED):
            ahead = await queries.waiting_ahead(tenant, item)
            place = waiting_place(item, ahead=sum(ahead.values()), queued_ahead=ahead.get(ItemState.QUEUED.value, 0),
                                  queue=queue, agents=await queries.agents(tenant, queue.members), now=clock())
        return ConversationPositionView(conversation_id=conversation_id, queue_id=item.queue_id, state=item.state,
                                        position=place.position if place else None,
                                        estimated_wait_s=place.estimated_wait_s if place else None)

    return internal_api("routing", "Queue status and waiting conversations' places, for the gateway. Not public.",
                        api)
