"""Sentiment (C5) for admins: the tenant's alert threshold, sent to chat as chat.ConfigureSentiment. The alerts
themselves reach agents and supervisors as frames (handlers.py and sentiment.py)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_COMMANDS

from services.gateway.api_admin import admin
from services.gateway.api_staff import ANSWERS, IdempotencyKey
from services.gateway.auth.permissions import Action
from services.gateway.commands import request_id_for
from services.gateway.identity import Staff

router = APIRouter()


class SentimentSetting(BaseModel):
    """When agents and the queue's supervisors are alerted."""
    threshold: Literal["very_negative", "negative", "slightly_negative", "neutral", "slightly_positive",
                       "positive", "very_positive"] = Field(
        description="Alert when a conversation's level (over its last customer messages) is at or below this.",
        examples=["slightly_negative"])


@router.put("/v1/admin/sentiment", tags=["admin"], responses=ANSWERS)
async def put_sentiment(body: SentimentSetting, request: Request,
                        staff: Staff = Depends(admin(Action.MANAGE_SENTIMENT)),
                        key: str | None = IdempotencyKey) -> JSONResponse:
    """Set the threshold (chat.ConfigureSentiment); it applies to messages assessed from now on. A tenant that
    never set one is alerted at slightly_negative."""
    gw = request.app.state.gateway
    return await gw.bus.send(CHAT_COMMANDS, chat.ConfigureSentiment(
        threshold=body.threshold, request_id=request_id_for(staff.tenant_id, staff.user_id, key)),
        tenant_id=staff.tenant_id, actor=staff.actor)
