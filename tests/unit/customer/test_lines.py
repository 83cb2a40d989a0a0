"""The users of a support line (U3) on the fakes: chat's events followed into each user's row (status, open
appeals, last message), duplicates changing nothing, an admin connecting a user, an agent's ties and window;
and the pure rules (relevance, streaming mode, cursor)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.customer.domain.lines import Position, streaming, window_start
from shared.contracts import chat
from shared.contracts import customer as c
from shared.contracts.envelope import Actor, wrap
from shared.mongo import AlreadyProcessed, consuming
from tests.unit.customer.test_profiles import ADMIN, AGENT, T0, Customer

pytestmark = pytest.mark.unit


class Lines(Customer):
    async def chat_says(self, event: Any, tenant: str = "t1") -> Any:
        env = wrap(event, tenant_id=tenant, key=event.conversation_id, producer="chat")
        await self.redeliver(env)
        return env

    async def redeliver(self, env: Any) -> None:
        with consuming(env.event_id):
            await self.handlers.handle_chat_event(env)

    def row(self, line: str, customer: str) -> dict[str, Any]:
        return self.uow.docs["line_users"][f"t1|{line}|{customer}"]


@pytest.fixture
def lines() -> Lines:
    return Lines()


def started(cid: str, customer: str = "cu1", line: str = "support", name: str = "Dana") -> chat.ConversationStarted:
    return chat.ConversationStarted(conversation_id=cid, queue_id=line, proactive=False, started_at=T0,
                                    customer=chat.Customer(customer_id=customer, name=name), context=chat.Context())


def state(cid: str, new: str, agents: list[str], at: datetime = T0, customer: str = "cu1"
          ) -> chat.ConversationStateChanged:
    return chat.ConversationStateChanged(conversation_id=cid, state=new, previous="queued", queue_id="support",
                                         agents=agents, customer_id=customer, why="test", at=at)


def message(cid: str, text: str, at: datetime, *, kind: str = "customer", private: bool = False,
            seq: int = 1) -> chat.MessagePosted:
    return chat.MessagePosted(conversation_id=cid, message_id=f"m{seq}", seq=seq, client_message_id=None,
                              sender=chat.Sender(kind=kind, id="x"), text=text, private=private, customer_id="cu1",
                              agents=[], sent_at=at)


async def test_a_user_joins_the_line_it_writes_on_and_its_row_follows_its_conversations(lines):
    await lines.chat_says(started("c1"))
    row = lines.row("support", "cu1")
    assert (row["name"], row["status"], row["open_with"]) == ("Dana", "online", [])
    await lines.chat_says(state("c1", "active", ["alice"]))
    await lines.chat_says(message("c1", "My card  4111 **** 1111\nwas charged", T0 + timedelta(seconds=5)))
    row = lines.row("support", "cu1")
    assert (row["open_with"], row["preview"]) == (["alice"], "My card 4111 **** 1111 was charged")
    await lines.chat_says(message("c1", "a note", T0 + timedelta(seconds=9), kind="agent", private=True, seq=2))
    await lines.chat_says(message("c1", "Conversation ended", T0 + timedelta(seconds=9), kind="system", seq=3))
    assert lines.row("support", "cu1")["preview"].startswith("My card")  # notes and system lines do not count
    await lines.chat_says(state("c1", "waiting", ["alice"]))
    assert lines.row("support", "cu1")["status"] == "away"
    await lines.chat_says(state("c1", "closed", [], at=T0 + timedelta(minutes=1)))
    row = lines.row("support", "cu1")
    assert (row["status"], row["open_with"], row["conversations"]) == ("offline", [], {})
    ties = lines.uow.docs["agent_ties"]["t1|alice|cu1"]
    assert ties["last_worked_at"] == T0 and not ties["added"]
    changed = lines.events(c.LineUserChanged)
    assert [e.status for e in changed] == ["online", "online", "online", "away", "offline"]


async def test_a_redelivered_event_changes_nothing_and_an_older_message_does_not_move_the_row_back(lines):
    await lines.chat_says(started("c1"))
    env = await lines.chat_says(message("c1", "second", T0 + timedelta(seconds=2), seq=2))
    with pytest.raises(AlreadyProcessed):
        await lines.redeliver(env)
    await lines.chat_says(message("c1", "first", T0 + timedelta(seconds=1)))  # another partition, late
    row = lines.row("support", "cu1")
    assert (row["preview"], row["last_message_at"]) == ("second", T0 + timedelta(seconds=2))


async def test_two_conversations_of_one_user_on_a_line_add_up(lines):
    await lines.chat_says(started("c1"))
    await lines.chat_says(started("c2"))
    await lines.chat_says(state("c1", "active", ["alice"]))
    await lines.chat_says(state("c2", "active", ["bob"]))
    assert lines.row("support", "cu1")["open_with"] == ["alice", "bob"]
    await lines.chat_says(state("c1", "closed", []))
    row = lines.row("support", "cu1")
    assert (row["open_with"], row["status"]) == (["bob"], "online")


async def test_an_admin_connects_a_user_and_agents_tie_themselves_to_users(lines):
    await lines.ok(c.ConnectToLine(customer_id="cu9", line_id="vip", name="Big Client", actor=ADMIN))
    await lines.ok(c.ConnectToLine(customer_id="cu9", line_id="vip", name="Renamed?", actor=ADMIN))
    assert lines.row("vip", "cu9")["name"] == "Big Client" and len(lines.events(c.LineUserChanged)) == 1
    assert "may not" in await lines.refused(c.ConnectToLine(customer_id="cu8", line_id="vip", name="X", actor=AGENT),
                                            "forbidden")
    await lines.ok(c.TieToUser(customer_id="cu9", favourite=True, actor=AGENT))
    await lines.ok(c.TieToUser(customer_id="cu9", added=True, actor=AGENT))
    await lines.ok(c.TieToUser(customer_id="cu9", added=True, actor=AGENT))  # no change: no event
    ties = lines.uow.docs["agent_ties"]["t1|alice|cu9"]
    assert (ties["added"], ties["favourite"]) == (True, True)
    assert [(e.added, e.favourite) for e in lines.events(c.AgentTiesChanged)] == [(False, True), (True, True)]
    await lines.ok(c.SetRelevanceWindow(agent_id="alice", days=7, actor=AGENT))
    assert "outside 7-90" in await lines.refused(c.SetRelevanceWindow(agent_id="alice", days=6, actor=AGENT),
                                                 "invalid_argument")
    assert "its own" in await lines.refused(c.SetRelevanceWindow(agent_id="bob", days=30, actor=AGENT), "forbidden")
    await lines.ok(c.SetRelevanceWindow(agent_id="bob", days=30, actor=Actor(user_id="root", role="admin")))


def test_relevance_streaming_mode_and_the_cursor():
    now = datetime(2026, 11, 30, tzinfo=UTC)
    assert window_start(now, 60) == now - timedelta(days=60) and window_start(now, 7) == now - timedelta(days=7)
    with pytest.raises(Exception, match="outside 7-90"):
        window_start(now, 91)
    assert not streaming(100) and streaming(101)
    position = Position(now, "dana kalnina", "cu1")
    assert Position.decode(position.encode()) == position
    with pytest.raises(Exception, match="cursor"):
        Position.decode("not-a-cursor")
