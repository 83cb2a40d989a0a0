"""The gateway's consumer keeping agents' sessions panels (G3), against the real mongod: a conversation's session
opens on the assignment, counts the customer's messages once however often they are delivered, takes the
contact's name, and the sentiment hook (Desk.sentiment_alert) sets the alert on the agent's session and tells the
queue's supervisors, in the consumer's transaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.gateway.adapters.agent_sessions import PANELS, ensure_indexes as panel_indexes
from services.gateway.adapters.store import STREAM, FrameRelay, USERS, agent_stream, append, ensure_indexes
from services.gateway.desk import Desk, ensure_indexes as desk_indexes
from services.gateway.handlers import GatewayHandlers
from shared.contracts import chat, routing
from shared.contracts.envelope import wrap
from shared.mongo import AlreadyProcessed, MongoUnitOfWork, Transaction, consuming, make_mongo_client
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def gateway(infrastructure, unique) -> AsyncIterator[tuple[GatewayHandlers, Any]]:
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    name = f"gateway-{unique}"
    db = client[name]
    await ensure_indexes(db, replay_window_s=3600)
    await panel_indexes(db)
    await desk_indexes(db)
    yield GatewayHandlers(MongoUnitOfWork(client, name)), db
    await client.drop_database(name)
    await client.close()


async def deliver(handlers: GatewayHandlers, payload: Any, times: int = 1) -> None:
    env = wrap(payload, tenant_id="t1", key=str(getattr(payload, payload.KEY)), producer="test", occurred_at=T0)
    for attempt in range(times):  # a redelivery of the same envelope: the consumer drops it
        with consuming(env.event_id), contextlib.suppress(*([AlreadyProcessed] if attempt else [])):
            await handlers.on_event(env)


async def panel(db: Any, agent: str = "alice") -> dict[str, Any]:
    return await db[PANELS].find_one({"_id": f"t1:{agent}"})


async def frames(db: Any, user: str, kind: str) -> list[dict[str, Any]]:
    await FrameRelay(db).relay_once()  # what the gateway's relay loop does after each commit
    rows = await db[STREAM].find({"recipient": agent_stream("t1", user)}).sort("position", 1).to_list()
    return [r["frame"] for r in rows if r["frame"]["type"] == kind]


async def test_the_session_opens_counts_messages_once_and_takes_the_alert_hook(gateway):
    handlers, db = gateway
    await db[USERS].insert_one({"_id": "t1:sam", "tenant_id": "t1", "user_id": "sam", "role": "supervisor",
                                "supervises": ["q1"], "active": True})
    await deliver(handlers, chat.ConversationStarted(
        conversation_id="c1", queue_id="q1", proactive=False, started_at=T0, context=chat.Context(),
        customer=chat.Customer(customer_id="v-7", name="Visitor 7")))
    await deliver(handlers, routing.ConversationAssigned(conversation_id="c1", agent_id="alice", queue_id="q1",
                                                         channel="chat", how="offer"))
    (session,) = [s for s in (await panel(db))["sessions"] if s["id"] == "conversation:c1"]
    assert (session["title"], session["unread"]) == ("Visitor 7", 0)

    for seq in range(1, 4):
        await deliver(handlers, chat.MessagePosted(
            conversation_id="c1", message_id=f"m{seq}", seq=seq, client_message_id=f"k{seq}", text="hello?",
            sender=chat.Sender(kind="customer", id="v-7"), private=False, customer_id="v-7", agents=["alice"],
            sent_at=T0), times=2)
    await deliver(handlers, chat.CustomerIdentified(conversation_id="c1", customer_id="v-7",
                                                    customer_name="Ann Berzina", contact_id="ann", agents=["alice"],
                                                    at=T0))
    (session,) = [s for s in (await panel(db))["sessions"] if s["id"] == "conversation:c1"]
    assert (session["title"], session["unread"], session["last_seq"]) == ("Ann Berzina", 3, 3)

    async def alert(tx: Transaction) -> None:  # as the sentiment consumer calls it, in its own transaction
        to_supervisors = await Desk(tx.db, tx.session, "t1").sentiment_alert("c1", T0, level="very_negative")
        await append(tx.db, tx.session, [(agent_stream("t1", s), f) for s, f in to_supervisors])
    await handlers.uow.run(alert, message_id=None)

    (session,) = [s for s in (await panel(db))["sessions"] if s["id"] == "conversation:c1"]
    assert session["alert"]["text"] == "Ann Berzina. Your conversation urgently needs attention."
    assert (await frames(db, "alice", "sessions"))[-1]["sessions"][1]["alert"]["text"].startswith("Ann Berzina.")
    (to_sam,) = await frames(db, "sam", "sentiment_alert")
    assert (to_sam["conversation_id"], to_sam["level"], to_sam["queue_id"]) == ("c1", "very_negative", "q1")
    assert to_sam["text"] == "Ann Berzina. Your conversation urgently needs attention."
