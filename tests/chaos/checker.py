"""The chaos run's checker: pure functions over what the clients saw (answers, raw stream frames, the lists a
reload shows) and what the topics hold (read from the first record: Kafka keeps them). Each returns the
problems it found, in words; the run's table counts them and each must be 0.

Where a projection is rebuilt from the topics, the rebuild goes through the owning service's own pure
functions (the entry an event makes, the view the events make): the checker proves the projection holds every
event's part exactly once, whatever the faults did to the order and the repeats of deliveries."""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.cases.domain import timeline as timeline_entries
from services.customer.adapters.lines import LINE_USERS
from services.customer.handlers import CustomerHandlers
from services.customer.lines_cases import FOLLOWED
from shared.contracts import cases, chat, routing
from shared.mongo import AlreadyProcessed, as_stored, consuming
from shared.testing.fakes import FakeUnitOfWork

Frame = dict[str, Any]


@dataclass
class Findings:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    reordered: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # a 4xx where the workload's step could not be refused
    server_errors: list[str] = field(default_factory=list)
    double_assigned: list[str] = field(default_factory=list)
    over_capacity: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    projections: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(value) for name, value in vars(self).items()}

    @property
    def clean(self) -> bool:
        return not any(self.counts().values())


# --- streams -------------------------------------------------------------------------------------------------

def stream_problems(frames: Iterable[tuple[int, Frame]], label: str) -> tuple[list[str], list[str]]:
    """(duplicated, reordered) message frames of one stream, from its raw frames with their connection number.

    A message frame seen again is allowed only as a replay across a reconnect: on a later connection, with
    the same stream position as before. Per conversation, the sequence numbers of the distinct message frames
    must rise in the order they arrived."""
    duplicated: list[str] = []
    reordered: list[str] = []
    first: dict[tuple[str, int], tuple[int, Any]] = {}
    last_seq: dict[str, int] = {}
    for connection, frame in frames:
        if frame.get("type") != "message":
            continue
        key = (frame["conversation_id"], frame["seq"])
        if key in first:
            earlier_connection, earlier_position = first[key]
            if connection == earlier_connection or frame.get("position") != earlier_position:
                duplicated.append(f"{label}: message {key[1]} of {key[0]} arrived twice "
                                  f"(connections {earlier_connection} and {connection}, positions "
                                  f"{earlier_position} and {frame.get('position')})")
            continue
        first[key] = (connection, frame.get("position"))
        if frame["seq"] <= last_seq.get(key[0], 0):
            reordered.append(f"{label}: message {frame['seq']} of {key[0]} after message {last_seq[key[0]]}")
        last_seq[key[0]] = max(frame["seq"], last_seq.get(key[0], 0))
    return duplicated, reordered


# --- a conversation's messages -------------------------------------------------------------------------------

@dataclass
class SentMessage:
    sender: str
    client_message_id: str
    acknowledged: bool
    seen_by_other_side: bool


def history_problems(label: str, sent: list[SentMessage], history: list[dict[str, Any]] | None
                     ) -> tuple[list[str], list[str], list[str]]:
    """(lost, duplicated, reordered) for one conversation: every acknowledged message is in the list a reload
    shows exactly once, each sender's in the order sent, sequence numbers 1..n without gaps; and the other
    side's client showed it live."""
    lost: list[str] = []
    duplicated: list[str] = []
    reordered: list[str] = []
    if history is None:
        return ([f"{label}: its message list could not be read"] if any(m.acknowledged for m in sent) else []), [], []
    ids = [m.get("client_message_id") for m in history]
    counts = Counter(i for i in ids if i)
    for message in sent:
        if not message.acknowledged:
            continue
        if counts[message.client_message_id] == 0:
            lost.append(f"{label}: {message.client_message_id} acknowledged but not in the conversation")
        elif not message.seen_by_other_side:
            lost.append(f"{label}: {message.client_message_id} never reached the other side's client")
    duplicated += [f"{label}: {cmid} is in the conversation {n} times" for cmid, n in counts.items() if n > 1]
    seqs = [m["seq"] for m in history]
    if seqs != list(range(1, len(seqs) + 1)):
        reordered.append(f"{label}: sequence numbers {seqs[:20]}... are not 1..{len(seqs)}")
    for sender in ("customer", "agent"):
        order = [m.client_message_id for m in sent if m.sender == sender and counts[m.client_message_id]]
        shown = [i for i in dict.fromkeys(ids) if i in set(order)]
        if shown != order:
            reordered.append(f"{label}: the {sender}'s messages are shown as {shown}, sent as {order}")
    return lost, duplicated, reordered


# --- routing's events ----------------------------------------------------------------------------------------

HOLDING = ("routing.OfferMade", "routing.ConversationAssigned", "routing.ConferenceInviteAccepted")


def routing_problems(events: list[tuple[int, int, Any]], capacity: dict[tuple[str, str], int]
                     ) -> tuple[list[str], list[str]]:
    """(double_assigned, over_capacity) from routing's events, as (partition, offset, envelope) read from the
    topic's first record, repeats of an event id dropped (a relay may publish an event again after a crash).

    Per conversation (one key, one partition, so in order): an assignment while another agent still holds it
    is a double assignment. Per agent (across partitions, ordered by the time routing stamped): offers and
    assignments held at once never exceed its capacity; releases stamped at the same instant go first."""
    seen: set[str] = set()
    unique = []
    for partition, offset, env in sorted(events, key=lambda e: (e[0], e[1])):
        if env.event_id in seen:
            continue
        seen.add(env.event_id)
        unique.append(env)
    double: list[str] = []
    holder: dict[tuple[str, str], str] = {}
    since: dict[tuple[str, str], list[str]] = defaultdict(list)  # the conversation's events since its assignment
    for env in unique:
        ev, cid = env.payload, (env.tenant_id, getattr(env.payload, "conversation_id", None))
        if env.type == "routing.ConversationAssigned":
            if cid in holder and holder[cid] != ev.agent_id:
                double.append(f"{cid[1]} assigned to {ev.agent_id} while {holder[cid]} held it "
                              f"(since its assignment: {', '.join(since[cid]) or 'nothing'})")
            holder[cid] = ev.agent_id
            since[cid] = []
            continue
        since[cid].append(env.type.removeprefix("routing."))
        # a persistent chat parked with its agent holds nobody (R9): the customer's next message may go to another
        if (env.type == "routing.ConversationTransferred" and holder.get(cid) == ev.from_agent_id
                or env.type in ("routing.ConversationEnded", "routing.ConversationWaiting")):
            holder.pop(cid, None)
    over: list[str] = []
    held: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)  # (tenant, agent) -> (kind, conversation)

    def release_first(env: Any) -> tuple[Any, int]:
        return env.occurred_at, 0 if env.type not in HOLDING else 1

    for env in sorted(unique, key=release_first):
        ev, t = env.payload, env.tenant_id
        cid = getattr(ev, "conversation_id", None)
        match env.type:
            case "routing.OfferMade":
                held[(t, ev.agent_id)].add(("offer", cid))
            case "routing.OfferAccepted" | "routing.OfferDeclined" | "routing.OfferExpired" | "routing.OfferWithdrawn":
                held[(t, ev.agent_id)].discard(("offer", cid))
            case "routing.ConversationAssigned":
                held[(t, ev.agent_id)].discard(("offer", cid))
                held[(t, ev.agent_id)].add(("chat", cid))
            case "routing.ConversationTransferred":
                if ev.from_agent_id:
                    held[(t, ev.from_agent_id)].discard(("chat", cid))
            case "routing.ConferenceInviteAccepted":
                held[(t, ev.invitee_id)].add(("conference", cid))
            case "routing.ConferenceLeft":
                held[(t, ev.agent_id)].discard(("conference", cid))
            case "routing.ConferenceEnded":
                for items in held.values():
                    items.discard(("conference", cid))
            case "routing.ConversationEnded" | "routing.ConversationWaiting":
                for items in held.values():
                    items.difference_update({("chat", cid), ("offer", cid), ("conference", cid)})
            case _:
                continue
        for agent_key, items in held.items():
            limit = capacity.get(agent_key)
            if limit is not None and len(items) > limit:
                over.append(f"{agent_key[1]} of {agent_key[0]} held {len(items)} > {limit} at {env.occurred_at}: "
                            f"{sorted(items)}")
                items.clear()  # reported once; counting starts again from the next event
    return double, over


def served_by(chat_events: list[tuple[int, int, Any]]) -> dict[tuple[str, str], set[str]]:
    """A rebuild of the Closed work lists from chat's events: (tenant, agent) -> the closed conversations the
    agent took part in (named among a state change's agents)."""
    agents: dict[tuple[str, str], set[str]] = defaultdict(set)
    closed: set[tuple[str, str]] = set()
    for _, _, env in chat_events:
        cid = getattr(env.payload, "conversation_id", None)
        if env.type == "chat.ConversationStateChanged":
            agents[(env.tenant_id, cid)].update(env.payload.agents)
        elif env.type == "chat.ConversationClosed":
            closed.add((env.tenant_id, cid))
    lists: dict[tuple[str, str], set[str]] = defaultdict(set)
    for tenant, cid in closed:
        for agent in agents[(tenant, cid)]:
            lists[(tenant, agent)].add(cid)
    return lists


# --- timelines --------------------------------------------------------------------------------------------

def _entry(env: Any) -> timeline_entries.Entry | None:
    """The timeline entry an event makes (cases' own function), None for events no timeline shows."""
    p, source = env.payload, env.event_id
    match p:
        case chat.ConversationStarted():
            return timeline_entries.started(p, source)
        case chat.ConversationClosed():
            return timeline_entries.ended(p, source)
        case routing.ConversationAssigned():
            return timeline_entries.assigned(p, source, env.occurred_at)
        case routing.ConversationTransferred():
            return timeline_entries.transferred(p, source, env.occurred_at)
        case cases.CaseChanged():
            return timeline_entries.case_changed(p)
        case cases.ConversationLinked():
            return timeline_entries.linked(p, None)
        case cases.QuickNoteAdded():
            return timeline_entries.quick_note(p)
        case cases.ServiceRequestChanged():
            return timeline_entries.service_request(p)
    return None


def case_timelines(envelopes: Iterable[Any]) -> dict[tuple[str, str], set[str]]:
    """A rebuild of every case's timeline from chat's, routing's and cases' events: (tenant, case) -> the ids of
    its entries. An entry is in a case's timeline when it names the case itself (its own records), or when its
    conversation is linked to the case now (its last cases.ConversationLinked)."""
    made: dict[tuple[str, str], timeline_entries.Entry] = {}  # repeats of an event make the same entry
    link: dict[tuple[str, str], tuple[Any, str]] = {}  # (tenant, conversation) -> (when, case)
    for env in envelopes:
        entry = _entry(env)
        if entry is not None:
            made[(env.tenant_id, entry.key)] = entry
        if isinstance(env.payload, cases.ConversationLinked):
            key = (env.tenant_id, env.payload.conversation_id)
            if key not in link or link[key][0] <= env.payload.at:
                link[key] = (env.payload.at, env.payload.case_id)
    timelines: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (tenant, key), entry in made.items():
        named = {r.removeprefix("case:") for r in entry.own if r.startswith("case:")}
        if entry.conversation_id and (tenant, entry.conversation_id) in link:
            named.add(link[(tenant, entry.conversation_id)][1])
        for case_id in named:
            timelines[(tenant, case_id)].add(key)
    return timelines


def timeline_problems(label: str, shown: list[str], rebuilt: set[str]) -> list[str]:
    """A timeline as its read shows it (entry ids, every page) against its rebuild: each entry once, none
    missing, none that no event made."""
    problems = [f"{label}: entry {entry_id} shown {n} times" for entry_id, n in Counter(shown).items() if n > 1]
    if missing := rebuilt - set(shown):
        problems.append(f"{label}: {len(missing)} entries the events make are not shown: {sorted(missing)[:5]}")
    if extra := set(shown) - rebuilt:
        problems.append(f"{label}: {len(extra)} entries no event made: {sorted(extra)[:5]}")
    return problems


# --- the support lines' client lists -------------------------------------------------------------------------

LINE_ROW_FIELDS = ("name", "chat_name", "contact_name", "company", "last_message_at", "preview", "status", "open_with",
                   "conversations")


async def line_rows(chat_events: Iterable[tuple[int, int, Any]]) -> dict[str, dict[str, Any]]:
    """A rebuild of the lines' user rows (U3) from chat's events: customer's own handlers on an in-memory unit
    of work, fed each partition in offset order, a repeated event id dropped as the consumer drops it."""
    handlers = CustomerHandlers(FakeUnitOfWork())
    for _, _, env in sorted(chat_events, key=lambda e: (e[0], e[1])):
        if type(env.payload) not in FOLLOWED:
            continue
        with consuming(env.event_id), contextlib.suppress(AlreadyProcessed):
            await handlers.handle_chat_event(env)
    return handlers.uow.docs.get(LINE_USERS, {})


def line_row_problems(live: dict[str, dict[str, Any]], rebuilt: dict[str, dict[str, Any]]) -> list[str]:
    """The rows customer holds against their rebuild: the same rows, each with the same listed fields (times
    at MongoDB's millisecond precision)."""
    problems = [f"line row {row_id}: missing (the events make it)" for row_id in sorted(rebuilt.keys() - live.keys())]
    problems += [f"line row {row_id}: kept, but no event makes it" for row_id in sorted(live.keys() - rebuilt.keys())]
    for row_id in sorted(live.keys() & rebuilt.keys()):
        differ = [f for f in LINE_ROW_FIELDS if as_stored(live[row_id].get(f)) != as_stored(rebuilt[row_id].get(f))]
        if differ:
            problems.append(f"line row {row_id}: differs from its rebuild in " + ", ".join(
                f"{f} ({live[row_id].get(f)!r} != {rebuilt[row_id].get(f)!r})" for f in differ))
    return problems
