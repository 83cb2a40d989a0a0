"""Linking a chat customer to a contact or an account (U5): LinkCustomer (to an existing contact or account, or to
a contact created from the conversation in the same transaction; linking again replaces the link), and the
linked customer's rows on every line it is on, which show the contact's name and company from the link on and
follow the contact's and the account's edits in the edit's own transaction. Registered in use_cases.py."""

from __future__ import annotations

from typing import Any

from services.customer.domain.identity import Identity, Ref, link_target
from services.customer.domain.profiles import Profile
from services.customer import lines_cases  # row_changed (module: use_cases imports both, lines_cases first)
from services.customer.use_cases import EDIT_FOLLOWERS, STAFF, Context, create_contact, use_case
from shared.contracts import customer as c
from shared.contracts.answers import Rejected


@use_case(c.LinkCustomer, roles=STAFF)
async def link_customer(ctx: Context, cmd: c.LinkCustomer) -> str:
    """Link the conversation's customer (staff); the answer's result_id is the contact (or account) linked."""
    target = link_target(contact_id=cmd.contact_id, account_id=cmd.account_id, create=cmd.create)
    if target == "create":
        await create_contact(ctx, c.CreateContact(contact_id=cmd.contact_id, fields=cmd.create, actor=cmd.actor))
    elif not await ctx.profiles.exists(target, cmd.contact_id or cmd.account_id or ""):
        raise Rejected("not_found", f"{target} {cmd.contact_id or cmd.account_id} does not exist")
    identity = await ctx.links.identity(cmd.customer_id)
    before, refs_before = identity.link, identity.refs()
    identity.contact_id, identity.account_id = cmd.contact_id, None if cmd.contact_id else cmd.account_id
    await show_link(ctx, identity, refs_before)
    replaced = before if before != identity.link else (None, None)
    ctx.events.append(c.CustomerLinked(
        customer_id=cmd.customer_id, conversation_id=cmd.conversation_id, contact_id=identity.contact_id,
        account_id=identity.company_account_id, name=identity.name, company=identity.company,
        created=target == "create", replaced_contact_id=replaced[0], replaced_account_id=replaced[1], at=ctx.now))
    return identity.contact_id or identity.account_id or cmd.customer_id


async def show_link(ctx: Context, identity: Identity, refs_before: set[Ref] | None = None) -> None:
    """Take the name and company of what the customer is linked to now into its record, the reverse records (it
    depended on `refs_before` until now) and its rows on every line it is on (a row that changes is announced:
    LineUserChanged)."""
    contact = await ctx.profiles.get("contact", identity.contact_id) if identity.contact_id else None
    company_id = identity.account_id or (contact.fields.account_id if contact else None)
    account = await ctx.profiles.get("account", company_id) if company_id else None
    refs_before = identity.refs() if refs_before is None else refs_before
    identity.show(contact, account)  # type: ignore[arg-type]
    for kind, record_id in sorted(refs_before - identity.refs()):
        await ctx.links.set_ref(kind, record_id, identity.customer_id, linked=False)
    for kind, record_id in sorted(identity.refs() - refs_before):
        await ctx.links.set_ref(kind, record_id, identity.customer_id, linked=True)
    await ctx.links.save(identity)
    for line_id in identity.lines:
        row = await ctx.lines.user(line_id, identity.customer_id)
        if row is None or (row.contact_name, row.company) == (identity.name, identity.company):
            continue
        row.contact_name, row.company = identity.name, identity.company
        await ctx.lines.save_user(row)
        lines_cases.row_changed(ctx, row)


async def follow_edit(ctx: Context, profile: Profile[Any]) -> None:
    """A contact or account was edited: the customers linked through it show its new name, company, position."""
    for customer_id in await ctx.links.linked_through(profile.KIND, profile.id):
        await show_link(ctx, await ctx.links.identity(customer_id))


EDIT_FOLLOWERS.append(follow_edit)
