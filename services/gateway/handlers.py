"""The gateway's consumers: routing's and chat's events become frames on the recipients' streams (with
gateway-assigned positions) and updates of the conversation views, in one transaction per event; command
answers are kept by request id for whoever waits for them (live.py wakes them through a change stream)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.contracts import chat, routing
from shared.contracts.answers import CommandAccepted, CommandRejected
from shared.contracts.envelope import Envelope
from shared.mongo import MongoUnitOfWork, Transaction

from services.gateway.adapters.store import (
    ANSWERS_SEEN,
    CONVERSATIONS,
    QUEUES,
    agent_stream,
    append,
    customer_stream,
)
from services.gateway.projection import project


class GatewayHandlers:
    def __init__(self, uow: MongoUnitOfWork) -> None:
        self.uow = uow

    async def on_answer(self, env: Envelope[CommandAccepted | CommandRejected]) -> None:
        """One upsert, no transaction and no processed-message record: keeping the first answer is idempotent
        by itself (a redelivery or a repeated answer changes nothing)."""
        answer = env.payload
        await self.uow.db[ANSWERS_SEEN].update_one(
            {"_id": f"{env.tenant_id}:{answer.request_id}"},
            {"$setOnInsert": {"type": env.type, "answer": answer.model_dump(mode="json"), "at": datetime.now(UTC)}},
            upsert=True)

    async def on_event(self, env: Envelope[Any]) -> None:
        ev = env.payload

        async def work(tx: Transaction) -> None:
            if isinstance(ev, routing.QueueConfigured):
                await tx.db[QUEUES].replace_one(
                    {"_id": f"{env.tenant_id}:{ev.queue_id}"},
                    {"tenant_id": env.tenant_id, "queue_id": ev.queue_id, "name": ev.name,
                     "members": sorted(ev.members)}, upsert=True, session=tx.session)
                return
            cid = getattr(ev, "conversation_id", None)
            view = None
            if cid is not None:
                view = await tx.db[CONVERSATIONS].find_one({"_id": f"{env.tenant_id}:{cid}"}, session=tx.session)
            members: list[str] = []
            if isinstance(ev, chat.ConversationStateChanged) and ev.state == "queued":
                queue = await tx.db[QUEUES].find_one({"_id": f"{env.tenant_id}:{ev.queue_id}"}, session=tx.session)
                members = queue["members"] if queue else []
            out = project(env, view, members)
            if out.view is not None:
                await tx.db[CONVERSATIONS].replace_one({"_id": out.view["_id"]}, out.view, upsert=True,
                                                       session=tx.session)
            frames = [(agent_stream(env.tenant_id, agent), frame) for agent, frame in out.to_agents]
            frames += [(customer_stream(env.tenant_id, cid), frame) for frame in out.to_customer] if cid else []
            await append(tx.db, tx.session, frames)
        await self.uow.run(work)


def handlers_for(gateway: GatewayHandlers, events: tuple[type, ...]) -> dict[type, Any]:
    return {t: gateway.on_answer if t in (CommandAccepted, CommandRejected) else gateway.on_event for t in events}
