"""The widget while a customer waits (issue 9): their place in the queue and an estimated wait (live on the
widget's stream as `queue_position` frames, and here for a widget that reconnects), and a queue's status,
which the widget asks before it offers a chat or an offline message. Both read routing's internal API; the
status also reads the queue's operating hours from chat's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from shared.contracts.chat.reads import QueueChatSettingsView
from shared.contracts.envelope import Identifier
from shared.contracts.routing.reads import ConversationPositionView, QueueStatusView

from services.gateway.identity import Customer, authorise_customer, require_customer
from services.gateway.reads import chat_read, service_read

router = APIRouter(tags=["widget"])

WAIT = Field(description="Estimated seconds until an agent takes it (0: now); none when it cannot be estimated "
                         "(nobody online, closed, or no recent assignment to learn from).", examples=[120])


class WaitingPlace(BaseModel):
    conversation_id: str
    waiting: bool = Field(description="True while it waits for an agent (queued or being offered).")
    position: int | None = Field(description="Place in the queue, 1 = next; none when not waiting.", examples=[2])
    estimated_wait_s: int | None = WAIT


class WidgetQueueStatus(BaseModel):
    """What the widget needs to choose between a chat and an offline message, nothing more."""
    open: bool = Field(description="Inside the queue's operating hours now.")
    opens_at: datetime | None = Field(description="When it opens next (now if open; none: not within 400 days).")
    agents_online: bool = Field(description="Someone of the queue is online (any presence but offline).")
    estimated_wait_s: int | None = WAIT
    offer_offline_message: bool = Field(
        description="Offer an offline message instead of a chat: the queue takes them, and it is closed or "
                    "nobody is online.")


def routing_read(gw: Any, path: str) -> Any:
    return service_read(gw.routing, "routing", path)


@router.get("/v1/widget/conversations/{conversation_id}/position", response_model=WaitingPlace)
async def waiting_position(conversation_id: Identifier, request: Request,
                           customer: Customer = Depends(require_customer)) -> WaitingPlace:
    """The customer's place in the queue now (the stream's `queue_position` frames carry each change)."""
    authorise_customer(customer, conversation_id)
    path = f"/internal/tenants/{customer.tenant_id}/conversations/{conversation_id}/position"
    try:
        found = ConversationPositionView.model_validate(await routing_read(request.app.state.gateway, path))
    except HTTPException as exc:
        if exc.status_code != 404:
            raise
        # Their own conversation, not (or no longer) in routing: not routed yet, an offline message, or purged.
        return WaitingPlace(conversation_id=conversation_id, waiting=False, position=None, estimated_wait_s=None)
    return WaitingPlace(conversation_id=conversation_id, waiting=found.position is not None,
                        position=found.position, estimated_wait_s=found.estimated_wait_s)


@router.get("/v1/widget/{tenant_id}/queues/{queue_id}/status", response_model=WidgetQueueStatus,
            responses={404: {"description": "No such queue (or tenant)."}})
async def queue_status(tenant_id: Identifier, queue_id: Identifier, request: Request) -> WidgetQueueStatus:
    """Public (no token): whether the queue is open and staffed, and the wait a chat starting now can expect."""
    gw = request.app.state.gateway
    staffed = QueueStatusView.model_validate(
        await routing_read(gw, f"/internal/tenants/{tenant_id}/queues/{queue_id}/status"))  # 404: no such queue
    hours = QueueChatSettingsView.model_validate(
        await chat_read(gw, f"/internal/tenants/{tenant_id}/queues/{queue_id}/chat-settings"))
    online = staffed.agents_online > 0
    return WidgetQueueStatus(open=hours.open_now, opens_at=hours.opens_at, agents_online=online,
                             estimated_wait_s=staffed.estimated_wait_s if hours.open_now and online else None,
                             offer_offline_message=hours.offline_messages and not (hours.open_now and online))
