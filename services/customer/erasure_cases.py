"""Erasing a contact on request (privacy): EraseContact deletes the contact, its links to chat's customers, their
rows on every line, their conversations' line records and every agent's ties to them, clears the contact from
accounts that name it as their primary contact, keeps the record that it happened (adapters/erasure.py) and
publishes ContactErased (ids and counts only), which chat and the gateway obey. Registered in use_cases.py."""

from __future__ import annotations

from collections import Counter

from services.customer.adapters.erasure import ErasureRecords
from services.customer.use_cases import Context, use_case
from shared.contracts import customer as c
from shared.contracts.answers import Rejected

ERASERS = ("admin", "system")


def _records(ctx: Context) -> ErasureRecords:
    return ErasureRecords(ctx.profiles.tx, ctx.profiles.tenant_id, ctx.links)


@use_case(c.EraseContact, roles=ERASERS)
async def erase_contact(ctx: Context, cmd: c.EraseContact) -> str:
    """Erase the contact and what hangs on it; again for an erased one: accepted, nothing changes, and the
    event goes out once more (every service's obeying is idempotent). A contact never seen: not_found."""
    records = _records(ctx)
    if await ctx.profiles.get("contact", cmd.contact_id) is None:
        erased_before = await records.customers_erased(cmd.contact_id)
        if erased_before is None:
            raise Rejected("not_found", f"contact {cmd.contact_id} does not exist")
        await records.keep_record(cmd.contact_id, customer_ids=erased_before, counts={},
                                  by=ctx.actor.user_id, role=ctx.actor.role, at=ctx.now)
        ctx.events.append(c.ContactErased(contact_id=cmd.contact_id, customer_ids=erased_before, counts={},
                                          erased_by=ctx.actor.user_id, repeated=True, at=ctx.now))
        return cmd.contact_id

    customer_ids = await records.customers_of(cmd.contact_id)
    counts: Counter[str] = Counter()
    for customer_id in customer_ids:
        counts += await records.forget_customer(customer_id, cmd.contact_id)
    for account_id in await records.accounts_naming(cmd.contact_id):
        account = await ctx.profiles.get("account", account_id)
        assert account is not None
        changed = account.edit(version=account.version, changes=c.AccountFields(), clear=["primary_contact_id"],
                               now=ctx.now)
        if changed is not None:
            await ctx.profiles.save(account)
            ctx.events.append(changed)
            counts["accounts_unlinked"] += 1
    counts += await records.delete_contact(cmd.contact_id)
    tally = {name: n for name, n in sorted(counts.items()) if n}
    await records.keep_record(cmd.contact_id, customer_ids=customer_ids, counts=tally, by=ctx.actor.user_id,
                              role=ctx.actor.role, at=ctx.now)
    ctx.events.append(c.ContactErased(contact_id=cmd.contact_id, customer_ids=customer_ids, counts=tally,
                                      erased_by=ctx.actor.user_id, at=ctx.now))
    return cmd.contact_id
