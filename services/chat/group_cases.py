"""Group conversations' use cases (U6; the rules are in domain/groups.py). StartConversation with
`colleagues` starts one (use_cases.py); here a colleague leaves, and colleagues get their unread counts
when somebody takes the conversation. Registered into use_cases.py's USE_CASES from GROUP_USE_CASES."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.chat.context import UseCaseContext
from services.chat.domain.access import STAFF_ROLES
from services.chat.domain.conversation import Conversation
from shared.contracts import chat as c
from shared.contracts.answers import Rejected
from shared.contracts.chat.common import Sender
from shared.contracts.envelope import Message


async def leave_group(ctx: UseCaseContext, cmd: c.LeaveGroup) -> None:
    """A colleague leaves a group conversation: it is told (removed_agents) and gets no more of it."""
    conversation = await ctx.conversation(cmd.conversation_id)
    if ctx.actor.role not in STAFF_ROLES:
        raise Rejected("forbidden", f"a {ctx.actor.role} is not a colleague in a group conversation")
    await ctx.save(conversation, conversation.leave_group(agent_id=ctx.actor.user_id, now=ctx.now))


async def count_colleagues_unread(ctx: UseCaseContext, conversation: Conversation) -> None:
    """A group's colleagues come back with the conversation's agent (at the start, after a transfer): their
    unread counts, from their read positions, as the assignee's."""
    for colleague in conversation.colleagues:
        if colleague in conversation.agents and colleague != conversation.assignee:
            conversation.unread[colleague] = await ctx.unread_for(conversation, Sender(kind="agent", id=colleague))


GROUP_USE_CASES: dict[type[Message], Callable[[UseCaseContext, Any], Awaitable[str | None]]] = {
    c.LeaveGroup: leave_group,
}
