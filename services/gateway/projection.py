"""What the gateway pushes for each event of routing and chat, and what it remembers about a conversation to
decide who may see it: pure functions, no I/O (handlers.py runs them in a transaction).

Recipients are agents (their own stream, whichever device they use) and a conversation's customer (the
widget's stream). Private notes and offers never go to a customer; a queued conversation reaches the
members of its queue as metadata and preview only (the Open list)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.contracts import cases, chat, customer, routing
from shared.contracts.envelope import Envelope

Doc = dict[str, Any]
AGENT, CUSTOMER = "agent", "customer"


@dataclass
class Projected:
    """The conversation's view after the event (None: unchanged) and the frames to push."""
    view: Doc | None = None
    to_agents: list[tuple[str, Doc]] = field(default_factory=list)  # (agent id, frame)
    to_customer: list[Doc] = field(default_factory=list)


def new_view(tenant_id: str, conversation_id: str) -> Doc:
    return {"_id": f"{tenant_id}:{conversation_id}", "tenant_id": tenant_id, "conversation_id": conversation_id,
            "queue_id": None, "customer_id": None, "customer_name": None, "state": "requested", "agents": [],
            "offered": [], "offer_ids": {}, "invited": [], "served_by": [], "preview": "", "started_at": None, "updated_at": None}


def _frame(kind: str, env: Envelope[Any], **data: Any) -> Doc:
    return {"type": kind, "conversation_id": data.pop("conversation_id", None), "at": env.occurred_at.isoformat(),
            **data}


def sentiment_frame(env: Envelope[Any], ev: chat.SentimentAssessed) -> Doc:
    """The customer's sentiment after a message (C5): the conversation's level, the message's, and whether it
    is at or below the tenant's threshold (an alert)."""
    return _frame("sentiment", env, conversation_id=ev.conversation_id, level=ev.conversation_level,
                  message_level=ev.message_level, message_id=ev.message_id, seq=ev.seq, threshold=ev.threshold,
                  alert=ev.alert, queue_id=ev.queue_id)


def project(env: Envelope[Any], view: Doc | None, queue_members: list[str]) -> Projected:
    """`view` is the conversation's current view (None if unknown); `queue_members` the members of the queue
    the event names, for events that reach the Open list."""
    ev = env.payload
    cid = getattr(ev, "conversation_id", None)
    if cid is None:
        return _agent_event(env, queue_members)
    v = dict(view) if view is not None else new_view(env.tenant_id, cid)
    v["updated_at"] = env.occurred_at
    out = Projected(view=v)
    match ev:
        # --- chat: the conversation and its messages -----------------------------------------------------
        case chat.ConversationStarted():
            v.update(queue_id=ev.queue_id, customer_id=ev.customer.customer_id, customer_name=ev.customer.name,
                     started_at=ev.started_at, offline=ev.offline)
            out.to_customer.append(_frame("conversation_started", env, conversation_id=cid, queue_id=ev.queue_id))
        case chat.ConversationStateChanged():
            before = list(v["agents"])
            v.update(state=ev.state, agents=list(ev.agents), queue_id=ev.queue_id, customer_id=ev.customer_id,
                     served_by=sorted({*v["served_by"], *ev.agents}))
            # `offered` follows routing's offer events only: chat's state changes come a hop later, and a late
            # "queued" must not wipe an offer routing made meanwhile.
            frame = _frame("conversation_state", env, conversation_id=cid, state=ev.state, previous=ev.previous,
                           why=ev.why)
            for agent in dict.fromkeys([*ev.agents, *before, *ev.removed_agents]):
                out.to_agents.append((agent, {**frame, "agents": list(ev.agents), "queue_id": ev.queue_id}))
            out.to_customer.append(frame)
            if ev.state == "queued":
                queued = _frame("queued", env, conversation_id=cid, queue_id=ev.queue_id,
                                customer_name=v["customer_name"], preview=v["preview"])
                out.to_agents += [(m, queued) for m in queue_members  # not to whoever has it or its offer already
                                  if m not in ev.agents and m not in v["offered"]]
        case chat.MessagePosted():
            if not ev.private and ev.sender.kind == "customer":
                v["preview"] = ev.text[:120] or ", ".join(f"[file] {a.name}" for a in ev.attachments)[:120]
            frame = _frame("message", env, conversation_id=cid, message_id=ev.message_id, seq=ev.seq,
                           client_message_id=ev.client_message_id, sender=ev.sender.model_dump(), text=ev.text,
                           private=ev.private, sent_at=ev.sent_at.isoformat(),
                           attachments=[a.model_dump() for a in ev.attachments])
            out.to_agents += [(a, frame) for a in ev.agents]
            if not ev.private:  # a private note never reaches the customer, by any path
                out.to_customer.append(frame)
        case chat.MessagesRead():
            frame = _frame("read", env, conversation_id=cid, reader=ev.reader.model_dump(), up_to_seq=ev.up_to_seq)
            out.to_agents += [(a, {**frame, "unread": ev.unread} if ev.reader.id == a else frame) for a in ev.agents]
            out.to_customer.append(frame)
        case chat.ConversationClosed():
            v.update(state="closed", agents=[], offered=[], offer_ids={}, invited=[])
            frame = _frame("conversation_closed", env, conversation_id=cid, ended_by=ev.ended_by,
                           wrap_up_reason=ev.wrap_up_reason)
            out.to_agents += [(a, frame) for a in dict.fromkeys([*(view or {}).get("agents", []),
                                                                 *([ev.agent_id] if ev.agent_id else [])])]
            out.to_customer.append(_frame("conversation_closed", env, conversation_id=cid, ended_by=ev.ended_by))
            if v.get("offline"):  # nobody was offered it: the queue's members hear of it once, for the Closed list
                left = _frame("offline_message", env, conversation_id=cid, queue_id=ev.queue_id,
                              customer_name=v["customer_name"], preview=v["preview"])
                out.to_agents += [(m, left) for m in queue_members]
        case chat.CustomerIdentified():  # U5: linked to a contact; the desks on it show the contact's name
            v.update(customer_name=ev.customer_name, contact_id=ev.contact_id)
            frame = _frame("customer_identified", env, conversation_id=cid, customer_id=ev.customer_id,
                           customer_name=ev.customer_name, contact_id=ev.contact_id)
            out.to_agents += [(a, frame) for a in ev.agents]
        case chat.SurveyInvited():  # the widget shows the survey's question
            out.to_customer.append(_frame("survey_invite", env, conversation_id=cid, question=ev.question))
        # --- routing: offers, assignment, conference -----------------------------------------------------
        case routing.OfferMade():
            v["offered"] = sorted({*v["offered"], ev.agent_id})
            v["offer_ids"] = {**v.get("offer_ids", {}), ev.agent_id: ev.offer_id}
            v["queue_id"] = ev.queue_id
            out.to_agents.append((ev.agent_id, _frame(
                "offer", env, conversation_id=cid, offer_id=ev.offer_id, queue_id=ev.queue_id, channel=ev.channel,
                customer_name=ev.customer_name, preview=ev.preview, waited_s=ev.waited_s,
                expires_at=ev.expires_at.isoformat())))
        case routing.OfferDeclined() | routing.OfferExpired() | routing.OfferWithdrawn():
            v["offered"] = [a for a in v["offered"] if a != ev.agent_id]
            v["offer_ids"] = {a: o for a, o in v.get("offer_ids", {}).items() if a != ev.agent_id}
            out.to_agents.append((ev.agent_id, _frame(
                "offer_withdrawn", env, conversation_id=cid, offer_id=ev.offer_id,
                why={"routing.OfferDeclined": "declined", "routing.OfferExpired": "expired"}.get(
                    env.type, getattr(ev, "reason", "withdrawn")))))
        case routing.ConversationAssigned():
            v["offered"], v["offer_ids"] = [], {}
            if ev.agent_id not in v["agents"]:
                v["agents"] = [ev.agent_id, *v["agents"]]
            v["served_by"] = sorted({*v["served_by"], ev.agent_id})
            out.to_agents.append((ev.agent_id, _frame("assigned", env, conversation_id=cid, queue_id=ev.queue_id,
                                                      how=ev.how, customer_name=v["customer_name"])))
        case routing.ConversationTransferred():
            if ev.from_agent_id:
                v["agents"] = [a for a in v["agents"] if a != ev.from_agent_id]
                out.to_agents.append((ev.from_agent_id, _frame(
                    "transferred_away", env, conversation_id=cid, to_queue_id=ev.to_queue_id,
                    to_agent_id=ev.to_agent_id, reason=ev.reason)))
        case routing.ConferenceInviteSent():
            v["invited"] = sorted({*v["invited"], ev.invitee_id})
            out.to_agents.append((ev.invitee_id, _frame("conference_invite", env, conversation_id=cid,
                                                        inviter_id=ev.inviter_id,
                                                        customer_name=v["customer_name"], preview=v["preview"])))
        case routing.ConferenceInviteAccepted() | routing.ConferenceInviteDeclined():
            v["invited"] = [a for a in v["invited"] if a != ev.invitee_id]
        case routing.QueuePositionChanged():  # the waiting customer's place in line; the view is unchanged
            # "place", not "position": every frame's "position" is its place in the stream (for resuming).
            return Projected(to_customer=[_frame("queue_position", env, conversation_id=cid, queue_id=ev.queue_id,
                                                 place=ev.position, estimated_wait_s=ev.estimated_wait_s)])
        # --- cases: the linked case, suggested answers ----------------------------------------------------
        case cases.ConversationLinked():
            v.update(case_id=ev.case_id, case_number=ev.number)
            frame = _frame("case_linked", env, conversation_id=cid, case_id=ev.case_id, number=ev.number,
                           automatic=ev.automatic)
            out.to_agents += [(a, frame) for a in v["agents"]]
        case cases.AnswersSuggested():  # K4: for the agents who had the message; the view is unchanged
            frame = _frame("suggestions", env, conversation_id=cid, message_id=ev.message_id,
                           suggestions=[s.model_dump(mode="json") for s in ev.suggestions])
            return Projected(to_agents=[(a, frame) for a in ev.agents])
        case chat.SentimentAssessed():  # C5: to whoever works it now (the assessment may lag the message)
            frame = sentiment_frame(env, ev)
            return Projected(to_agents=[(a, frame) for a in (v["agents"] if view is not None else ev.agents)])
        case _:
            return Projected(view=None)
    return out


def _agent_event(env: Envelope[Any], line_members: list[str]) -> Projected:
    ev = env.payload
    match ev:
        case customer.LineUserChanged():  # the row moves in the open line lists of the line's members
            frame = _frame("line_user", env, **ev.model_dump(mode="json", exclude={"at"}))
            return Projected(to_agents=[(m, frame) for m in line_members])
        case routing.PresenceChanged():
            return Projected(to_agents=[(ev.agent_id, _frame("presence", env, presence=ev.presence,
                                                             previous=ev.previous, automatic=ev.automatic,
                                                             reason=ev.reason))])
        case routing.CapacityChanged():
            return Projected(to_agents=[(ev.agent_id, _frame("capacity", env, **ev.model_dump(mode="json")))])
    return Projected()

