"""Chat follows the customer service's links (U5): customer.CustomerLinked names the conversation's customer by
the linked contact's name, masked on entry like any name (masking_cases.py), in the linked conversation and in
that customer's other open ones, and announces it (chat.CustomerIdentified: the gateway's views and the agents'
desks). Registered in CUSTOMER_EVENTS_FOLLOWED, which the Kafka entrypoint subscribes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.chat.context import UseCaseContext
from services.chat.domain.identity import identify
from services.chat.domain.masking import Masker
from shared.contracts import customer


async def customer_linked(ctx: UseCaseContext, e: customer.CustomerLinked) -> None:
    """The linked conversation (whatever its state) and the customer's open ones take the contact's name."""
    name = Masker(await ctx.repos.masking.policy()).text(e.name) if e.name else None
    others = await ctx.repos.conversations.open_of_customer(e.customer_id)
    for conversation_id in dict.fromkeys([e.conversation_id, *others]):
        conversation = await ctx.repos.conversations.get(conversation_id)
        if conversation is None or conversation.customer.customer_id != e.customer_id:
            continue  # not chat's (yet), or not this customer's: the gateway names the customer it sees
        outcome = identify(conversation, contact_id=e.contact_id, name=name, linked_at=e.at, now=ctx.now)
        if not outcome:
            continue
        await ctx.save(conversation, outcome)
        if name and name != e.name:  # the original beside, as for any name masking changed
            await ctx.repos.masking.keep_conversation_originals(conversation_id=conversation_id,
                                                                fields={"customer_name": e.name})


CUSTOMER_EVENTS_FOLLOWED: dict[type[Any], Callable[[UseCaseContext, Any], Awaitable[None]]] = {
    customer.CustomerLinked: customer_linked,
}
