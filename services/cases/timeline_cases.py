"""The timeline (K2): what cases follows to write the timeline of a case, a contact or an account, in the same
transaction as everything else the event changes: chat's conversations starting and ending, routing's
assignments and transfers, cases' own changes, links, quick notes and service requests.

Registered after conversation_cases (use_cases.py imports it last), so the conversation's customer, contact and
case are up to date when its entry is written. Exact under repeats and restarts: an entry's key derives from its
event (domain/timeline.py) and is written once, in the transaction the consumer records the event id in; and
the same events in any order end in the same entries, because a conversation's entries are put into the
timelines it is linked to whenever a link changes (`track`), whichever came first, and transactions that touch
the same conversation's entries, or learn of the same customer's conversations and link, conflict and run one
after the other (adapters/timeline.py says why)."""

from __future__ import annotations

from datetime import datetime

from services.cases.adapters.timeline import Linked, Timeline
from services.cases.domain import timeline as entries
from services.cases.use_cases import Context, follows
from shared.contracts import cases as c
from shared.contracts import chat, customer, routing


def _source(ctx: Context) -> str:
    """The followed event's envelope id: what an entry of another service's event is keyed by."""
    if ctx.event_id is None:
        raise AssertionError("another service's event is followed without its envelope id")
    return ctx.event_id


def _when(ctx: Context) -> datetime:
    """The followed event's own time, for events that do not carry one in their payload (routing's)."""
    return ctx.occurred_at or ctx.now


async def track(ctx: Context, conversation_id: str, *, customer_id: str | None = None) -> Linked:
    """What the conversation's entries are linked to now: the case it is linked to, and the contact and account
    its customer is linked to (after an erasure deleted the customer's link: the account cases still knows for the
    conversation). Moves its entries if that changed; and saves what the timeline knows of it either way, so that
    every transaction writing the conversation's entries conflicts with any other doing so at the same time."""
    timeline = Timeline(ctx.tx, ctx.tenant_id)
    tracked = await timeline.conversation(conversation_id)
    facts = await ctx.store.conversation(conversation_id)
    tracked.customer_id = customer_id or tracked.customer_id or facts.customer_id
    contact_id, account_id = (await ctx.store.link_of(tracked.customer_id) if tracked.customer_id
                              else (None, None))
    if not (contact_id or account_id):
        contact_id, account_id = facts.contact_id, facts.account_id
    linked = Linked(facts.case_id, entries.conversation_records(facts.case_id, contact_id, account_id))
    if linked != tracked.linked:
        await timeline.relink(conversation_id, linked)
        tracked.linked = linked
    await timeline.save_conversation(tracked)
    return linked


async def write(ctx: Context, entry: entries.Entry, *, customer_id: str | None = None) -> None:
    linked = await track(ctx, entry.conversation_id, customer_id=customer_id) if entry.conversation_id else None
    await Timeline(ctx.tx, ctx.tenant_id).add(entry, linked)


@follows(chat.ConversationStarted)
async def conversation_started(ctx: Context, e: chat.ConversationStarted) -> None:
    """Its entry; and routing's entries that came first join the timelines of its customer."""
    await Timeline(ctx.tx, ctx.tenant_id).conversations_of(e.customer.customer_id, adding=e.conversation_id)
    await write(ctx, entries.started(e, _source(ctx)), customer_id=e.customer.customer_id)


@follows(routing.ConversationAssigned)
async def conversation_assigned(ctx: Context, e: routing.ConversationAssigned) -> None:
    await write(ctx, entries.assigned(e, _source(ctx), _when(ctx)))


@follows(routing.ConversationTransferred)
async def conversation_transferred(ctx: Context, e: routing.ConversationTransferred) -> None:
    await write(ctx, entries.transferred(e, _source(ctx), _when(ctx)))


@follows(chat.ConversationClosed)
async def conversation_closed(ctx: Context, e: chat.ConversationClosed) -> None:
    await write(ctx, entries.ended(e, _source(ctx)))


@follows(customer.CustomerLinked)
async def customer_linked(ctx: Context, e: customer.CustomerLinked) -> None:
    """Every conversation of the customer, earlier ones too, joins the contact's and account's timelines."""
    timeline = Timeline(ctx.tx, ctx.tenant_id)
    for conversation_id in await timeline.conversations_of(e.customer_id, adding=e.conversation_id):
        await track(ctx, conversation_id, customer_id=e.customer_id)


@follows(c.CaseChanged)
async def case_changed(ctx: Context, e: c.CaseChanged) -> None:
    await write(ctx, entries.case_changed(e))


@follows(c.ConversationLinked)
async def conversation_linked(ctx: Context, e: c.ConversationLinked) -> None:
    """The link's entry; and the conversation's entries move to the case (earlier ones too)."""
    await write(ctx, entries.linked(e, ctx.by))


@follows(c.QuickNoteAdded)
async def quick_note_added(ctx: Context, e: c.QuickNoteAdded) -> None:
    await write(ctx, entries.quick_note(e))


@follows(c.ServiceRequestChanged)
async def service_request_changed(ctx: Context, e: c.ServiceRequestChanged) -> None:
    await write(ctx, entries.service_request(e))


@follows(customer.ContactErased)
async def contact_erased(ctx: Context, e: customer.ContactErased) -> None:
    """After erasure_cases (registered first) deleted the customer links: the contact's conversations keep their
    entries in the account's and case's timelines with the personal text blanked (the customer's name, transfer
    reasons; notes' texts live in `notes`, blanked there), and the erased contact has no timeline any more."""
    timeline = Timeline(ctx.tx, ctx.tenant_id)
    conversations = {cid for customer_id in e.customer_ids for cid in await timeline.conversations_of(customer_id)}
    conversations |= {d["conversation_id"] for d in await timeline.in_timeline("contact", e.contact_id)
                      if d.get("conversation_id")}
    for conversation_id in sorted(conversations):
        await track(ctx, conversation_id)
        for doc in await timeline.of_conversation(conversation_id):
            if doc["kind"] in entries.PERSONAL and doc["detail"] != entries.ERASED:
                await timeline.set(doc, detail=entries.ERASED)
    erased = entries.record("contact", e.contact_id)
    for doc in await timeline.in_timeline("contact", e.contact_id):
        await timeline.set(doc, own=[r for r in doc["own"] if r != erased],
                           records=[r for r in doc["records"] if r != erased])
