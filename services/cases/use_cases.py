"""Cases' use cases: one named function per command, registered in USE_CASES (which the Kafka entrypoint and
the AsyncAPI document read), and the followers of events (FOLLOWED: other services' events, and cases' own
events, which the timeline follows in the same transaction). Each loads through the repository, asks the
domain, saves, and returns the id of what it created or changed, which its CommandAccepted carries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from services.cases.adapters.store import CaseStore
from services.cases.domain.cases import Case, ServiceRequest
from shared.contracts import cases as c
from shared.contracts.answers import Rejected
from shared.contracts.envelope import Actor, Event

STAFF = ("agent", "supervisor", "admin", "system")


@dataclass
class Context:
    tx: Any
    tenant_id: str
    actor: Actor
    now: datetime
    event_id: str | None = None  # the envelope id of the event being followed (None: a command)
    occurred_at: datetime | None = None  # and its envelope's time (the timeline's time of events without one)
    events: list[Event] = field(default_factory=list)

    @property
    def store(self) -> CaseStore:
        if not hasattr(self, "_store"):
            self._store = CaseStore(self.tx, self.tenant_id)
        return self._store

    @property
    def by(self) -> str | None:
        return self.actor.user_id if self.actor.role != "system" else None


M = TypeVar("M", bound=c.CasesCommand)
E = TypeVar("E", bound=Event)
UseCase = Callable[[Context, Any], Awaitable[str | None]]
Follower = Callable[[Context, Any], Awaitable[None]]
USE_CASES: dict[type[c.CasesCommand], UseCase] = {}
# Event type -> what follows it, in registration order: other services' events (the handlers' consumers)
# and cases' own events (run in the transaction that emitted them: the timeline).
FOLLOWED: dict[type[Event], list[Follower]] = defaultdict(list)


def use_case(command: type[M], *, roles: tuple[str, ...] = STAFF
             ) -> Callable[[Callable[[Context, M], Awaitable[str | None]]], UseCase]:
    def register(function: Callable[[Context, M], Awaitable[str | None]]) -> UseCase:
        async def checked(ctx: Context, cmd: M) -> str | None:
            if ctx.actor.role not in roles:
                raise Rejected("forbidden", f"{ctx.actor.role or 'nobody'} may not {command.__name__}")
            return await function(ctx, cmd)
        USE_CASES[command] = checked
        return function
    return register


def follows(*types: type[E]) -> Callable[[Callable[[Context, E], Awaitable[None]]], Callable[[Context, E],
                                                                                              Awaitable[None]]]:
    def register(function: Callable[[Context, E], Awaitable[None]]) -> Callable[[Context, E], Awaitable[None]]:
        for t in types:
            FOLLOWED[t].append(function)
        return function
    return register


async def run_followers(ctx: Context, event: Event) -> None:
    """Everything that follows another service's `event`, then what follows the events that caused."""
    for follower in FOLLOWED.get(type(event), ()):
        await follower(ctx, event)
    await follow_own(ctx)


async def follow_own(ctx: Context) -> None:
    """What follows cases' own events (ctx.events, and those their followers add), in order."""
    done = 0
    while done < len(ctx.events):
        own = ctx.events[done]
        done += 1
        for follower in FOLLOWED.get(type(own), ()):
            await follower(ctx, own)


async def existing_case(ctx: Context, case_id: str) -> Case:
    case = await ctx.store.get(case_id)
    if case is None:
        raise Rejected("not_found", f"case {case_id} does not exist")
    return case


async def link(ctx: Context, case: Case, conversation_id: str, *, automatic: bool) -> None:
    """Link a conversation to a case (moving it from the case it was linked to before)."""
    facts = await ctx.store.conversation(conversation_id)
    previous = facts.case_id
    if previous == case.id and conversation_id in case.conversations:
        return
    if previous and previous != case.id:
        before = await ctx.store.get(previous)
        if before is not None:
            before.unlink(conversation_id)
            await ctx.store.touch(before)
    case.link(conversation_id)
    await ctx.store.touch(case)
    facts.case_id = case.id
    await ctx.store.save_conversation(facts)
    ctx.events.append(c.ConversationLinked(case_id=case.id, conversation_id=conversation_id, number=case.number,
                                           previous_case_id=previous if previous != case.id else None,
                                           automatic=automatic, at=ctx.now))


async def open_case(ctx: Context, case_id: str, fields: c.CaseFields, *, origin: str,
                    conversation_id: str | None) -> Case:
    if await ctx.store.get(case_id) is not None:
        raise Rejected("conflict", f"case {case_id} already exists")
    case, event = Case.open(case_id, await ctx.store.next_number(), fields, origin=origin,  # type: ignore[arg-type]
                            by=ctx.by, now=ctx.now)
    await ctx.store.save(case)
    ctx.events.append(event)
    if conversation_id:
        await link(ctx, case, conversation_id, automatic=False)
    return case


@use_case(c.OpenCase)
async def open_case_command(ctx: Context, cmd: c.OpenCase) -> str:
    """A new case with the next number; from a conversation: the conversation's customer unless named, and linked."""
    fields, early = cmd.fields, False
    if cmd.conversation_id:
        facts = await ctx.store.conversation(cmd.conversation_id)
        early = not facts.started and fields.contact_id is None and fields.account_id is None
        if fields.contact_id is None and fields.account_id is None:
            fields = fields.model_copy(update={"contact_id": facts.contact_id, "account_id": facts.account_id})
    case = await open_case(ctx, cmd.case_id, fields, origin="conversation" if cmd.conversation_id else "agent",
                           conversation_id=cmd.conversation_id)
    if early and cmd.conversation_id:  # its customer comes with the conversation's start (conversation_cases.py)
        facts = await ctx.store.conversation(cmd.conversation_id)
        facts.customer_for = case.id
        await ctx.store.save_conversation(facts)
    return case.id


@use_case(c.EditCase)
async def edit_case(ctx: Context, cmd: c.EditCase) -> str:
    """An inline edit against the version the editor saw; status along the allowed transitions."""
    case = await existing_case(ctx, cmd.case_id)
    event = case.edit(version=cmd.version, changes=cmd.changes, clear=cmd.clear, by=ctx.by, now=ctx.now)
    if event is not None:
        await ctx.store.save(case)
        ctx.events.append(event)
    return case.id


@use_case(c.LinkConversation)
async def link_conversation(ctx: Context, cmd: c.LinkConversation) -> str:
    case = await existing_case(ctx, cmd.case_id)
    await link(ctx, case, cmd.conversation_id, automatic=False)
    return case.id


@use_case(c.AddQuickNote)
async def add_quick_note(ctx: Context, cmd: c.AddQuickNote) -> str:
    """A note on a case, contact or account: stored with the timeline (timeline_cases.py follows the event)."""
    if cmd.record_kind == "case":  # contacts and accounts are the customer service's: the gateway checks them
        await existing_case(ctx, cmd.record_id)
    await ctx.store.save_note(cmd.note_id, cmd.record_kind, cmd.record_id, cmd.text, by=ctx.by, at=ctx.now)
    ctx.events.append(c.QuickNoteAdded(note_id=cmd.note_id, record_kind=cmd.record_kind, record_id=cmd.record_id,
                                       by=ctx.by, at=ctx.now))
    return cmd.note_id


@use_case(c.RegisterServiceRequest)
async def register_service_request(ctx: Context, cmd: c.RegisterServiceRequest) -> str:
    if await ctx.store.service_request(cmd.service_request_id) is not None:
        raise Rejected("conflict", f"service request {cmd.service_request_id} already exists")
    facts = await ctx.store.conversation(cmd.conversation_id)  # not started yet: its contact comes with the start
    sr, event = ServiceRequest.register(cmd.service_request_id, conversation_id=cmd.conversation_id,
                                        contact_id=cmd.contact_id or facts.contact_id, title=cmd.title,
                                        details=cmd.details, by=ctx.by, now=ctx.now)
    await ctx.store.save_service_request(sr)
    ctx.events.append(event)
    return sr.id


@use_case(c.ChangeServiceRequest)
async def change_service_request(ctx: Context, cmd: c.ChangeServiceRequest) -> str:
    sr = await ctx.store.service_request(cmd.service_request_id)
    if sr is None:
        raise Rejected("not_found", f"service request {cmd.service_request_id} does not exist")
    event = sr.change(version=cmd.version, status=cmd.status, by=ctx.by, now=ctx.now)
    if event is not None:
        await ctx.store.save_service_request(sr)
        ctx.events.append(event)
    return sr.id


# following chat and customer: auto-link, offline messages, customer links and names (conversation_cases.py)
from services.cases import conversation_cases  # noqa: E402,F401  (registers them)
# erasing a contact on request (privacy): erasure_cases.py
from services.cases import erasure_cases  # noqa: E402,F401  (registers it)
# the timeline of cases, contacts and accounts (K2), after conversation_cases: timeline_cases.py
from services.cases import timeline_cases  # noqa: E402,F401  (registers it)
# the knowledge base (K4): articles, drafts from replies: knowledge_cases.py
from services.cases import knowledge_cases  # noqa: E402,F401  (registers them)
