"""Routing's internal read API, the response models: part of routing's contract (the gateway reads them over
HTTP for the customer widget), owned by the routing service like its commands and events."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.contracts.routing.common import CONVERSATION

WAIT_MEANS = ("Estimated seconds until an agent takes it (0: an agent has room now, or it is being offered); none "
              "when it cannot be estimated (nobody of the queue online, or no recent assignment to learn from). "
              "Formula: services/routing/README.md.")


class QueueStatusView(BaseModel):
    """A queue now, as a customer about to start a chat needs it (and a supervisor glancing at it)."""
    queue_id: str = Field(description="Queue (line) id.")
    agents_online: int = Field(description="Members whose presence is not offline.", examples=[3])
    agents_available: int = Field(description="Members Available with free chat capacity.", examples=[1])
    queued: int = Field(description="Conversations waiting for an agent (queued or being offered).", examples=[4])
    estimated_wait_s: int | None = Field(description=f"For a chat starting now. {WAIT_MEANS}", examples=[120])


class ConversationPositionView(BaseModel):
    """A conversation's place in its queue while it waits for an agent."""
    conversation_id: str = CONVERSATION
    queue_id: str = Field(description="The queue it is in.")
    state: str = Field(description="Routing's state: queued, offered, assigned, waiting or ended.")
    position: int | None = Field(description="Place among those waiting (queued or being offered), 1 = next; "
                                             "none when it is not waiting.", examples=[2])
    estimated_wait_s: int | None = Field(description=WAIT_MEANS, examples=[120])
