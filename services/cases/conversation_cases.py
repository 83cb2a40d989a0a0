"""What cases follows of chat and customer: the conversations and who their customers are, automatic linking
of a customer's single active case (as Dynamics does), cases opened from offline messages, and the names
of contacts and accounts (case search by customer)."""

from __future__ import annotations

from services.cases.adapters.store import ConversationFacts
from services.cases.domain.cases import only_active
from services.cases.use_cases import Context, follows, link, open_case
from shared.contracts import chat, customer
from shared.contracts.cases.common import CaseFields


async def _auto_link(ctx: Context, conversation_id: str, contact_id: str | None, account_id: str | None) -> None:
    case = only_active(await ctx.store.cases_of(contact_id=contact_id, account_id=account_id))
    if case is not None:
        await link(ctx, case, conversation_id, automatic=True)


@follows(chat.ConversationStarted)
async def conversation_started(ctx: Context, e: chat.ConversationStarted) -> None:
    facts = await ctx.store.conversation(e.conversation_id)
    if facts.started:
        return
    contact_id, account_id = await ctx.store.link_of(e.customer.customer_id)
    facts.customer_id, facts.customer_name, facts.offline = e.customer.customer_id, e.customer.name, e.offline
    facts.contact_id, facts.account_id, facts.started = contact_id, account_id, True
    linked_early = facts.case_id is not None  # a staff command came before the start (store.ConversationFacts)
    facts.described = facts.described or (e.offline and linked_early)  # the staff's case keeps its description
    await ctx.store.save_conversation(facts)
    if linked_early:
        await _identify_early(ctx, facts)
    elif e.offline:  # an offline message becomes a case, for someone to answer when the team is back
        fields = CaseFields(title=f"Offline message from {e.customer.name}", contact_id=contact_id,
                            account_id=account_id)
        await open_case(ctx, f"offline-{e.conversation_id}", fields, origin="offline_message",
                        conversation_id=e.conversation_id)
    elif e.colleagues == [] and (contact_id or account_id):
        await _auto_link(ctx, e.conversation_id, contact_id, account_id)
    for sr in await ctx.store.service_requests_of(e.conversation_id):  # registered before the start
        if (changed := sr.identify(contact_id, now=ctx.now)) is not None:
            await ctx.store.save_service_request(sr)
            ctx.events.append(changed)


async def _identify_early(ctx: Context, facts: ConversationFacts) -> None:
    """The case opened from the conversation before cases heard of it takes the conversation's customer."""
    if facts.customer_for is None:
        return
    case = await ctx.store.get(facts.customer_for)
    if case is not None and (changed := case.identify(facts.contact_id, facts.account_id, now=ctx.now)):
        await ctx.store.save(case)
        ctx.events.append(changed)


@follows(chat.MessagePosted)
async def message_posted(ctx: Context, e: chat.MessagePosted) -> None:
    """An offline message's text is its case's description (masked, as chat publishes it)."""
    if e.sender.kind != "customer" or e.private:
        return
    facts = await ctx.store.conversation(e.conversation_id)
    if not facts.offline or facts.described or facts.case_id is None:
        return
    case = await ctx.store.get(facts.case_id)
    if case is None:
        return
    event = case.edit(version=case.version, changes=CaseFields(description=e.text[:5000]), clear=(), by=None,
                      now=ctx.now)
    if event is not None:
        await ctx.store.save(case)
        ctx.events.append(event)
    facts.described = True
    await ctx.store.save_conversation(facts)


@follows(customer.CustomerLinked)
async def customer_linked(ctx: Context, e: customer.CustomerLinked) -> None:
    """The customer is a known contact now: remember it, and link its conversation to its single active case."""
    await ctx.store.set_link(e.customer_id, e.contact_id, e.account_id)
    facts = await ctx.store.conversation(e.conversation_id)
    if not facts.started:  # its start reads the link
        return
    facts.contact_id, facts.account_id = e.contact_id, e.account_id
    await ctx.store.save_conversation(facts)
    if facts.case_id is None and not facts.offline:
        await _auto_link(ctx, e.conversation_id, e.contact_id, e.account_id)


@follows(customer.ContactChanged)
async def contact_changed(ctx: Context, e: customer.ContactChanged) -> None:
    if await ctx.store.set_name("contact", e.contact_id, e.full_name, e.version):
        await ctx.store.rename_customer("contact", e.contact_id)


@follows(customer.AccountChanged)
async def account_changed(ctx: Context, e: customer.AccountChanged) -> None:
    if await ctx.store.set_name("account", e.account_id, e.name, e.version):
        await ctx.store.rename_customer("account", e.account_id)
