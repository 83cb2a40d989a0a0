"""Who may do what: the one permission table that the gateway's code, its tests and its README read.

A role (from the token) and the actor's relations to one conversation (computed by the caller from
routing's and chat's state) decide an action. Permissions say who may *try*; whether the
conversation's state allows it now (an ended chat takes no message) is chat's and routing's answer.
`python -m services.gateway.auth.permissions` prints the tables pasted into the README.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    CUSTOMER = "customer"


STAFF_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT})


class Relation(StrEnum):
    OFFERED = "offered"
    ASSIGNED = "assigned"
    CONFERENCE_MEMBER = "conference_member"
    QUEUE_MEMBER = "queue_member"
    OFFLINE_INBOX = "offline_inbox"
    SUPERVISOR_OF_QUEUE = "supervisor_of_queue"
    FAVOURITE_OF = "favourite_of"
    OWN = "own"
    NONE = "none"


RELATION_MEANINGS: Mapping[Relation, str] = MappingProxyType({
    Relation.OFFERED: "the actor has a pending offer of the conversation, or a pending invitation to its conference",
    Relation.ASSIGNED: "the conversation is assigned to the actor (also during wrap-up; for a closed one, "
                       "the agent who had it last: the Closed list)",
    Relation.CONFERENCE_MEMBER: "the actor joined the conversation's conference (invited and accepted)",
    Relation.QUEUE_MEMBER: "the conversation waits in a queue the actor is a member of (the Open list, to take)",
    Relation.OFFLINE_INBOX: "the conversation is an offline message left in a queue the actor is a member of "
                            "(the Closed list)",
    Relation.SUPERVISOR_OF_QUEUE: "the conversation is in a queue the actor is a named supervisor of",
    Relation.FAVOURITE_OF: "the conversation's customer is one of the actor's favourites (U4): followed read-only",
    Relation.OWN: "the customer's own conversation (the `cid` of the customer token)",
    Relation.NONE: "none of the above; also what an empty set of relations means",
})


class Action(StrEnum):
    READ_CONVERSATION = "read_conversation"
    READ_PREVIEW = "read_preview"
    READ_MESSAGES = "read_messages"
    SEND_MESSAGE = "send_message"
    SEND_PRIVATE_NOTE = "send_private_note"
    READ_PRIVATE_NOTES = "read_private_notes"
    ACCEPT_OFFER = "accept_offer"
    DECLINE_OFFER = "decline_offer"
    TAKE = "take"
    TRANSFER = "transfer"
    INVITE_CONFERENCE = "invite_conference"
    LEAVE_CONFERENCE = "leave_conference"
    END_CONFERENCE = "end_conference"
    END = "end"
    WRAP_UP = "wrap_up"
    CLOSE_TO_WAITING = "close_to_waiting"
    LINK_CUSTOMER = "link_customer"
    MARK_READ = "mark_read"
    TYPING = "typing"
    WORK_CASES = "work_cases"
    EDIT_SKILLS = "edit_skills"
    OBSERVE = "observe"
    READ_WORK_LISTS = "read_work_lists"
    KEEP_SESSIONS = "keep_sessions"
    SUPERVISE = "supervise"
    START_PROACTIVE = "start_proactive"
    SEARCH_HISTORY = "search_history"
    READ_CUSTOMERS = "read_customers"
    EDIT_CONTACTS = "edit_contacts"
    READ_CASES = "read_cases"
    EDIT_CASES = "edit_cases"
    READ_ARTICLES = "read_articles"
    EDIT_ARTICLES = "edit_articles"
    DRAFT_ARTICLE = "draft_article"
    READ_HINTS = "read_hints"
    EDIT_ACCOUNTS = "edit_accounts"
    MANAGE_AGENTS = "manage_agents"
    MANAGE_QUEUES = "manage_queues"
    MANAGE_WRAP_UP_REASONS = "manage_wrap_up_reasons"
    MANAGE_IDENTITY_SECRET = "manage_identity_secret"
    MANAGE_SURVEY = "manage_survey"
    MANAGE_MASKING = "manage_masking"
    MANAGE_SENTIMENT = "manage_sentiment"
    MANAGE_QUICK_REPLIES = "manage_quick_replies"
    KEEP_QUICK_REPLIES = "keep_quick_replies"
    MANAGE_ATTACHMENTS = "manage_attachments"
    EXPORT_CUSTOMER_DATA = "export_customer_data"
    ERASE_CUSTOMER_DATA = "erase_customer_data"


class Scope(StrEnum):
    CONVERSATION = "conversation"  # about one conversation: relations decide
    TENANT = "tenant"  # about the actor's tenant as a whole: the role alone decides


EVERY_RELATION = frozenset(Relation)
ADMIN_ACTIONS = frozenset({Action.MANAGE_AGENTS, Action.MANAGE_QUEUES, Action.MANAGE_WRAP_UP_REASONS,
                           Action.MANAGE_IDENTITY_SECRET, Action.MANAGE_SURVEY, Action.MANAGE_QUICK_REPLIES,
                           Action.MANAGE_ATTACHMENTS, Action.MANAGE_MASKING, Action.MANAGE_SENTIMENT,
                           Action.ERASE_CUSTOMER_DATA})


@dataclass(frozen=True)
class Rule:
    """One row: for each role, the relations any one of which grants the action (EVERY_RELATION: always)."""

    action: Action
    scope: Scope
    meaning: str
    grants: Mapping[Role, frozenset[Relation]]


def _conversation_rule(action: Action, meaning: str, *, work: Iterable[Relation] = (), supervises: bool = False,
                       own: bool = False, follows: bool = False) -> Rule:
    # Roles are cumulative for conversation work: a supervisor or an admin who is offered, assigned or
    # invited works like an agent; supervision adds supervisor_of_queue for the roles that can hold it.
    # `follows`: an observer of a favourite customer's conversation (any staff role) may do this too.
    staff = frozenset(work) | ({Relation.FAVOURITE_OF} if follows else set())
    supervising = staff | ({Relation.SUPERVISOR_OF_QUEUE} if supervises else set())
    return Rule(action, Scope.CONVERSATION, meaning, MappingProxyType({
        Role.ADMIN: supervising,
        Role.SUPERVISOR: supervising,
        Role.AGENT: staff,
        Role.CUSTOMER: frozenset({Relation.OWN}) if own else frozenset(),
    }))


def _tenant_rule(action: Action, meaning: str, *, roles: Iterable[Role]) -> Rule:
    granted = frozenset(roles)
    return Rule(action, Scope.TENANT, meaning,
                MappingProxyType({role: EVERY_RELATION if role in granted else frozenset() for role in Role}))


_WORKING = (Relation.ASSIGNED, Relation.CONFERENCE_MEMBER)
_SEEING = (Relation.OFFERED, *_WORKING, Relation.QUEUE_MEMBER)

PERMISSIONS: tuple[Rule, ...] = (
    _conversation_rule(Action.READ_CONVERSATION, "metadata: customer name, queue, state, wait time, context",
                       work=(*_SEEING, Relation.OFFLINE_INBOX), supervises=True, own=True, follows=True),
    _conversation_rule(Action.READ_PREVIEW, "the preview of the last customer message (offers, Open list)",
                       work=_SEEING, supervises=True),
    _conversation_rule(Action.READ_MESSAGES, "the transcript (customer, agent, bot and system messages)",
                       work=(*_WORKING, Relation.OFFLINE_INBOX), supervises=True, own=True, follows=True),
    _conversation_rule(Action.SEND_MESSAGE, "write to the customer", work=_WORKING, own=True),
    _conversation_rule(Action.SEND_PRIVATE_NOTE, "write a note only staff see", work=_WORKING),
    _conversation_rule(Action.READ_PRIVATE_NOTES, "read the notes only staff see", work=_WORKING, supervises=True),
    _conversation_rule(Action.ACCEPT_OFFER, "accept an offer or a conference invitation", work=[Relation.OFFERED]),
    _conversation_rule(Action.DECLINE_OFFER, "decline an offer or a conference invitation", work=[Relation.OFFERED]),
    _conversation_rule(Action.TAKE, "take a waiting conversation by hand", work=[Relation.QUEUE_MEMBER]),
    _conversation_rule(Action.TRANSFER, "transfer to a queue or a named agent", work=[Relation.ASSIGNED]),
    _conversation_rule(Action.INVITE_CONFERENCE, "invite an agent to a conference", work=[Relation.ASSIGNED]),
    _conversation_rule(Action.LEAVE_CONFERENCE, "leave a conference one joined", work=[Relation.CONFERENCE_MEMBER]),
    _conversation_rule(Action.END_CONFERENCE, "end the conference", work=[Relation.ASSIGNED]),
    _conversation_rule(Action.END, "end the conversation (the customer from the widget too)",
                       work=[Relation.ASSIGNED], own=True),
    _conversation_rule(Action.WRAP_UP, "finish with a wrap-up reason", work=[Relation.ASSIGNED]),
    _conversation_rule(Action.CLOSE_TO_WAITING, "close into waiting (persistent chat)", work=[Relation.ASSIGNED]),
    _conversation_rule(Action.LINK_CUSTOMER, "link the conversation's customer to a contact or an account, or "
                                             "create the contact from it (U5)",
                       work=(*_WORKING, Relation.OFFLINE_INBOX), supervises=True),
    _conversation_rule(Action.MARK_READ, "mark messages read (an observer's reading changes no receipt)",
                       work=_WORKING, own=True),
    _conversation_rule(Action.TYPING, "send a typing indicator", work=_WORKING, own=True),
    _conversation_rule(Action.WORK_CASES, "open a case from the conversation, link it to a case, register a service "
                                          "request from it (K1, K3)",
                       work=(*_WORKING, Relation.OFFLINE_INBOX), supervises=True),
    _conversation_rule(Action.EDIT_SKILLS, "change the skills the conversation requires (where its queue lets "
                                           "agents; routing decides)", work=[Relation.ASSIGNED]),
    _conversation_rule(Action.OBSERVE, "follow a conversation live without working on it", supervises=True,
                       follows=True),
    _tenant_rule(Action.READ_WORK_LISTS, "the My, Open and Closed lists", roles=STAFF_ROLES),
    _tenant_rule(Action.KEEP_SESSIONS, "keep one's own sessions panel (G3): open, focus, drafts, close",
                 roles=STAFF_ROLES),
    _tenant_rule(Action.SUPERVISE, "the live board of the queues one supervises (G5): their conversations, "
                                   "agents and waiting items", roles=[Role.ADMIN, Role.SUPERVISOR]),
    _tenant_rule(Action.START_PROACTIVE, "start a chat with a customer (proactive chat, C8), held at once",
                 roles=STAFF_ROLES),
    _tenant_rule(Action.SEARCH_HISTORY, "search messages' masked text (C6); hits only from conversations one may "
                                        "read_messages", roles=STAFF_ROLES),
    _tenant_rule(Action.READ_CUSTOMERS, "read and search contacts and accounts (U1, U2)", roles=STAFF_ROLES),
    _tenant_rule(Action.EDIT_CONTACTS, "create contacts and edit them inline", roles=STAFF_ROLES),
    _tenant_rule(Action.READ_CASES, "read and search cases, a customer's recent cases, timelines and service "
                                    "requests (K1-K3)", roles=STAFF_ROLES),
    _tenant_rule(Action.EDIT_CASES, "open cases, edit them inline, write quick notes, move service requests "
                                    "(K1-K3)", roles=STAFF_ROLES),
    _tenant_rule(Action.READ_ARTICLES, "read and search knowledge articles, drafts too (K4)", roles=STAFF_ROLES),
    _tenant_rule(Action.EDIT_ARTICLES, "write knowledge articles, edit and publish them (K4)",
                 roles=[Role.ADMIN, Role.SUPERVISOR]),
    _conversation_rule(Action.DRAFT_ARTICLE, "make a draft knowledge article from an agent's reply in the "
                                             "conversation (K4)", work=_WORKING, supervises=True),
    _conversation_rule(Action.READ_HINTS, "similar-question hints while typing and the article chosen: published "
                                          "articles of the conversation's tenant (K4)", own=True),
    _tenant_rule(Action.EDIT_ACCOUNTS, "create accounts (companies) and edit them inline",
                 roles=[Role.ADMIN, Role.SUPERVISOR]),
    _tenant_rule(Action.MANAGE_AGENTS, "create agents, set roles, capacity and skills", roles=[Role.ADMIN]),
    _tenant_rule(Action.MANAGE_QUEUES, "create and configure queues, members and supervisors", roles=[Role.ADMIN]),
    _tenant_rule(Action.MANAGE_WRAP_UP_REASONS, "edit the list of wrap-up reasons", roles=[Role.ADMIN]),
    _tenant_rule(Action.MANAGE_IDENTITY_SECRET, "see and rotate the tenant's identity secret (authenticated customers)",
                 roles=[Role.ADMIN]),
    _tenant_rule(Action.MANAGE_SURVEY, "switch the post-chat survey (CSAT) on or off", roles=[Role.ADMIN]),
    _tenant_rule(Action.MANAGE_MASKING, "set what chat masks (C4) and which roles may read the originals",
                 roles=[Role.ADMIN]),
    _tenant_rule(Action.MANAGE_SENTIMENT, "set the sentiment level at or below which agents and supervisors are "
                                          "alerted (C5)", roles=[Role.ADMIN]),
    _tenant_rule(Action.MANAGE_QUICK_REPLIES, "edit the tenant's quick replies (everyone's canned responses)",
                 roles=[Role.ADMIN]),
    _tenant_rule(Action.KEEP_QUICK_REPLIES, "keep one's own quick replies, list those one may use",
                 roles=STAFF_ROLES),
    _tenant_rule(Action.MANAGE_ATTACHMENTS, "set the tenant's attachment limits (largest file, accepted types)",
                 roles=[Role.ADMIN]),
    _tenant_rule(Action.EXPORT_CUSTOMER_DATA, "export everything held about a contact (privacy: its record, "
                                              "links, line rows, conversations with messages and files' metadata)",
                 roles=[Role.ADMIN, Role.SUPERVISOR]),
    _tenant_rule(Action.ERASE_CUSTOMER_DATA, "erase a contact on request, across every service (privacy)",
                 roles=[Role.ADMIN]),
)

RULES: Mapping[Action, Rule] = MappingProxyType({rule.action: rule for rule in PERMISSIONS})


def _normalise(relations: Iterable[Relation]) -> frozenset[Relation]:
    given = frozenset(Relation(r) for r in relations)
    if Relation.NONE in given and len(given) > 1:
        raise ValueError(f"'none' cannot be combined with other relations: {sorted(given)}")
    return given or frozenset({Relation.NONE})


def allowed(role: Role, action: Action, relations: Iterable[Relation]) -> bool:
    """Whether `role`, related to the conversation by `relations` (empty = none), may do `action`."""
    return bool(RULES[Action(action)].grants[Role(role)] & _normalise(relations))


class Refusal(NamedTuple):
    """An HTTP refusal with a fixed body: it never says what exists, who owns it, or why beyond its code."""

    status: int
    code: str
    detail: str

    def body(self) -> dict[str, str]:
        return {"error": self.code, "detail": self.detail}

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}


NOT_SIGNED_IN = Refusal(401, "not_signed_in", "Sign in to continue.")
NOT_FOUND = Refusal(404, "not_found", "Not found.")
FORBIDDEN = Refusal(403, "forbidden", "You are not allowed to do this.")
READ_ONLY = Refusal(403, "read_only", "You observe this conversation read-only: only the agents working it write "
                                      "to the customer.")


def refusal(role: Role | None, action: Action, relations: Iterable[Relation] = (), *,
            found: bool = True) -> Refusal | None:
    """The HTTP answer to a request, or None when it is allowed.

    `role` is None when no valid token came (401). `found` is whether the conversation exists *in the
    actor's tenant* (look it up by tenant and id, so another tenant's is not found): 404. A conversation
    the actor may not even read_conversation is answered 404 too, so an id probe learns nothing; one
    the actor can see but may not act on this way is 403.
    """
    if role is None:
        return NOT_SIGNED_IN
    rule = RULES[Action(action)]
    if rule.scope is Scope.CONVERSATION and not found:
        return NOT_FOUND
    if allowed(role, action, relations):
        return None
    if rule.scope is Scope.CONVERSATION and not allowed(role, Action.READ_CONVERSATION, relations):
        return NOT_FOUND
    return FORBIDDEN


def _cell(relations: frozenset[Relation]) -> str:
    if relations == EVERY_RELATION:
        return "yes"
    if not relations:
        return "no"
    return ", ".join(f"`{r}`" for r in Relation if r in relations)


def render_permission_table() -> str:
    """The markdown table of PERMISSIONS (one row per action, one column per role), as in the README."""
    roles = list(Role)
    lines = ["| action | scope | what | " + " | ".join(roles) + " |",
             "|---|---|---|" + "---|" * len(roles)]
    for rule in PERMISSIONS:
        cells = [_cell(rule.grants[role]) for role in roles]
        lines.append(f"| `{rule.action}` | {rule.scope} | {rule.meaning} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_relation_table() -> str:
    """The markdown table of the relations' meanings, as in the README."""
    lines = ["| relation | meaning |", "|---|---|"]
    lines += [f"| `{relation}` | {meaning} |" for relation, meaning in RELATION_MEANINGS.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_relation_table())
    print(render_permission_table(), end="")
