"""The users of a support line on the real mongod (U3): order, keyset pages with no row twice while
messages arrive, streaming mode past 100 users with search covering everyone, and filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contracts import chat
from shared.contracts import customer as c
from shared.contracts.envelope import Actor, wrap
from shared.mongo import consuming
from tests.integration.customer.conftest import Service
from tests.integration.customer.test_search import ADMIN

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 30, 9, tzinfo=UTC)
ALICE = Actor(user_id="alice", role="agent")


async def say(s: Service, event: Any) -> None:
    env = wrap(event, tenant_id="t1", key=event.conversation_id, producer="chat")
    with consuming(env.event_id):
        await s.handlers.handle_chat_event(env)


async def writes(s: Service, customer: str, name: str, at: datetime, text: str = "hello") -> None:
    cid = f"conv-{customer}"
    await say(s, chat.ConversationStarted(conversation_id=cid, queue_id="support", proactive=False, started_at=at,
                                          customer=chat.Customer(customer_id=customer, name=name),
                                          context=chat.Context()))
    await say(s, chat.MessagePosted(conversation_id=cid, message_id=f"m-{customer}-{at.timestamp()}", seq=1,
                                    client_message_id=None, sender=chat.Sender(kind="customer", id=customer),
                                    text=text, private=False, customer_id=customer, agents=[], sent_at=at))


async def page(s: Service, **params: Any) -> dict[str, Any]:
    response = await s.http.get("/internal/tenants/t1/lines/support/users", params={"agent_id": "alice", **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_newest_first_then_by_name_with_pages_that_never_repeat_a_row(service):
    for n, name in enumerate(["Cara", "Ann", "Bob", "Dan", "Eve"]):
        await writes(service, f"u{n}", name, T0 + timedelta(minutes=n % 3))  # ties in time: by name
    await service.send(c.ConnectToLine(customer_id="u9", line_id="support", name="Zed (never wrote)", actor=ADMIN))
    everyone = await page(service)
    assert [r["name"] for r in everyone["rows"]] == ["Bob", "Ann", "Eve", "Cara", "Dan", "Zed (never wrote)"]
    assert everyone["rows"][-1]["last_message_at"] is None and not everyone["streaming"]

    first = await page(service, limit=2)
    await writes(service, "u4", "Eve", T0 + timedelta(hours=1), text="Eve writes again")  # moves to the top
    second = await page(service, limit=2, cursor=first["next_cursor"])
    third = await page(service, limit=2, cursor=second["next_cursor"])
    seen = [r["customer_id"] for p in (first, second, third) for r in p["rows"]]
    assert len(seen) == len(set(seen)), seen
    assert third["next_cursor"] is None
    bad = await service.http.get("/internal/tenants/t1/lines/support/users", params={"agent_id": "alice",
                                                                                      "cursor": "garbage"})
    assert bad.status_code == 422 and "cursor" in bad.text


async def test_past_100_users_an_agent_sees_its_relevant_ones_and_search_covers_everyone(service):
    for n in range(101):
        await service.send(c.ConnectToLine(customer_id=f"u{n:03}", line_id="support", name=f"User {n:03}",
                                           actor=ADMIN))
    await writes(service, "u007", "User 007", T0)
    await say(service, chat.ConversationStateChanged(
        conversation_id="conv-u007", state="active", previous="queued", queue_id="support", agents=["alice"],
        customer_id="u007", why="test", at=datetime.now(UTC)))
    await service.send(c.TieToUser(customer_id="u050", favourite=True, actor=ALICE))
    await service.send(c.TieToUser(customer_id="u099", added=True, actor=ALICE))
    mine = await page(service)
    assert mine["streaming"] and mine["line_size"] == 101
    assert [(r["customer_id"], r["open_with_me"], r["favourite"], r["added"]) for r in mine["rows"]] == [
        ("u007", True, False, False), ("u050", False, True, False), ("u099", False, False, True)]
    found = await page(service, q="user 08")
    assert [r["customer_id"] for r in found["rows"]] == [f"u08{n}" for n in range(10)] and not found["streaming"]
    assert [r["customer_id"] for r in (await page(service, open_with_me="true"))["rows"]] == ["u007"]
    assert [r["customer_id"] for r in (await page(service, status="online"))["rows"]] == ["u007"]
