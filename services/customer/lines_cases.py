"""The line lists' use cases (U3): chat's events followed into each user's row on its line, an admin
connecting a user to a line, an agent's ties to users (own list, favourites) and its relevance window.
Registered in use_cases.USE_CASES (commands) and FOLLOWED (chat's events)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from services.customer.adapters.lines import LineUser
from services.customer.domain.lines import ConversationTrace, check_window, preview
from services.customer.use_cases import MANAGERS, STAFF, Context, use_case
from shared.contracts import chat
from shared.contracts import customer as c
from shared.contracts.answers import Rejected

FOLLOWED: dict[type[Any], Callable[[Context, Any], Awaitable[None]]] = {}


def follows(event: type[Any]) -> Callable[[Callable[[Context, Any], Awaitable[None]]],
                                          Callable[[Context, Any], Awaitable[None]]]:
    def register(function: Callable[[Context, Any], Awaitable[None]]) -> Callable[[Context, Any], Awaitable[None]]:
        FOLLOWED[event] = function
        return function
    return register


def row_changed(ctx: Context, row: LineUser) -> None:
    ctx.events.append(c.LineUserChanged(
        customer_id=row.customer_id, line_id=row.line_id, name=row.listed_name, company=row.company,
        status=row.status,
        last_message_at=row.last_message_at if row.last_message_at.year > 1970 else None, preview=row.preview,
        open_with=row.open_with, at=ctx.now))


@follows(chat.ConversationStarted)
async def on_started(ctx: Context, e: chat.ConversationStarted) -> None:
    """The user writes on a line (the conversation's entry queue): it belongs to the line from now on."""
    if await ctx.lines.trace(e.conversation_id) is not None:
        return
    trace = ConversationTrace(e.conversation_id, e.customer.customer_id, e.queue_id)
    await ctx.lines.save_trace(trace)
    row = await ctx.lines.user(e.queue_id, e.customer.customer_id) or LineUser(e.queue_id, e.customer.customer_id,
                                                                              e.customer.name)
    row.name = e.customer.name  # chat's name for it now (masked if it was a phone number)
    row.conversations[e.conversation_id] = trace
    await ctx.links.joined(row)  # a linked user is listed by its contact's name, with its company (U5)
    await ctx.lines.save_user(row)
    row_changed(ctx, row)


@follows(chat.ConversationStateChanged)
async def on_state_changed(ctx: Context, e: chat.ConversationStateChanged) -> None:
    """Status and open appeals follow the conversation; every agent on it has now worked with the user."""
    trace = await ctx.lines.trace(e.conversation_id)
    if trace is None:  # started before this service followed chat
        return
    trace.state, trace.agents = e.state, list(e.agents)
    await ctx.lines.save_trace(trace)
    row = await ctx.lines.user(trace.line_id, trace.customer_id)
    if row is None:
        return
    before = (row.status, row.open_with)
    if trace.open:
        row.conversations[trace.conversation_id] = trace
    else:
        row.conversations.pop(trace.conversation_id, None)
    for agent in e.agents:
        ties, read = await ctx.lines.ties(agent, trace.customer_id)
        if ties.last_worked_at is None or ties.last_worked_at < e.at:
            await ctx.lines.save_ties(agent, trace.customer_id, replace(ties, last_worked_at=e.at), read)
    if (row.status, row.open_with) != before:
        await ctx.lines.save_user(row)
        row_changed(ctx, row)


@follows(chat.MessagePosted)
async def on_message(ctx: Context, e: chat.MessagePosted) -> None:
    """The row's last message (customers', agents' and bots'; not notes, not system lines)."""
    if e.private or e.sender.kind == "system":
        return
    trace = await ctx.lines.trace(e.conversation_id)
    row = await ctx.lines.user(trace.line_id, trace.customer_id) if trace else None
    if row is None or e.sent_at < row.last_message_at:
        return
    row.last_message_at, row.preview = e.sent_at, preview(e.text)
    await ctx.lines.save_user(row)
    row_changed(ctx, row)


@use_case(c.ConnectToLine, roles=MANAGERS)
async def connect_to_line(ctx: Context, cmd: c.ConnectToLine) -> str:
    """List a user on a line before it writes there (connecting it again changes nothing)."""
    if await ctx.lines.user(cmd.line_id, cmd.customer_id) is None:
        row = LineUser(cmd.line_id, cmd.customer_id, cmd.name.strip())
        await ctx.links.joined(row)
        await ctx.lines.save_user(row)
        row_changed(ctx, row)
    return cmd.customer_id


@use_case(c.TieToUser, roles=STAFF)
async def tie_to_user(ctx: Context, cmd: c.TieToUser) -> str:
    """The asking agent's own list and favourites."""
    agent = ctx.actor.user_id
    if agent is None:
        raise Rejected("forbidden", "only a signed-in agent has a list")
    ties, read = await ctx.lines.ties(agent, cmd.customer_id)
    changed = replace(ties, added=ties.added if cmd.added is None else cmd.added,
                      favourite=ties.favourite if cmd.favourite is None else cmd.favourite)
    if changed != ties:
        await ctx.lines.save_ties(agent, cmd.customer_id, changed, read)
        ctx.events.append(c.AgentTiesChanged(customer_id=cmd.customer_id, agent_id=agent, added=changed.added,
                                             favourite=changed.favourite, at=ctx.now))
    return cmd.customer_id


@use_case(c.SetRelevanceWindow, roles=STAFF)
async def set_relevance_window(ctx: Context, cmd: c.SetRelevanceWindow) -> str:
    """An agent's own window (an admin may set anyone's)."""
    if ctx.actor.user_id != cmd.agent_id and ctx.actor.role not in ("admin", "system"):
        raise Rejected("forbidden", "an agent sets its own relevance window")
    await ctx.lines.set_window_days(cmd.agent_id, check_window(cmd.days))
    return cmd.agent_id
