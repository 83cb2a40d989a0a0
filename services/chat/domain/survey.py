"""The post-chat survey (CSAT): the tenant switches it on; a conversation that ends while it is on asks its
customer to rate it; the customer rates it once it ended, once, 1-5 with a comment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from services.chat.domain.access import check_may_act
from services.chat.domain.lifecycle import State
from shared.contracts.answers import Rejected
from shared.contracts.chat import events as ev
from shared.contracts.chat.common import MAX_SURVEY_COMMENT, SURVEY_QUESTION, SurveyResult
from shared.contracts.envelope import Actor

if TYPE_CHECKING:
    from services.chat.domain.conversation import Conversation, Outcome

ENDED = frozenset({State.WRAP_UP, State.CLOSED})


@dataclass(frozen=True)
class SurveySettings:
    """The tenant's survey; a tenant that never configured one has it off."""

    enabled: bool = False
    question: str = SURVEY_QUESTION
    configured: bool = False


def invite(conversation: Conversation, *, settings: SurveySettings, now: datetime) -> Outcome:
    """Ask the customer to rate a conversation that just ended (once; never an offline message)."""
    if (not settings.enabled or conversation.offline or conversation.state not in ENDED
            or conversation.survey_invited_at is not None or conversation.survey_submitted_at is not None):
        return []
    conversation.survey_invited_at = now
    return [ev.SurveyInvited(conversation_id=conversation.conversation_id,
                             customer_id=conversation.customer.customer_id, question=settings.question, at=now)]


def submit(conversation: Conversation, *, actor: Actor, rating: int, comment: str, settings: SurveySettings,
           now: datetime) -> Outcome:
    """Keep the customer's rating (`comment` already masked) and announce it for analysts."""
    if actor.role != "customer":
        raise Rejected("forbidden", "only the conversation's customer rates it")
    check_may_act(conversation, actor, action="rate it")
    if not settings.enabled:
        raise Rejected("not_allowed", "the post-chat survey is switched off for this tenant")
    if conversation.offline:
        raise Rejected("invalid_state", "an offline message is not rated")
    if conversation.state not in ENDED:
        raise Rejected("invalid_state", f"the conversation is {conversation.state.value}: it can be rated once "
                                        f"it ended")
    if conversation.survey_submitted_at is not None:
        raise Rejected("conflict", f"conversation {conversation.conversation_id} was already rated")
    if not 1 <= rating <= 5:
        raise Rejected("invalid_argument", f"a rating is 1 to 5, not {rating}")
    if len(comment) > MAX_SURVEY_COMMENT:
        raise Rejected("invalid_argument", f"a comment is at most {MAX_SURVEY_COMMENT} characters")
    conversation.survey_rating, conversation.survey_comment, conversation.survey_submitted_at = rating, comment, now
    return [ev.SurveySubmitted(conversation_id=conversation.conversation_id, queue_id=conversation.queue_id,
                               agent_id=conversation.assignee, customer_id=conversation.customer.customer_id,
                               rating=rating, comment=comment, at=now)]


def result_of(conversation: Conversation) -> SurveyResult | None:
    if conversation.survey_rating is None or conversation.survey_submitted_at is None:
        return None
    return SurveyResult(rating=conversation.survey_rating, comment=conversation.survey_comment,
                        submitted_at=conversation.survey_submitted_at)


def pending(conversation: Conversation) -> bool:
    """The customer was asked to rate it and has not yet."""
    return conversation.survey_invited_at is not None and conversation.survey_submitted_at is None
