"""The projection's part for the agent's sessions panel (G3) and the supervisors' board and observation (G5):
handlers.py calls it in the consumer's transaction, after the conversation's own projection, so each event
changes panels and pushes frames once.

- Panels: accepting an offer opens the conversation's session (routing.ConversationAssigned); chat's messages
  and read receipts keep its unread count; names keep titles (chat.CustomerIdentified, customer's
  CustomerLinked, ContactChanged and AccountChanged, cases' CaseChanged); `sentiment_alert` is the hook the
  sentiment consumer calls.
- Supervisors of a conversation's queue get a `board_conversation` frame when it changes; supervisors of an
  agent's queues a `board_agent` frame when its presence, capacity or load (conversations offered or held,
  counted here: routing does not publish it) does; observers of a conversation a copy of
  what its agents get (marked `observing`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from shared.contracts import cases, chat, customer, routing
from shared.contracts.envelope import Envelope
from shared.logging import get_logger
from shared.mongo import hot

from services.gateway import agent_sessions as panel_rules
from services.gateway import board
from services.gateway.adapters.agent_sessions import Panels
from services.gateway.adapters.store import ACTIVE_VIEWS, CONVERSATIONS, QUEUES, USERS, agent_stream

log = get_logger(__name__)
Doc = dict[str, Any]
Frames = list[tuple[str, Doc]]
AGENT_STATUS = "agent_status"
OBSERVERS = "observers"  # a field of a conversation's document (`conversations`): who observes it (G5)
# The events that can change how many conversations an agent holds or is offered (not messages, not reads).
LOAD_EVENTS = (routing.OfferMade, routing.OfferDeclined, routing.OfferExpired, routing.OfferWithdrawn,
               routing.ConversationAssigned, routing.ConversationTransferred, chat.ConversationStateChanged,
               chat.ConversationClosed)


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[USERS].create_index([("tenant_id", ASCENDING), ("supervises", ASCENDING)], name="supervisors")
    await db[CONVERSATIONS].create_index([("tenant_id", ASCENDING), ("offered", ASCENDING)], name="offered_to")


class Desk:
    def __init__(self, db: AsyncDatabase[Doc], session: AsyncClientSession, tenant_id: str, *,
                 frames: list[tuple[str, Doc]] | None = None) -> None:
        """`frames`: see Panels (the consumer queues the panels' frames with the event's own)."""
        self.db, self.session, self.tenant_id = db, session, tenant_id
        self.panels = Panels(db, session, tenant_id, frames=frames)
        self._active: Doc | None = None  # the event's active view, when on_event is given it

    # --- conversation-keyed and agent events ---------------------------------------------------------------

    async def on_event(self, env: Envelope[Any], conversation: Doc | None, to_agents: Frames, *,
                       changed: bool = True, active: Doc | None = None) -> Frames:
        """Panels changed and saved (with their frames); returns the supervisors' and observers' frames.
        `conversation` is the conversation's projection after the event, `changed` whether the event changed it,
        `to_agents` what the event pushes to agents, `active` its active view after the event when the caller
        has it (else it is read when needed)."""
        ev, at = env.payload, env.occurred_at
        self._active = active
        if isinstance(ev, routing.PresenceChanged | routing.CapacityChanged):
            return await self._agent_status(ev, at)
        cid = getattr(ev, "conversation_id", None)
        if cid is None or conversation is None:
            return []
        sid = panel_rules.session_id("conversation", cid)
        match ev:
            case routing.ConversationAssigned():
                await self._open(ev.agent_id, conversation, at)
            case chat.ConversationStateChanged():
                await self._each(sid, at, lambda p: panel_rules.state_changed(p, cid, ev.state))
                if ev.state == "active" and ev.agents and ev.previous != "active":
                    # chat's side of the same assignment: whichever topic's event comes first opens it
                    await self._open(ev.agents[0], conversation, at)
            case chat.ConversationClosed():
                await self._each(sid, at, lambda p: panel_rules.state_changed(p, cid, "closed"))
            case chat.MessagePosted():
                from_customer = ev.sender.kind == "customer" and not ev.private
                await self._each(sid, at, lambda p: panel_rules.message_posted(p, cid, ev.seq,
                                                                               from_customer=from_customer))
            case chat.MessagesRead() if ev.reader.kind == "agent":
                panel = await self.panels.get(ev.reader.id)
                if panel_rules.messages_read(panel, cid, ev.unread):
                    await self.panels.save(panel, at)
            case chat.ConversationStarted():  # in case routing's assignment was projected first
                await self._each(sid, at, lambda p: panel_rules.retitle(p, sid, ev.customer.name))
            case chat.CustomerIdentified():
                await self._each(sid, at, lambda p: panel_rules.retitle(p, sid, ev.customer_name))
            case customer.CustomerLinked():
                await self._each(sid, at, lambda p: panel_rules.retitle(p, sid, ev.name or ev.company))
        board_frames = []
        if changed:
            board_frames = await self._to_supervisors(conversation, at)
        if isinstance(ev, LOAD_EVENTS):
            board_frames += await self._loads(ev, conversation, at)
        return [*board_frames, *self._to_observers(conversation, to_agents)]

    async def _open(self, agent_id: str, conversation: Doc, at: datetime) -> None:
        """The conversation's session on the agent's panel (not for a closed conversation: a late event)."""
        if conversation["state"] == "closed":
            return
        cid = conversation["conversation_id"]
        panel = await self.panels.get(agent_id)
        if panel_rules.find(panel, panel_rules.session_id("conversation", cid)) is not None:
            return
        if not panel_rules.can_open(panel, "conversation", cid, at):  # past the gateway's hold: one ran out
            log.warning("session limit: no session opened", agent_id=agent_id, conversation_id=cid)
            return
        panel_rules.open_session(panel, "conversation", cid, _title(conversation), at, state=conversation["state"])
        # C5: a conversation whose sentiment fell before this agent took it (waiting, or from another agent)
        # opens with the alert; the fall itself alerted only whoever had it then
        view = await self._active_view(conversation)
        sentiment = ((view or {}).get("summary") or {}).get("sentiment") or {}
        if sentiment.get("alert"):
            panel_rules.set_alert(panel, cid, sentiment.get("at") or at)
        await self.panels.save(panel, at)

    async def record_changed(self, env: Envelope[Any], changed_views: list[Doc]) -> None:
        """A case, contact or account renamed: its own sessions, and the sessions of the conversations whose
        view shows it (`changed_views`, the active views this event changed)."""
        ev, at = env.payload, env.occurred_at
        match ev:
            case cases.CaseChanged():
                sid, title = panel_rules.session_id("case", ev.case_id), ev.title
            case customer.ContactChanged():
                sid, title = panel_rules.session_id("contact", ev.contact_id), ev.full_name
            case customer.AccountChanged():
                sid, title = panel_rules.session_id("account", ev.account_id), ev.name
            case _:
                return
        await self._each(sid, at, lambda p: panel_rules.retitle(p, sid, title))
        if isinstance(ev, customer.ContactChanged | customer.AccountChanged):
            for view in changed_views:
                c = view.get("customer") or {}
                name = c.get("name") or c.get("company")
                csid = panel_rules.session_id("conversation", view["conversation_id"])
                await self._each(csid, at, lambda p, s=csid, n=name: panel_rules.retitle(p, s, n))

    # --- the sentiment hook (C5) ---------------------------------------------------------------------------

    async def sentiment_alert(self, conversation_id: str, at: datetime, **details: Any) -> Frames:
        """The conversation's sentiment fell to the tenant's threshold: the alert on each agent's session of it
        (saved with their `sessions` frames), and a `sentiment_alert` frame for the supervisors of its queue
        (returned: push them in the same transaction). `details` (e.g. level) go into the supervisors' frame."""
        sid = panel_rules.session_id("conversation", conversation_id)
        await self._each(sid, at, lambda p: panel_rules.set_alert(p, conversation_id, at))
        conversation = await self.db[CONVERSATIONS].find_one({"_id": f"{self.tenant_id}:{conversation_id}"},
                                                               session=self.session)
        if conversation is None or not conversation.get("queue_id"):
            return []
        title = _title(conversation)
        frame = {"type": "sentiment_alert", "conversation_id": conversation_id, "at": at.isoformat(),
                 "queue_id": conversation["queue_id"], "customer_name": title,
                 "text": panel_rules.ALERT.format(title=title), **details}
        return [(s, frame) for s in await self.supervisors([conversation["queue_id"]])]

    # --- helpers -------------------------------------------------------------------------------------------

    async def _each(self, sid: str, at: datetime, change: Any) -> None:
        for panel in await self.panels.holding(sid):
            if change(panel):
                await self.panels.save(panel, at)

    async def supervisors(self, queue_ids: list[str]) -> list[str]:
        users = self.db[USERS].find({"tenant_id": self.tenant_id, "supervises": {"$in": queue_ids},
                                     "role": {"$in": ["supervisor", "admin"]}, "active": {"$ne": False}},
                                    {"user_id": 1}, session=self.session)
        return sorted({u["user_id"] async for u in users})

    async def _to_supervisors(self, conversation: Doc, at: datetime) -> Frames:
        queue_id = conversation.get("queue_id")
        if not queue_id:
            return []
        supervisors = await self.supervisors([queue_id])
        if not supervisors:
            return []
        view = await self._active_view(conversation)
        frame = board.conversation_frame(board.conversation_row(conversation, view, at), at)
        return [(s, frame) for s in supervisors]

    async def _active_view(self, conversation: Doc) -> Doc | None:
        """The conversation's active view: as the consumer passed it (on_event's `active`), else read."""
        if self._active is not None:
            return self._active
        return await self.db[ACTIVE_VIEWS].find_one({"_id": conversation["_id"]}, session=self.session)

    @staticmethod
    def _to_observers(conversation: Doc, to_agents: Frames) -> Frames:
        # the conversation's document carries its observers (api_supervisor.py): no read of its own
        watchers = [w for w in conversation.get(OBSERVERS, []) if w not in conversation.get("agents", [])]
        if not watchers or not to_agents:
            return []
        # What the conversation's agents got from this event, once each (the first agent's copy).
        working = set(conversation.get("agents", [])) or {a for a, _ in to_agents}
        seen: set[int] = set()
        frames = []
        for agent, frame in to_agents:
            if agent in working and id(frame) not in seen and not frame.get("favourite"):
                seen.add(id(frame))
                frames.append({**frame, "observing": True})
        return [(w, f) for w in watchers for f in frames]

    async def _agent_status(self, ev: routing.PresenceChanged | routing.CapacityChanged, at: datetime) -> Frames:
        if isinstance(ev, routing.PresenceChanged):
            change = {"presence": ev.presence}
        else:
            change = {f"capacity.{ev.channel}": ev.capacity}
        hot(agent_stream(self.tenant_id, ev.agent_id))
        status = await self.db[AGENT_STATUS].find_one_and_update(
            {"_id": f"{self.tenant_id}:{ev.agent_id}"},
            {"$set": {**change, "tenant_id": self.tenant_id, "agent_id": ev.agent_id}}, upsert=True,
            return_document=ReturnDocument.AFTER, session=self.session)
        return await self._agent_frames(ev.agent_id, status, at)

    async def _loads(self, ev: Any, conversation: Doc, at: datetime) -> Frames:
        """The agents whose load this event may have changed, as rows for the supervisors of their queues
        (counted only when someone supervises them)."""
        touched = {*conversation.get("agents", []), *conversation.get("offered", []),
                   *getattr(ev, "removed_agents", []), *filter(None, [getattr(ev, "agent_id", None)]),
                   *filter(None, [getattr(ev, "from_agent_id", None)])}
        frames = []
        for agent in sorted(touched):
            status = await self.db[AGENT_STATUS].find_one({"_id": f"{self.tenant_id}:{agent}"},
                                                          session=self.session)
            frames += await self._agent_frames(agent, status, at, load_changed=True)
        return frames

    async def _agent_frames(self, agent_id: str, status: Doc | None, at: datetime, *,
                            load_changed: bool = False) -> Frames:
        """A `board_agent` frame for each supervisor of the agent's queues (with the load counted now); when
        only the load may have changed, none if it did not."""
        queues = [q["queue_id"] async for q in self.db[QUEUES].find(
            {"tenant_id": self.tenant_id, "members": agent_id}, {"queue_id": 1}, session=self.session)]
        supervisors = await self.supervisors(queues) if queues else []
        if not supervisors:
            return []
        load = await agent_load(self.db, self.tenant_id, agent_id, session=self.session)
        if load_changed and (status or {}).get("load") == load:
            return []
        hot(agent_stream(self.tenant_id, agent_id))
        await self.db[AGENT_STATUS].update_one(
            {"_id": f"{self.tenant_id}:{agent_id}"},
            {"$set": {"load": load, "tenant_id": self.tenant_id, "agent_id": agent_id}}, upsert=True,
            session=self.session)
        row_status = {**(status or {}), "load": load}
        frames = []
        for supervisor in supervisors:
            mine = [q for q in queues if q in await self._supervised(supervisor)]
            frames.append((supervisor, board.agent_frame(board.agent_row(agent_id, row_status, mine), at)))
        return frames

    async def _supervised(self, user_id: str) -> list[str]:
        user = await self.db[USERS].find_one({"_id": f"{self.tenant_id}:{user_id}"}, {"supervises": 1},
                                             session=self.session)
        return list((user or {}).get("supervises", []))


async def agent_load(db: AsyncDatabase[Doc], tenant_id: str, agent_id: str,
                     session: AsyncClientSession | None = None) -> int:
    """Conversations not closed that the agent holds, is in, or is offered (the gateway's projection: routing
    publishes capacity, not load)."""
    return await db[CONVERSATIONS].count_documents(
        {"tenant_id": tenant_id, "state": {"$ne": "closed"}, "$or": [{"agents": agent_id}, {"offered": agent_id}]},
        session=session)


def _title(conversation: Doc) -> str:
    return conversation.get("customer_name") or "Visitor"
