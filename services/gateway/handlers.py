"""The gateway's consumers: routing's and chat's events become frames on the recipients' streams (with
gateway-assigned positions) and updates of the conversation views, in one transaction per event; command
answers are kept by request id for whoever waits for them (live.py wakes them through a change stream); customer's
AgentTiesChanged builds the favourites projection, joined with chat's events (favourites.py)."""

from __future__ import annotations

from typing import Any

from shared.consumer import alone
from shared.contracts import chat, customer, routing
from shared.contracts.answers import CommandAccepted, CommandRejected
from shared.contracts.envelope import Envelope
from shared.mongo import MongoUnitOfWork, Transaction, hot

from services.gateway import active_view, line_rows
from services.gateway.adapters.favourites import Favourites
from services.gateway.adapters.store import Views, agent_stream, customer_stream, keep_answer
from services.gateway.desk import Desk
from services.gateway.favourites import observed_customer, to_favourites
from services.gateway.projection import project


class GatewayHandlers:
    def __init__(self, uow: MongoUnitOfWork) -> None:
        self.uow = uow

    @alone  # no transaction: nothing to group
    async def on_answer(self, env: Envelope[CommandAccepted | CommandRejected]) -> None:
        """One upsert, no transaction and no processed-message record: keeping the first answer is idempotent
        by itself (a redelivery or a repeated answer changes nothing)."""
        answer = env.payload
        await keep_answer(self.uow.db, env.tenant_id, answer.request_id, env.type, answer.model_dump(mode="json"))

    async def on_event(self, env: Envelope[Any]) -> None:
        ev = env.payload

        async def work(tx: Transaction) -> None:
            views = Views(tx, env.tenant_id)
            if isinstance(ev, routing.QueueConfigured):
                await views.save_queue(ev.queue_id, ev.name, list(ev.members))
                return
            if isinstance(ev, customer.AgentTiesChanged):  # the favourites projection (U4)
                await Favourites(tx.db, tx.session, env.tenant_id).mark(ev.customer_id, ev.agent_id, ev.favourite)
                return
            if type(ev) in active_view.RECORD_EVENTS:  # a case, contact or account: the views linked to it
                await self._record_changed(views, env)
                return
            cid = getattr(ev, "conversation_id", None)
            if cid is not None:  # its documents and streams are written by events of four topics at once
                hot(customer_stream(env.tenant_id, cid))
            view = await views.conversation(cid) if cid is not None else None
            members: list[str] = []
            if (isinstance(ev, chat.ConversationStateChanged) and ev.state == "queued"
                    or isinstance(ev, chat.ConversationClosed) and (view or {}).get("offline")):
                members = await views.queue_members(ev.queue_id)
            elif isinstance(ev, customer.LineUserChanged):
                members = await views.queue_members(ev.line_id)
            # its agents' session panels and statuses (a queue's members only get frames, queued: nothing to name)
            hot(*(agent_stream(env.tenant_id, agent) for agent in
                  [*(view or {}).get("agents", []), *(view or {}).get("offered", [])]))
            out = project(env, view, members)
            if out.view is not None:
                await views.save_conversation(out.view)
            to_agents = out.to_agents
            if isinstance(ev, customer.LineUserChanged):  # U3: the preview only to whoever may read it
                favourites = await Favourites(tx.db, tx.session, env.tenant_id).agents(ev.customer_id)
                to_agents = await line_rows.hide_in_frames(tx.db, tx.session, env.tenant_id, ev.line_id,
                                                           ev.customer_id, to_agents, members=members,
                                                           favourites=favourites)
            if (observed := observed_customer(ev)) is not None:  # the join: the customer's favourites observe
                favourites = await Favourites(tx.db, tx.session, env.tenant_id).agents(observed)
                to_agents = [*to_agents, *to_favourites(out, favourites, observed)]
            active = None
            if isinstance(ev, active_view.CONVERSATION_EVENTS):  # G4: the active-conversation view
                view_frames, active = await self._view_changed(views, env, cid)
                to_agents = [*to_agents, *view_frames]
            # G3/G5: the agents' sessions panels, the supervisors' board, observers (the panels' `sessions` frames
            # are queued first, with the rest, in one write)
            panel_frames: list[tuple[str, Any]] = []
            desk = Desk(tx.db, tx.session, env.tenant_id, frames=panel_frames)
            to_agents = [*to_agents, *await desk.on_event(env, out.view or view, to_agents,
                                                          changed=out.view is not None, active=active)]
            # C5: the conversation's sentiment fell to the tenant's threshold (once per fall, not for each message
            # while it stays there): the alert on the agents' sessions and the queue's supervisors; an assessment
            # may come after the close, which alerts nobody
            if (isinstance(ev, chat.SentimentAssessed) and ev.fell
                    and (view or {}).get("state") not in (None, "closed")):
                to_agents += await desk.sentiment_alert(ev.conversation_id, env.occurred_at,
                                                        level=ev.conversation_level, threshold=ev.threshold,
                                                        message_id=ev.message_id)
            frames = [*panel_frames, *((agent_stream(env.tenant_id, agent), frame) for agent, frame in to_agents)]
            frames += [(customer_stream(env.tenant_id, cid), frame) for frame in out.to_customer] if cid else []
            await views.push(frames)
        await self.uow.run(work)  # the event's id is recorded in the same transaction: frames are pushed once

    @staticmethod
    async def _view_changed(views: Views, env: Envelope[Any], conversation_id: str
                            ) -> tuple[list[tuple[str, Any]], dict[str, Any] | None]:
        """The view's frames for the event, and the view after it (for the desk: no second read)."""
        before = await views.active_view(conversation_id)
        change = active_view.apply(before, env)
        if change.view is None:
            return [], before
        await views.save_active_view(change.view)
        return active_view.frames(change.view, change.sections, env), change.view

    @staticmethod
    async def _record_changed(views: Views, env: Envelope[Any]) -> None:
        path = active_view.RECORD_EVENTS[type(env.payload)]
        record_id = getattr(env.payload, path.split(".")[1])
        frames, changed = [], []
        for view in await views.active_views_of(path, record_id):
            change = active_view.apply_record(view, env)
            if change.view is not None:
                await views.save_active_view(change.view)
                frames += active_view.frames(change.view, change.sections, env)
                changed.append(change.view)
        panel_frames: list[tuple[str, Any]] = []  # session titles (G3)
        await Desk(views.db, views.session, env.tenant_id, frames=panel_frames).record_changed(env, changed)
        await views.push([*panel_frames, *((agent_stream(env.tenant_id, agent), frame) for agent, frame in frames)])


def handlers_for(gateway: GatewayHandlers, events: tuple[type, ...]) -> dict[type, Any]:
    return {t: gateway.on_answer if t in (CommandAccepted, CommandRejected) else gateway.on_event for t in events}
