"""The active-conversation view (G4): one document per active conversation, projected from the events of chat,
routing, customer and cases: pure functions, no I/O (handlers.py runs them in the consumer's transaction and
pushes a `view` frame per changed section to the conversation's agents).

Sections: `summary` (channel, queue, state, agents, skills, start, when an agent took it and how long the
customer waited, messages, the customer's sentiment (C5)), `context` (pre-chat survey, self-service trail
newest first, visitor details, context variables), `customer` (chat's customer, the contact and account it is
linked to, their names) and `case` (the linked case: id, number, and its title, priority and status as the last
CaseChanged said).

Exact under duplicates (the consumer records each event id in the same transaction) and under arrival out
of order between topics: every section a topic can reach from two sides carries what orders it, never a
broker offset: case fields apply only from a newer case version, a link only from a later link time, the
contact's name only from a newer contact version. A closed conversation leaves a tombstone (`closed`),
which no later event brings back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.contracts import cases, chat, customer, routing
from shared.contracts.envelope import Envelope

Doc = dict[str, Any]

# What each of these events is about: conversation-keyed ones change one view; the others change every view
# linked to their record (a case, a contact, an account).
CONVERSATION_EVENTS = (chat.ConversationStarted, chat.ConversationStateChanged, chat.MessagePosted,
                       chat.ConversationClosed, chat.CustomerIdentified, routing.ConversationQueued,
                       routing.ConversationAssigned, routing.ConversationSkillsChanged,
                       routing.ConversationTransferred, customer.CustomerLinked, cases.ConversationLinked,
                       chat.SentimentAssessed)
RECORD_EVENTS = {cases.CaseChanged: "case.case_id", customer.ContactChanged: "customer.contact_id",
                 customer.AccountChanged: "customer.account_id"}


@dataclass
class Change:
    view: Doc | None = None  # the document to store (None: unchanged)
    sections: list[str] = field(default_factory=list)  # what changed, for the frames


def new_view(tenant_id: str, conversation_id: str) -> Doc:
    return {"_id": f"{tenant_id}:{conversation_id}", "tenant_id": tenant_id, "conversation_id": conversation_id,
            "closed": False,
            "summary": {"channel": "chat", "queue_id": None, "state": "requested", "agents": [], "skills": {},
                        "started_at": None, "assigned_at": None, "waited_s": None, "customer_messages": 0,
                        "last_customer_message_at": None, "sentiment": None},
            "context": {"prechat": {}, "trail": [], "visitor": {}, "variables": {}, "authenticated": False},
            "customer": {"customer_id": None, "name": None, "contact_id": None, "account_id": None,
                         "company": None, "linked_at": None, "contact_version": 0, "account_version": 0},
            "case": None}


def tombstone(tenant_id: str, conversation_id: str, at: datetime) -> Doc:
    return {"_id": f"{tenant_id}:{conversation_id}", "tenant_id": tenant_id, "conversation_id": conversation_id,
            "closed": True, "closed_at": at}


def _waited(s: Doc) -> float | None:
    if s["started_at"] is None or s["assigned_at"] is None:
        return None
    return max(0.0, (s["assigned_at"] - s["started_at"]).total_seconds())


def _link(c: Doc, at: datetime, contact_id: str | None, account_id: str | None, **names: Any) -> bool:
    """A customer link from either side (chat's CustomerIdentified, customer's CustomerLinked): the later wins."""
    if c["linked_at"] is not None and at < c["linked_at"]:
        return False
    if contact_id != c["contact_id"]:
        c["contact_version"] = 0  # another contact: its names are not known yet
    if account_id is not None and account_id != c["account_id"]:
        c["account_version"] = 0
    c.update(linked_at=at, contact_id=contact_id)
    if account_id is not None:
        c["account_id"] = account_id
    for key, value in names.items():
        if value is not None and not (key == "name" and c["contact_version"]):
            c[key] = value
    return True


def apply(view: Doc | None, env: Envelope[Any]) -> Change:
    """A conversation-keyed event applied to the conversation's view (None: not seen yet)."""
    ev = env.payload
    if view is not None and view["closed"]:
        return Change()  # the tombstone: nothing brings a closed conversation back
    if isinstance(ev, chat.ConversationClosed):
        return Change(tombstone(env.tenant_id, ev.conversation_id, ev.closed_at), ["closed"])
    v = _copy(view) if view is not None else new_view(env.tenant_id, ev.conversation_id)
    s, c = v["summary"], v["customer"]
    match ev:
        case chat.ConversationStarted():
            if ev.offline:
                return Change()  # an offline message is closed at once: never an active conversation
            s.update(channel=ev.context.channel, queue_id=s["queue_id"] or ev.queue_id, started_at=ev.started_at)
            v["context"] = {"prechat": dict(ev.context.prechat),
                            "trail": [t.model_dump(mode="json") for t in sorted(ev.context.trail, key=lambda t: t.at,
                                                                                reverse=True)],
                            "visitor": ev.context.visitor.model_dump(mode="json", exclude_none=True),
                            "variables": dict(ev.context.variables), "authenticated": ev.customer.authenticated}
            c["customer_id"] = ev.customer.customer_id
            if c["name"] is None:
                c["name"] = ev.customer.name
            s["waited_s"] = _waited(s)
            return Change(v, ["summary", "context", "customer"])
        case chat.ConversationStateChanged():
            s.update(state=ev.state, agents=list(ev.agents), queue_id=ev.queue_id)
            return Change(v, ["summary"])
        case chat.MessagePosted():
            if ev.sender.kind != "customer" or ev.private:
                return Change()
            s["customer_messages"] += 1
            s["last_customer_message_at"] = ev.sent_at
            return Change(v, ["summary"])
        case chat.SentimentAssessed():  # C5: the conversation's level after its latest assessed message
            known = s.get("sentiment")
            if known is not None and known["seq"] >= ev.seq:
                return Change()
            s["sentiment"] = {"level": ev.conversation_level, "message_level": ev.message_level, "seq": ev.seq,
                              "alert": ev.alert, "at": ev.at}
            return Change(v, ["summary"])
        case chat.CustomerIdentified():
            if not _link(c, ev.at, ev.contact_id, None, name=ev.customer_name):
                return Change()
            return Change(v, ["customer"])
        case customer.CustomerLinked():
            if not _link(c, ev.at, ev.contact_id, ev.account_id, name=ev.name, company=ev.company):
                return Change()
            return Change(v, ["customer"])
        case routing.ConversationQueued():
            s.update(queue_id=ev.queue_id, channel=ev.channel, skills=dict(ev.skills))
            return Change(v, ["summary"])
        case routing.ConversationSkillsChanged():
            s["skills"] = dict(ev.skills)
            return Change(v, ["summary"])
        case routing.ConversationTransferred():
            if ev.to_queue_id:
                s["queue_id"] = ev.to_queue_id
            return Change(v, ["summary"])
        case routing.ConversationAssigned():
            if s["assigned_at"] is None:  # the first agent's: how long the customer waited
                s["assigned_at"] = env.occurred_at
                s["waited_s"] = _waited(s)
            return Change(v, ["summary"])
        case cases.ConversationLinked():
            known = v["case"]
            if known is not None and known["linked_at"] > ev.at:
                return Change()  # a later link to another case came first
            same = known is not None and known["case_id"] == ev.case_id
            v["case"] = {**(known if same else {"title": None, "priority": None, "status": None, "version": 0}),
                         "case_id": ev.case_id, "number": ev.number, "linked_at": ev.at}
            return Change(v, ["case"])
    return Change()


def apply_record(view: Doc, env: Envelope[Any]) -> Change:
    """A case's, contact's or account's change applied to a view linked to it."""
    ev = env.payload
    if view["closed"]:
        return Change()
    v = _copy(view)
    match ev:
        case cases.CaseChanged():
            case = v["case"]
            if case is None or case["case_id"] != ev.case_id or ev.version <= case["version"]:
                return Change()
            case.update(title=ev.title, priority=ev.priority, status=ev.status, version=ev.version,
                        number=ev.number)
            return Change(v, ["case"])
        case customer.ContactChanged():
            c = v["customer"]
            if c["contact_id"] != ev.contact_id or ev.version <= c["contact_version"]:
                return Change()
            c.update(name=ev.full_name, contact_version=ev.version)
            return Change(v, ["customer"])
        case customer.AccountChanged():
            c = v["customer"]
            if c["account_id"] != ev.account_id or ev.version <= c["account_version"]:
                return Change()
            c.update(company=ev.name, account_version=ev.version)
            return Change(v, ["customer"])
    return Change()


def erased(view: Doc, name: str) -> Doc | None:
    """The view once its customer was erased (privacy): the name replaced by `name`, the pre-chat answers, trail,
    visitor details and context variables gone. None when nothing is left to blank (a tombstone)."""
    if view["closed"]:
        return None
    v = _copy(view)
    v["customer"]["name"] = name
    v["context"] = {"prechat": {}, "trail": [], "visitor": {}, "variables": {},
                    "authenticated": view["context"].get("authenticated", False)}
    return v


def replay(envelopes: Iterable[Envelope[Any]], *, erased_name: str) -> dict[str, Doc]:
    """Every view, rebuilt from events in the order given (a rebuild gives them in occurred-at order), as the
    consumer would have projected them: conversation events, then the records' changes applied to the views
    linked to them at that moment, and erasures (chat.CustomerErased) blanking what they name."""
    views: dict[str, Doc] = {}
    linked: dict[tuple[str, str, str], set[str]] = {}  # (tenant, path, record id) -> view ids

    def store(view: Doc) -> None:
        old = views.get(view["_id"])
        for path in RECORD_EVENTS.values():
            if old is not None and (was := _at(old, path)) is not None:
                linked.get((old["tenant_id"], path, was), set()).discard(old["_id"])
            if not view["closed"] and (now := _at(view, path)) is not None:
                linked.setdefault((view["tenant_id"], path, now), set()).add(view["_id"])
        views[view["_id"]] = view

    for env in envelopes:
        ev = env.payload
        if type(ev) in RECORD_EVENTS:
            path = RECORD_EVENTS[type(ev)]
            for view_id in sorted(linked.get((env.tenant_id, path, getattr(ev, path.split(".")[1])), ())):
                if (change := apply_record(views[view_id], env)).view is not None:
                    store(change.view)
        elif isinstance(ev, chat.CustomerErased):
            for cid in ev.conversation_ids:
                if (view := views.get(f"{env.tenant_id}:{cid}")) is not None and (blank := erased(view, erased_name)):
                    store(blank)
        elif isinstance(ev, CONVERSATION_EVENTS):
            if (change := apply(views.get(f"{env.tenant_id}:{ev.conversation_id}"), env)).view is not None:
                store(change.view)
    return views


def _at(view: Doc, path: str) -> Any:
    section, name = path.split(".")
    return (view.get(section) or {}).get(name)


def frames(view: Doc, sections: list[str], env: Envelope[Any]) -> list[tuple[str, Doc]]:
    """One `view` frame per changed section, for each agent on the conversation (the closed one: to those
    who had it)."""
    if not sections:
        return []
    cid = view["conversation_id"]
    if view["closed"]:
        return []  # the conversation_closed frame tells them already
    agents = view["summary"]["agents"]
    out = []
    for section in sections:
        data = public(view)[section]
        out += [(agent, {"type": "view", "conversation_id": cid, "section": section, "data": data,
                         "at": env.occurred_at.isoformat()}) for agent in agents]
    return out


def public(view: Doc) -> Doc:
    """The view as clients see it (ids and ordering fields kept out)."""
    c = dict(view["customer"])
    for internal in ("linked_at", "contact_version", "account_version"):
        c.pop(internal, None)
    case = dict(view["case"]) if view["case"] else None
    if case:
        case.pop("linked_at", None)
    return _json({"conversation_id": view["conversation_id"], "summary": view["summary"],
                  "context": view["context"], "customer": c, "case": case})


def _json(value: Any) -> Any:
    """Times as ISO strings, at any depth (frames are JSON)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _copy(view: Doc) -> Doc:
    return {**view, **{k: (dict(view[k]) if isinstance(view.get(k), dict) else view.get(k))
                       for k in ("summary", "context", "customer", "case")}}
