"""After the chat, through chat's handlers on fakes: the post-chat survey (CSAT) and quick replies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.chat.bootstrap import build
from services.chat.settings import ChatSettings
from shared.contracts import chat as c
from shared.contracts.envelope import Actor
from tests.unit.chat.fakes import InMemoryChatQueries, in_memory_repositories
from tests.unit.chat.harness import ADMIN, Chat, agent, customer

pytestmark = pytest.mark.unit
BASE = "/internal/tenants/t1"
ALICE = Actor(user_id="a1", role="agent", display_name="Alice Smith")


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


def rate(rating: int = 5, comment: str = "Quick and kind", *, by: Actor | None = None,
         cid: str = "c1") -> c.SubmitSurvey:
    return c.SubmitSurvey(conversation_id=cid, rating=rating, comment=comment, actor=by or customer("cu1"))


def survey_on(enabled: bool = True, by: Actor = ADMIN) -> c.ConfigureSurvey:
    return c.ConfigureSurvey(enabled=enabled, question="How did we do?", actor=by)


def send(text: str, actor: Actor = ALICE, client_id: str = "m-1", cid: str = "c1") -> c.SendMessage:
    return c.SendMessage(conversation_id=cid, client_message_id=client_id, text=text, actor=actor)


def put(name: str, text: str, scope: str = "tenant", by: Actor = ADMIN) -> c.PutQuickReply:
    return c.PutQuickReply(name=name, scope=scope, text=text, actor=by)


# --- the survey ---------------------------------------------------------------------------------------------

async def test_only_an_admin_switches_the_survey(chat, http):
    assert (await chat.rejected(survey_on(by=agent("a1")))).code == "forbidden"
    assert (await http.get(f"{BASE}/survey-settings")).json() == {
        "enabled": False, "question": "How would you rate this conversation?", "configured": False}
    await chat.accepted(survey_on())
    assert chat.events(c.SurveyConfigured)[-1].enabled
    assert (await http.get(f"{BASE}/survey-settings")).json() == {
        "enabled": True, "question": "How did we do?", "configured": True}


async def test_the_customer_who_ended_the_chat_is_asked_and_rates_it_once(chat, http):
    await chat.accepted(survey_on())
    await chat.active(agent_id="a1")
    assert (await chat.rejected(rate())).code == "invalid_state"  # still going on
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=customer("cu1")))
    (invited,) = chat.events(c.SurveyInvited)
    assert invited.customer_id == "cu1" and invited.question == "How did we do?"
    assert (await http.get(f"{BASE}/conversations/c1")).json()["survey_pending"] is True

    chat.tick()
    await chat.accepted(rate(5, "Quick and kind"))
    (submitted,) = chat.events(c.SurveySubmitted)
    assert (submitted.rating, submitted.comment, submitted.agent_id, submitted.queue_id, submitted.at) == (
        5, "Quick and kind", "a1", "q1", chat.now)
    view = (await http.get(f"{BASE}/conversations/c1")).json()
    assert view["survey"]["rating"] == 5 and view["survey"]["comment"] == "Quick and kind"
    assert view["survey_pending"] is False

    again = await chat.rejected(rate(1, "changed my mind"))
    assert again.code == "conflict"
    assert len(chat.events(c.SurveySubmitted)) == 1
    # The agent's wrap-up afterwards asks nothing again.
    await chat.accepted(c.WrapUp(conversation_id="c1", actor=agent("a1")))
    assert len(chat.events(c.SurveyInvited)) == 1


async def test_only_that_conversations_customer_rates_it(chat):
    await chat.accepted(survey_on())
    await chat.active(agent_id="a1")
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=agent("a1")))
    assert (await chat.rejected(rate(by=customer("someone-else")))).code == "not_participant"
    assert (await chat.rejected(rate(by=agent("a1")))).code == "forbidden"
    assert (await chat.rejected(rate(cid="nope"))).code == "unknown_conversation"


async def test_a_survey_switched_off_is_refused_and_asks_nobody(chat):
    await chat.active(agent_id="a1")
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=customer("cu1")))
    assert chat.events(c.SurveyInvited) == []
    assert (await chat.rejected(rate())).code == "not_allowed"
    await chat.accepted(survey_on())
    await chat.accepted(survey_on(False))
    assert (await chat.rejected(rate())).code == "not_allowed"


async def test_a_wrap_up_straight_from_active_asks_too_but_an_offline_message_is_never_rated(chat):
    await chat.accepted(survey_on())
    await chat.active(agent_id="a1")
    await chat.accepted(c.WrapUp(conversation_id="c1", actor=agent("a1")))
    assert [e.conversation_id for e in chat.events(c.SurveyInvited)] == ["c1"]
    await chat.accepted(c.LeaveOfflineMessage(conversation_id="c2", queue_id="q1", text="Call me",
                                              customer=c.Customer(customer_id="cu1", name="Melissa"),
                                              actor=customer("cu1")))
    assert (await chat.rejected(rate(cid="c2"))).code == "invalid_state"


# --- quick replies -------------------------------------------------------------------------------------------

async def test_an_agents_slash_name_becomes_the_reply_filled_from_the_conversation(chat, http):
    await chat.accepted(put("greet", "Hello {customer_name}, I am {agent_name} from {queue}"))
    await chat.active(agent_id="a1")
    posted = await chat.accepted(send("/greet"))
    message = chat.events(c.MessagePosted)[-1]
    assert message.message_id == posted.result_id
    assert message.text == "Hello Melissa, I am Alice Smith from q1"
    # Without a display name on the actor, the agent's id.
    await chat.accepted(send(" /greet ", agent("a1"), "m-2"))
    assert chat.events(c.MessagePosted)[-1].text == "Hello Melissa, I am a1 from q1"
    # A customer's text is never expanded.
    await chat.accepted(send("/greet", customer("cu1"), "m-3"))
    assert chat.events(c.MessagePosted)[-1].text == "/greet"
    # Not only the shortcut: sent as typed.
    await chat.accepted(send("/greet you", ALICE, "m-4"))
    assert chat.events(c.MessagePosted)[-1].text == "/greet you"


async def test_an_agents_own_reply_wins_over_the_tenants_and_an_unknown_one_is_refused(chat, http):
    await chat.accepted(put("greet", "Hello {customer_name}"))
    await chat.accepted(put("greet", "Hi {customer_name}, {agent_name} here", scope="agent", by=ALICE))
    await chat.active(agent_id="a1")
    await chat.accepted(send("/greet"))
    assert chat.events(c.MessagePosted)[-1].text == "Hi Melissa, Alice Smith here"
    refused = await chat.rejected(send("/nope", client_id="m-2"))
    assert refused.code == "unknown_quick_reply" and "/nope" in refused.reason
    assert len(chat.events(c.MessagePosted)) == 2  # the first message and the greeting

    listed = (await http.get(f"{BASE}/quick-replies", params={"agent_id": "a1"})).json()["replies"]
    assert [(r["name"], r["scope"], r["owner"]) for r in listed] == [("greet", "agent", "a1")]
    filled = (await http.get(f"{BASE}/conversations/c1/quick-replies",
                             params={"agent_id": "a1", "agent_name": "Alice Smith", "prefix": "gr"})).json()
    assert [r["text"] for r in filled["replies"]] == ["Hi Melissa, Alice Smith here"]
    other = (await http.get(f"{BASE}/conversations/c1/quick-replies", params={"agent_id": "a2"})).json()
    assert [r["text"] for r in other["replies"]] == ["Hello Melissa"]
    assert (await http.get(f"{BASE}/conversations/c1/quick-replies",
                           params={"agent_id": "a2", "prefix": "x"})).json()["replies"] == []
    assert (await http.get(f"{BASE}/conversations/c9/quick-replies", params={"agent_id": "a2"})).status_code == 404


async def test_who_may_keep_which_replies_and_what_a_reply_may_say(chat):
    assert (await chat.rejected(put("greet", "Hello", by=agent("a1")))).code == "forbidden"
    assert (await chat.rejected(put("greet", "Hello", scope="agent", by=customer("cu1")))).code == "forbidden"
    assert (await chat.rejected(put("greet", "Hello {name}"))).code == "invalid_argument"
    assert (await chat.rejected(put("greet", "Hello <b>you</b>"))).code == "invalid_text"
    assert (await chat.rejected(put("greet", "   "))).code == "invalid_text"
    with pytest.raises(ValueError):
        c.PutQuickReply(name="Greet!", scope="tenant", text="Hello")
    saved = await chat.accepted(put("greet", "Hello", scope="agent", by=agent("a1")))
    assert saved.result_id == "greet"
    assert chat.events(c.QuickReplySaved)[-1].owner == "a1"


async def test_a_filled_reply_follows_the_composer_rules_and_a_removed_one_is_gone(chat):
    await chat.accepted(put("long", "x" * 980 + "{customer_name}"))  # 995 characters as stored
    await chat.accepted(c.StartConversation(
        conversation_id="c1", queue_id="q1", first_message="Hi", actor=customer("cu1"),
        customer=c.Customer(customer_id="cu1", name="Maximilian Alexander Longname")))
    await chat.assign(agent_id="a1")
    refused = await chat.rejected(send("/long"))  # 980 + 29 characters filled
    assert refused.code == "invalid_text" and "1000" in refused.reason

    await chat.accepted(c.RemoveQuickReply(name="long", scope="tenant", actor=ADMIN))
    assert chat.events(c.QuickReplyRemoved)[-1].name == "long"
    assert (await chat.rejected(send("/long", client_id="m-2"))).code == "unknown_quick_reply"
    gone = await chat.rejected(c.RemoveQuickReply(name="long", scope="tenant", actor=ADMIN))
    assert gone.code == "unknown_quick_reply"


async def test_a_survey_comment_is_masked_like_a_message(chat, http):
    await chat.accepted(survey_on())
    await chat.active(agent_id="a1")
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=customer("cu1")))
    await chat.accepted(rate(4, "Refund to card 4111 1111 1111 1111 please"))
    (submitted,) = chat.events(c.SurveySubmitted)
    assert "4111 1111" not in submitted.comment and submitted.comment.endswith("1111 please")
    view = (await http.get(f"{BASE}/conversations/c1")).json()
    assert view["survey"]["comment"] == submitted.comment
