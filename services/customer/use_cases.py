"""Customer's use cases: one named function per command, registered in USE_CASES (which the Kafka
entrypoint and the AsyncAPI document read). Each loads through the repository, asks the domain, saves,
and returns the id of what it created or changed, which its CommandAccepted carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from services.customer.adapters.lines import LineRecords
from services.customer.adapters.links import LinkRecords
from services.customer.adapters.store import Profiles
from services.customer.domain.profiles import UNIQUE_FIELDS, Account, Contact, Profile
from shared.contracts import customer as c
from shared.contracts.answers import Rejected
from shared.contracts.envelope import Actor, Event

STAFF = ("agent", "supervisor", "admin", "system")
MANAGERS = ("supervisor", "admin", "system")


@dataclass
class Context:
    profiles: Profiles
    lines: LineRecords
    links: LinkRecords
    actor: Actor
    now: datetime
    events: list[Event] = field(default_factory=list)


M = TypeVar("M", bound=c.CustomerCommand)
UseCase = Callable[[Context, Any], Awaitable[str | None]]
USE_CASES: dict[type[c.CustomerCommand], UseCase] = {}
# Run in an edit's transaction after a contact or account changed (identity_cases.py: linked users' rows follow).
EDIT_FOLLOWERS: list[Callable[[Context, Profile[Any]], Awaitable[None]]] = []


def use_case(command: type[M], *, roles: tuple[str, ...]) -> Callable[[Callable[[Context, M], Awaitable[str | None]]],
                                                                     UseCase]:
    def register(function: Callable[[Context, M], Awaitable[str | None]]) -> UseCase:
        async def checked(ctx: Context, cmd: M) -> str | None:
            if ctx.actor.role not in roles:
                raise Rejected("forbidden", f"{ctx.actor.role or 'nobody'} may not {command.__name__}")
            return await function(ctx, cmd)
        USE_CASES[command] = checked
        return function
    return register


async def _check_links(ctx: Context, profile: Profile[Any]) -> None:
    """Unique fields are not someone else's, and the records it names exist."""
    for name in UNIQUE_FIELDS[profile.KIND]:
        value = getattr(profile.fields, name)
        holder = await ctx.profiles.holder_of(profile.KIND, name, value) if value is not None else None
        if holder not in (None, profile.id):
            raise Rejected("conflict", f"{name} {value} is already {profile.KIND} {holder}'s")
    for kind, ids in profile.references().items():
        for other in ids:
            if not await ctx.profiles.exists(kind, other):
                raise Rejected("invalid_argument", f"{kind} {other} does not exist")


async def _create(ctx: Context, cls: type[Profile[Any]], record_id: str, fields: Any) -> str:
    if await ctx.profiles.get(cls.KIND, record_id) is not None:
        raise Rejected("conflict", f"{cls.KIND} {record_id} already exists")
    profile, event = cls.create(record_id, fields, now=ctx.now)
    await _check_links(ctx, profile)
    await ctx.profiles.save(profile)
    ctx.events.append(event)
    return record_id


async def _edit(ctx: Context, kind: str, record_id: str, cmd: Any) -> str:
    profile = await ctx.profiles.get(kind, record_id)
    if profile is None:
        raise Rejected("not_found", f"{kind} {record_id} does not exist")
    event = profile.edit(version=cmd.version, changes=cmd.changes, clear=cmd.clear, now=ctx.now)
    if event is not None:
        await _check_links(ctx, profile)
        await ctx.profiles.save(profile)
        ctx.events.append(event)
        for follow in EDIT_FOLLOWERS:
            await follow(ctx, profile)
    return record_id


@use_case(c.CreateContact, roles=STAFF)
async def create_contact(ctx: Context, cmd: c.CreateContact) -> str:
    """A new contact; its e-mail and login id are nobody else's, its account exists."""
    return await _create(ctx, Contact, cmd.contact_id, cmd.fields)


@use_case(c.UpdateContact, roles=STAFF)
async def update_contact(ctx: Context, cmd: c.UpdateContact) -> str:
    """An inline edit against the version the editor saw."""
    return await _edit(ctx, "contact", cmd.contact_id, cmd)


@use_case(c.CreateAccount, roles=MANAGERS)
async def create_account(ctx: Context, cmd: c.CreateAccount) -> str:
    """A new account (company); its primary contact exists."""
    return await _create(ctx, Account, cmd.account_id, cmd.fields)


@use_case(c.UpdateAccount, roles=MANAGERS)
async def update_account(ctx: Context, cmd: c.UpdateAccount) -> str:
    """An inline edit against the version the editor saw."""
    return await _edit(ctx, "account", cmd.account_id, cmd)


# line lists (U3) and an agent's own ties (U2, U4): the use cases are in lines_cases.py
from services.customer import lines_cases  # noqa: E402,F401  (registers them)
# linking chat customers to contacts and accounts (U5): identity_cases.py
from services.customer import identity_cases  # noqa: E402,F401  (registers it)
# erasing a contact on request (privacy): erasure_cases.py
from services.customer import erasure_cases  # noqa: E402,F401  (registers it)
