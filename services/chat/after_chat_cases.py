"""After the chat: the post-chat survey (CSAT) and quick replies. The use cases of their commands (registered
into use_cases.py's USE_CASES from AFTER_CHAT_USE_CASES) and the two steps the conversation's own use cases
take: asking for a rating when a conversation ends, and expanding an agent's '/name' message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.chat.context import UseCaseContext
from services.chat.domain import quick_replies, survey
from services.chat.domain.access import check_admin
from services.chat.domain.conversation import Conversation, Outcome
from services.chat.domain.quick_replies import QuickReply
from services.chat.domain.survey import SurveySettings
from shared.contracts import chat as c
from shared.contracts.answers import Rejected
from shared.contracts.envelope import Actor, Message

# --- steps of the conversation's use cases ------------------------------------------------------------


async def survey_invitation(ctx: UseCaseContext, conversation: Conversation) -> Outcome:
    """The conversation just ended: ask the customer to rate it if the tenant's survey is on."""
    return survey.invite(conversation, settings=await ctx.repos.after_chat.survey(), now=ctx.now)


def agent_name(actor: Actor) -> str:
    """The name {agent_name} becomes: the display name the gateway put on the actor, else the agent's id."""
    return actor.display_name or actor.user_id


async def expand_quick_reply(ctx: UseCaseContext, conversation: Conversation, text: str) -> str:
    """An agent's message that is only '/name' becomes that quick reply, filled from the conversation
    (an unknown name is refused: unknown_quick_reply); any other text, and anyone else's, is kept as sent."""
    name = quick_replies.shortcut(text) if ctx.actor.role in quick_replies.STAFF else None
    if name is None:
        return text
    store = ctx.repos.after_chat
    reply = quick_replies.choose(name, own=await store.reply(name, ctx.actor.user_id), tenant=await store.reply(
        name, None))
    return quick_replies.fill(reply.text, quick_replies.variables(
        customer_name=conversation.customer.name, agent_name=agent_name(ctx.actor), queue=conversation.queue_id))


# --- commands ---------------------------------------------------------------------------------------------

async def configure_survey(ctx: UseCaseContext, cmd: c.ConfigureSurvey) -> str:
    """Switch the tenant's post-chat survey on or off (admin)."""
    check_admin(ctx.actor, action="configure the post-chat survey")
    await ctx.repos.after_chat.save_survey(SurveySettings(enabled=cmd.enabled, question=cmd.question,
                                                          configured=True))
    ctx.outcome.append(c.SurveyConfigured(setting_id=cmd.setting_id, enabled=cmd.enabled, question=cmd.question))
    return cmd.setting_id


async def submit_survey(ctx: UseCaseContext, cmd: c.SubmitSurvey) -> str:
    """The customer rates their ended conversation, once."""
    conversation = await ctx.conversation(cmd.conversation_id)
    outcome = survey.submit(conversation, actor=ctx.actor, rating=cmd.rating, comment=cmd.comment,
                            settings=await ctx.repos.after_chat.survey(), now=ctx.now)
    await ctx.save(conversation, outcome)
    return cmd.conversation_id


async def put_quick_reply(ctx: UseCaseContext, cmd: c.PutQuickReply) -> str:
    """Create or replace the tenant's quick reply (admin) or the actor's own."""
    owner = quick_replies.owner_for(ctx.actor, cmd.scope)
    quick_replies.check_reply_text(cmd.text)
    await ctx.repos.after_chat.save_reply(QuickReply(name=cmd.name, scope=cmd.scope, owner=owner, text=cmd.text))
    ctx.outcome.append(c.QuickReplySaved(name=cmd.name, scope=cmd.scope, owner=owner, text=cmd.text))
    return cmd.name


async def remove_quick_reply(ctx: UseCaseContext, cmd: c.RemoveQuickReply) -> str:
    """Remove the tenant's quick reply (admin) or the actor's own; an unknown one is refused."""
    owner = quick_replies.owner_for(ctx.actor, cmd.scope)
    if not await ctx.repos.after_chat.remove_reply(cmd.name, owner):
        raise Rejected("unknown_quick_reply", f"there is no {cmd.scope} quick reply /{cmd.name}")
    ctx.outcome.append(c.QuickReplyRemoved(name=cmd.name, scope=cmd.scope, owner=owner))
    return cmd.name


AFTER_CHAT_USE_CASES: dict[type[Message], Callable[[UseCaseContext, Any], Awaitable[str | None]]] = {
    c.ConfigureSurvey: configure_survey,
    c.SubmitSurvey: submit_survey,
    c.PutQuickReply: put_quick_reply,
    c.RemoveQuickReply: remove_quick_reply,
}
