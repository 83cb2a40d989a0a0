"""Chat's internal read API, as the gateway calls it, through the service's own ASGI app (the runtime
routes it beside /health) over httpx, on the documents the real handlers stored in the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from pymongo.errors import ServerSelectionTimeoutError

from services.chat.bootstrap import build
from services.chat.entrypoints.http import read_api
from services.chat.settings import ChatSettings
from shared.contracts import chat as c
from shared.contracts import routing as r
from tests.unit.chat.fakes import InMemoryChatQueries, in_memory_repositories
from tests.unit.chat.harness import ADMIN, T0, Chat, agent

pytestmark = pytest.mark.unit
BASE = "/internal/tenants/t1"


@pytest.fixture
def chat() -> Chat:
    return Chat()


@pytest.fixture
async def http(chat) -> AsyncIterator[httpx.AsyncClient]:
    runtime, _ = build(ChatSettings(), uow=chat.uow, repositories=in_memory_repositories,
                       queries=InMemoryChatQueries(chat.uow))
    transport = httpx.ASGITransport(app=runtime.asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://chat") as client:
        yield client
    await runtime.mongo.close()


async def test_a_conversation_with_its_context_agents_times_and_unread_counts(chat, http):
    await chat.start(context=c.Context(prechat={"Order": "42"}, visitor=c.Visitor(browser="Firefox 140")),
                     skills={"billing": 2})
    chat.tick(45)
    await chat.assign(agent_id="a1")
    await chat.accepted(c.SendMessage(conversation_id="c1", client_message_id="m2", text="Hi!", actor=agent("a1")))
    response = await http.get(f"{BASE}/conversations/c1")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("conversation_id", "tenant_id", "state", "queue_id", "agents", "assignee", "skills",
                                 "proactive", "wait_s", "last_seq", "message_count", "unread", "customer_unread",
                                 "wrap_up_reason")} == {
        "conversation_id": "c1", "tenant_id": "t1", "state": "active", "queue_id": "q1", "agents": ["a1"],
        "assignee": "a1", "skills": {"billing": 2}, "proactive": False, "wait_s": 45.0, "last_seq": 2,
        "message_count": 2, "unread": {"a1": 1}, "customer_unread": 1, "wrap_up_reason": None}
    assert body["customer"] == {"customer_id": "cu1", "name": "Melissa", "authenticated": False, "email": None}
    assert body["context"]["prechat"] == {"Order": "42"} and body["context"]["visitor"]["browser"] == "Firefox 140"
    assert body["started_at"] == body["created_at"] == "2026-01-05T09:00:00Z"
    assert body["first_assigned_at"] == body["updated_at"] == "2026-01-05T09:00:45Z"


async def test_an_unknown_conversation_is_a_404_with_the_reason(chat, http):
    for path in ("/conversations/nope", "/conversations/nope/messages"):
        response = await http.get(f"{BASE}{path}")
        assert response.status_code == 404
        assert response.json() == {"detail": "conversation nope does not exist in tenant t1"}
    await chat.start()
    assert (await http.get("/internal/tenants/t2/conversations/c1")).status_code == 404  # another tenant's


async def test_messages_in_order_after_a_position_without_notes_unless_asked(chat, http):
    await chat.active(agent_id="a1")
    for i, private in enumerate([False, True, False, False], start=2):
        await chat.accepted(c.SendMessage(conversation_id="c1", client_message_id=f"m{i}", text=f"line\n{i}",
                                          private=private, actor=agent("a1")))
    public = (await http.get(f"{BASE}/conversations/c1/messages")).json()
    assert [m["seq"] for m in public["messages"]] == [1, 2, 4, 5] and public["last_seq"] == 5
    page = (await http.get(f"{BASE}/conversations/c1/messages",
                           params={"after_seq": 1, "limit": 2, "include_private": "true"})).json()
    assert [(m["seq"], m["private"], m["text"]) for m in page["messages"]] == [(2, False, "line\n2"),
                                                                             (3, True, "line\n3")]
    first = page["messages"][0]
    assert first["sender"] == {"kind": "agent", "id": "a1"} and first["client_message_id"] == "m2"
    assert set(first) == {"message_id", "conversation_id", "seq", "client_message_id", "sender", "text", "private",
                          "sent_at", "attachments"}
    assert first["attachments"] == []
    assert (await http.get(f"{BASE}/conversations/c1/messages", params={"limit": 0})).status_code == 422


async def test_work_lists_by_agent_state_and_customer(chat, http):
    await chat.active("c1", agent_id="a1")
    chat.tick()
    await chat.active("c2", agent_id="a1", customer_id="cu2")
    chat.tick()
    await chat.active("c3", agent_id="a2")
    chat.tick()
    await chat.accepted(c.WrapUp(conversation_id="c3", actor=agent("a2")))
    chat.tick()
    await chat.start("c4")  # requested: nobody's yet
    await chat.routing_says(r.ConversationWaiting(conversation_id="c1", agent_id="a1",
                                                  waiting_until=T0 + timedelta(days=28)))

    async def ids(**params) -> list[str]:
        response = await http.get(f"{BASE}/conversations", params=params)
        assert response.status_code == 200, response.text
        return [conv["conversation_id"] for conv in response.json()["conversations"]]

    assert await ids(agent_id="a1") == ["c1", "c2"]  # most recently updated first
    assert await ids(agent_id="a1", state="waiting") == ["c1"]
    assert await ids(agent_id="a2") == ["c3"] and await ids(agent_id="a2", state="closed") == ["c3"]
    assert await ids(agent_id="a2", state="active") == []
    assert await ids(customer_id="cu1") == ["c1", "c4", "c3"]
    assert await ids(state="requested") == ["c4"]
    assert await ids(limit=2) == ["c1", "c4"]
    assert (await http.get(f"{BASE}/conversations", params={"state": "nonsense"})).status_code == 422


async def test_settings_and_wrap_up_reasons(chat, http):
    default = (await http.get(f"{BASE}/queues/q1/chat-settings")).json()
    assert default.pop("opens_at")  # now: no calendar means always open
    assert default == {"queue_id": "q1", "wrap_up_required": False, "persistent": False, "configured": False,
                       "operating_hours": None, "offline_messages": True, "open_now": True}
    assert (await http.get(f"{BASE}/wrap-up-reasons")).json() == {"reasons": []}
    await chat.accepted(c.ConfigureQueueChat(queue_id="q1", wrap_up_required=True, actor=ADMIN))
    reasons = [c.WrapUpReason(code="resolved", label="Resolved"), c.WrapUpReason(code="spam", label="Spam")]
    await chat.accepted(c.ConfigureWrapUpReasons(reasons=reasons, actor=ADMIN))
    configured = (await http.get(f"{BASE}/queues/q1/chat-settings")).json()
    assert {k: configured[k] for k in ("queue_id", "wrap_up_required", "persistent", "configured")} == {
        "queue_id": "q1", "wrap_up_required": True, "persistent": False, "configured": True}
    assert (await http.get(f"{BASE}/wrap-up-reasons")).json() == {"reasons": [r.model_dump() for r in reasons]}
    assert (await http.get("/internal/tenants/t2/wrap-up-reasons")).json() == {"reasons": []}


async def test_health_and_asyncapi_stay_the_runtimes(http):
    assert (await http.get("/health/live")).json() == {"status": "ok"}
    assert (await http.get("/asyncapi.json")).status_code == 200


async def test_a_database_outage_is_a_503_not_a_crash():
    class Down(InMemoryChatQueries):
        async def conversation(self, tenant_id: str, conversation_id: str) -> None:
            raise ServerSelectionTimeoutError("no primary")

    app = read_api(Down(Chat().uow))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as client:
        response = await client.get(f"{BASE}/conversations/c1")
    assert response.status_code == 503 and "ServerSelectionTimeoutError" in response.json()["detail"]
