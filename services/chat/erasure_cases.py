"""Chat obeys a contact's erasure (privacy): customer.ContactErased names the chat customer ids that were the
contact's; for every conversation of theirs (and every one linked to the contact) chat deletes the originals
masking kept and the files, replaces every message text by "[erased]", the customer by "Erased customer" and the
context, wrap-up note and survey comment by nothing, keeps the record that it did (adapters/erasure.py) and
publishes chat.CustomerErased (ids and counts), which the gateway and routing obey in their views. Idempotent:
a second ContactErased changes nothing and reports zero counts. Registered in CUSTOMER_EVENTS_FOLLOWED."""

from __future__ import annotations

from collections import Counter

from services.chat.context import UseCaseContext
from services.chat.domain.erasure import erase
from services.chat.identity_cases import CUSTOMER_EVENTS_FOLLOWED
from shared.contracts import chat, customer


async def contact_erased(ctx: UseCaseContext, e: customer.ContactErased) -> None:
    store = ctx.repos.erasure
    conversation_ids = await store.conversations_of(e.customer_ids, e.contact_id)
    counts: Counter[str] = Counter()
    for conversation_id in conversation_ids:
        conversation = await ctx.repos.conversations.get(conversation_id)
        if conversation is not None and erase(conversation):
            await ctx.save(conversation, [])
            counts["conversations"] += 1
        counts["messages"] += await store.blank_messages(conversation_id)
        counts["originals"] += await store.delete_originals(conversation_id)
        counts["attachments"] += await store.delete_files(conversation_id)
    tally = {name: counts[name] for name in ("conversations", "messages", "originals", "attachments")}
    await store.keep_record(e.contact_id, customer_ids=e.customer_ids, conversation_ids=conversation_ids,
                            counts=tally, by=e.erased_by, at=ctx.now)
    ctx.outcome.append(chat.CustomerErased(contact_id=e.contact_id, customer_ids=e.customer_ids,
                                           conversation_ids=conversation_ids, counts=tally, erased_by=e.erased_by,
                                           at=ctx.now))


CUSTOMER_EVENTS_FOLLOWED[customer.ContactErased] = contact_erased
