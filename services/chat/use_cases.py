"""Chat's use cases: one named function per chat command and per routing event chat follows, registered
in one table (USE_CASES) that the Kafka entrypoint and the AsyncAPI document read. Each loads what it
needs through the context's repositories, asks the domain with keyword arguments, and saves; the
handlers run it in one transaction and publish what it recorded. A command's function returns the id
of what it created (the conversation, the message), which its CommandAccepted carries."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from services.chat.after_chat_cases import AFTER_CHAT_USE_CASES, expand_quick_reply, survey_invitation
from services.chat.attachment_cases import ATTACHMENT_USE_CASES, attach_files
from services.chat.context import UseCaseContext
from services.chat.domain.access import check_admin, check_may_act, check_may_start, sender_of
from services.chat.domain.conversation import Conversation
from services.chat.domain.groups import check_group_start
from services.chat.group_cases import GROUP_USE_CASES, count_colleagues_unread
from services.chat.domain.lifecycle import State
from services.chat.domain.settings import QueueChatSettings, check_open, check_reason_list
from services.chat.masking_cases import MASKING_USE_CASES
from services.chat.sentiment_cases import SENTIMENT_USE_CASES
from shared.contracts import chat as c
from shared.contracts import routing as r
from shared.contracts.answers import CommandRejected, Rejected
from shared.contracts.chat.common import Sender
from shared.contracts.envelope import Message

M = TypeVar("M", bound=Message)
UseCase = Callable[[UseCaseContext, Any], Awaitable[str | None]]
USE_CASES: dict[type[Message], UseCase] = {}


def use_case(message: type[M]) -> Callable[[Callable[[UseCaseContext, M], Awaitable[str | None]]], UseCase]:
    def register(function: Callable[[UseCaseContext, M], Awaitable[str | None]]) -> UseCase:
        if message in USE_CASES:
            raise TypeError(f"{message.__name__} has two use cases")
        USE_CASES[message] = function
        return function
    return register


# --- chat commands (C1-C3, C7, C8) -------------------------------------------------------------------

@use_case(c.StartConversation)
async def start_conversation(ctx: UseCaseContext, cmd: c.StartConversation) -> str:
    """Create the conversation and ask routing for an agent (or, proactive, give it to the agent at once)."""
    check_may_start(ctx.actor, customer=cmd.customer, proactive=cmd.proactive)
    check_group_start(starter=ctx.actor.user_id, colleagues=cmd.colleagues, proactive=cmd.proactive, topic=cmd.topic)
    if await ctx.repos.conversations.get(cmd.conversation_id) is not None:
        raise Rejected("conflict", f"conversation {cmd.conversation_id} already exists")
    if not cmd.proactive:  # the business may reach out at any hour
        check_open(await ctx.repos.settings.queue(cmd.queue_id), ctx.now)
    newest_first = sorted(cmd.context.trail, key=lambda step: step.at, reverse=True)
    conversation = Conversation(
        conversation_id=cmd.conversation_id, queue_id=cmd.queue_id, customer=cmd.customer, started_at=ctx.now,
        context=cmd.context.model_copy(update={"trail": newest_first}), skills=dict(cmd.skills),
        priority=cmd.priority, proactive=cmd.proactive, updated_at=ctx.now,
        group=bool(cmd.colleagues), colleagues=list(cmd.colleagues), topic=cmd.topic)  # U6 (group_cases.py)
    by = sender_of(ctx.actor) if cmd.proactive else Sender(kind="customer", id=cmd.customer.customer_id)
    await ctx.save(conversation, conversation.start(first_message=cmd.first_message, by=by, message_id=ctx.new_id()))
    return cmd.conversation_id


@use_case(c.SendMessage)
async def send_message(ctx: UseCaseContext, cmd: c.SendMessage) -> str:
    """Post a message or a private note; a retry with the same client message id returns the original."""
    conversation = await ctx.conversation(cmd.conversation_id)
    sender = sender_of(ctx.actor)
    sent = await ctx.repos.messages.by_client_id(cmd.conversation_id, sender, cmd.client_message_id)
    if sent is not None:
        return sent.message_id
    check_may_act(conversation, ctx.actor, action="write in it")
    text = await expand_quick_reply(ctx, conversation, cmd.text)  # an agent's '/name'
    message_id = ctx.new_id()
    files = await attach_files(ctx, conversation_id=cmd.conversation_id, attachment_ids=cmd.attachment_ids,
                               sender=sender, message_id=message_id, private=cmd.private)
    await ctx.save(conversation, conversation.post(sender=sender, text=text, private=cmd.private,
                                                   client_message_id=cmd.client_message_id,
                                                   message_id=message_id, now=ctx.now, attachments=files))
    return message_id


@use_case(c.LeaveOfflineMessage)
async def leave_offline_message(ctx: UseCaseContext, cmd: c.LeaveOfflineMessage) -> str:
    """Keep a customer's message left while the queue was closed or unattended: a conversation closed at once."""
    check_may_start(ctx.actor, customer=cmd.customer, proactive=False)
    if await ctx.repos.conversations.get(cmd.conversation_id) is not None:
        raise Rejected("conflict", f"conversation {cmd.conversation_id} already exists")
    settings = await ctx.repos.settings.queue(cmd.queue_id)
    if not settings.offline_messages:
        raise Rejected("not_allowed", f"queue {cmd.queue_id} does not take offline messages")
    newest_first = sorted(cmd.context.trail, key=lambda step: step.at, reverse=True)
    conversation = Conversation(
        conversation_id=cmd.conversation_id, queue_id=cmd.queue_id, customer=cmd.customer, started_at=ctx.now,
        context=cmd.context.model_copy(update={"trail": newest_first}), updated_at=ctx.now)
    await ctx.save(conversation, conversation.leave_offline(text=cmd.text, message_id=ctx.new_id()))
    return cmd.conversation_id


@use_case(c.MarkRead)
async def mark_read(ctx: UseCaseContext, cmd: c.MarkRead) -> None:
    """Move the reader's read position forward and tell everyone its unread count."""
    conversation = await ctx.conversation(cmd.conversation_id)
    check_may_act(conversation, ctx.actor, action="mark it read")
    reader = sender_of(ctx.actor)
    position = conversation.next_read_position(reader, cmd.up_to_seq)
    unread = await ctx.repos.messages.count_unread(cmd.conversation_id, reader, after_seq=position)
    await ctx.save(conversation, conversation.mark_read(reader=reader, position=position, unread=unread,
                                                        now=ctx.now))


@use_case(c.EndConversation)
async def end_conversation(ctx: UseCaseContext, cmd: c.EndConversation) -> None:
    """The customer or the assigned agent ends it: to wrap-up if an agent holds it, else closed at once."""
    conversation = await ctx.conversation(cmd.conversation_id)
    check_may_act(conversation, ctx.actor, action="end it", agents="assignee")
    outcome = conversation.end(by=sender_of(ctx.actor), message_id=ctx.new_id(), now=ctx.now)
    await ctx.save(conversation, outcome + await survey_invitation(ctx, conversation))


@use_case(c.WrapUp)
async def wrap_up(ctx: UseCaseContext, cmd: c.WrapUp) -> None:
    """The assigned agent closes it with a reason from the tenant's list; routing then frees the agent."""
    conversation = await ctx.conversation(cmd.conversation_id)
    check_may_act(conversation, ctx.actor, action="wrap it up", customer=False, agents="assignee")
    settings = ctx.repos.settings
    outcome = conversation.wrap_up(
        reason_code=cmd.reason_code, note=cmd.note, settings=await settings.queue(conversation.queue_id),
        reasons=await settings.reasons(), now=ctx.now)
    await ctx.save(conversation, outcome + await survey_invitation(ctx, conversation))


@use_case(c.CloseToWaiting)
async def close_to_waiting(ctx: UseCaseContext, cmd: c.CloseToWaiting) -> None:
    """Persistent chat: ask routing to park it with its agent (the state follows routing's answer)."""
    conversation = await ctx.conversation(cmd.conversation_id)
    check_may_act(conversation, ctx.actor, action="close it to waiting", customer=False, agents="assignee")
    outcome = conversation.close_to_waiting(settings=await ctx.repos.settings.queue(conversation.queue_id))
    await ctx.save(conversation, outcome)  # saved: it remembers the request (a message meanwhile brings it back)


@use_case(c.ConfigureQueueChat)
async def configure_queue_chat(ctx: UseCaseContext, cmd: c.ConfigureQueueChat) -> str:
    """Replace a queue's chat settings (admin)."""
    check_admin(ctx.actor, action="configure a queue's chat")
    await ctx.repos.settings.save_queue(QueueChatSettings(
        queue_id=cmd.queue_id, wrap_up_required=cmd.wrap_up_required, persistent=cmd.persistent, configured=True,
        operating_hours=cmd.operating_hours, offline_messages=cmd.offline_messages))
    ctx.outcome.append(c.QueueChatConfigured(queue_id=cmd.queue_id, wrap_up_required=cmd.wrap_up_required,
                                             persistent=cmd.persistent, operating_hours=cmd.operating_hours,
                                             offline_messages=cmd.offline_messages))
    return cmd.queue_id


@use_case(c.ConfigureWrapUpReasons)
async def configure_wrap_up_reasons(ctx: UseCaseContext, cmd: c.ConfigureWrapUpReasons) -> str:
    """Replace the tenant's wrap-up reasons (admin)."""
    check_admin(ctx.actor, action="configure wrap-up reasons")
    if cmd.list_id != "wrap-up-reasons":
        raise Rejected("invalid_argument", "a tenant has one list of wrap-up reasons: 'wrap-up-reasons'")
    check_reason_list(cmd.reasons)
    await ctx.repos.settings.save_reasons(list(cmd.reasons))
    ctx.outcome.append(c.WrapUpReasonsConfigured(list_id=cmd.list_id, reasons=list(cmd.reasons)))
    return cmd.list_id


# --- routing's events (C1 driven by R5-R9): a conversation chat does not know is ignored ---------------

async def _follow(ctx: UseCaseContext, conversation_id: str,
                  change: Callable[[Conversation], list[Any] | Awaitable[list[Any]]]) -> None:
    """Apply routing's decision to the conversation, if chat knows it."""
    conversation = await ctx.repos.conversations.get(conversation_id)
    if conversation is None:
        return
    outcome = change(conversation)
    await ctx.save(conversation, await outcome if inspect.isawaitable(outcome) else outcome)


@use_case(r.ConversationQueued)
async def on_queued(ctx: UseCaseContext, e: r.ConversationQueued) -> None:
    await _follow(ctx, e.conversation_id, lambda conv: conv.queued(queue_id=e.queue_id, now=ctx.now))


@use_case(r.OfferMade)
async def on_offer_made(ctx: UseCaseContext, e: r.OfferMade) -> None:
    await _follow(ctx, e.conversation_id,
                  lambda conv: conv.offered(agent_id=e.agent_id, queue_id=e.queue_id, now=ctx.now))


async def _offer_ended(ctx: UseCaseContext, e: r.OfferDeclined | r.OfferExpired | r.OfferWithdrawn, why: str) -> None:
    await _follow(ctx, e.conversation_id, lambda conv: conv.offer_ended(agent_id=e.agent_id, why=why, now=ctx.now))


@use_case(r.OfferDeclined)
async def on_offer_declined(ctx: UseCaseContext, e: r.OfferDeclined) -> None:
    await _offer_ended(ctx, e, f"offer declined by {e.agent_id}")


@use_case(r.OfferExpired)
async def on_offer_expired(ctx: UseCaseContext, e: r.OfferExpired) -> None:
    await _offer_ended(ctx, e, f"offer to {e.agent_id} not answered in time")


@use_case(r.OfferWithdrawn)
async def on_offer_withdrawn(ctx: UseCaseContext, e: r.OfferWithdrawn) -> None:
    await _offer_ended(ctx, e, f"offer to {e.agent_id} withdrawn: {e.reason}")


@use_case(r.ConversationAssigned)
async def on_assigned(ctx: UseCaseContext, e: r.ConversationAssigned) -> None:
    async def assign(conv: Conversation) -> list[Any]:
        unread = await ctx.unread_for(conv, Sender(kind="agent", id=e.agent_id))
        outcome = conv.assigned(agent_id=e.agent_id, queue_id=e.queue_id, unread=unread, how=e.how, now=ctx.now)
        await count_colleagues_unread(ctx, conv)
        return outcome
    await _follow(ctx, e.conversation_id, assign)


@use_case(r.ConversationTransferred)
async def on_transferred(ctx: UseCaseContext, e: r.ConversationTransferred) -> None:
    await _follow(ctx, e.conversation_id, lambda conv: conv.transferred(
        from_agent_id=e.from_agent_id, to_queue_id=e.to_queue_id, to_agent_id=e.to_agent_id, reason=e.reason,
        now=ctx.now))


@use_case(r.ConversationOverflowed)
async def on_overflowed(ctx: UseCaseContext, e: r.ConversationOverflowed) -> None:
    await _follow(ctx, e.conversation_id, lambda conv: conv.overflowed(to_queue_id=e.to_queue_id, now=ctx.now))


@use_case(r.ConversationWaiting)
async def on_waiting(ctx: UseCaseContext, e: r.ConversationWaiting) -> None:
    await _follow(ctx, e.conversation_id,
                  lambda conv: conv.parked(agent_id=e.agent_id, until=e.waiting_until, now=ctx.now))


@use_case(r.ConversationEnded)
async def on_ended(ctx: UseCaseContext, e: r.ConversationEnded) -> None:
    """Routing let go of it; if chat closed it itself (the usual case), there is nothing left to do."""
    conversation = await ctx.repos.conversations.get(e.conversation_id)
    if conversation is not None and conversation.state != State.CLOSED:
        await ctx.save(conversation, conversation.ended_by_routing(reason=e.reason, now=ctx.now))


@use_case(r.ConferenceInviteAccepted)
async def on_conference_joined(ctx: UseCaseContext, e: r.ConferenceInviteAccepted) -> None:
    async def join(conv: Conversation) -> list[Any]:
        unread = await ctx.unread_for(conv, Sender(kind="agent", id=e.invitee_id))
        return conv.conference_joined(agent_id=e.invitee_id, unread=unread, now=ctx.now)
    await _follow(ctx, e.conversation_id, join)


@use_case(r.ConferenceLeft)
async def on_conference_left(ctx: UseCaseContext, e: r.ConferenceLeft) -> None:
    await _follow(ctx, e.conversation_id, lambda conv: conv.conference_left(agent_id=e.agent_id, now=ctx.now))


@use_case(r.ConferenceEnded)
async def on_conference_ended(ctx: UseCaseContext, e: r.ConferenceEnded) -> None:
    await _follow(ctx, e.conversation_id, lambda conv: conv.conference_ended(now=ctx.now))


@use_case(CommandRejected)
async def on_routing_refused(ctx: UseCaseContext, e: CommandRejected) -> None:
    """Routing refused to route (or open) a conversation chat just started: close it, saying why. Not when
    routing failed on the command (`failed`: a dead letter, not a refusal): the conversation stays requested, and
    the letter's replay routes it (closing it here would leave routing a conversation chat has ended)."""
    if e.command_type not in (r.RouteConversation.TYPE, r.OpenConversation.TYPE) or e.code == "failed":
        return
    conversation = await ctx.repos.conversations.get(e.command_key)
    if conversation is not None and conversation.state == State.REQUESTED:
        await ctx.save(conversation, conversation.refused_by_routing(reason=e.reason, now=ctx.now))


# survey and quick replies (after_chat_cases.py), attachments (attachment_cases.py), masking (masking_cases.py),
# groups (group_cases.py), sentiment's threshold (sentiment_cases.py)
for _command, _function in {**AFTER_CHAT_USE_CASES, **ATTACHMENT_USE_CASES, **MASKING_USE_CASES,
                            **GROUP_USE_CASES, **SENTIMENT_USE_CASES}.items():
    use_case(_command)(_function)

CHAT_COMMANDS = tuple(m for m in USE_CASES if issubclass(m, c.ChatCommand))
ROUTING_EVENTS = tuple(m for m in USE_CASES if not issubclass(m, c.ChatCommand))
