"""Operating hours (pure): weekly openings in the queue's zone, across midnight, holidays, daylight saving;
and the use cases that follow them: a chat outside hours is refused, an offline message is kept closed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.chat.domain.hours import is_open, next_opening
from shared.contracts import chat as c
from shared.contracts import routing as r
from shared.contracts.answers import CommandRejected
from shared.contracts.chat.common import OperatingHours
from tests.unit.chat.harness import ADMIN, Chat, customer

pytestmark = pytest.mark.unit

RIGA = ZoneInfo("Europe/Riga")
NEW_YORK = ZoneInfo("America/New_York")


def riga(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=RIGA)


OFFICE = OperatingHours(timezone="Europe/Riga", weekly={
    day: [{"start": "09:00", "end": "18:00"}] for day in ("mon", "tue", "wed", "thu", "fri")})
NIGHTS = OperatingHours(timezone="Europe/Riga", weekly={"fri": [{"start": "22:00", "end": "06:00"}]},
                        holidays=[date(2026, 12, 25)])


def test_no_calendar_means_always_open():
    assert is_open(None, datetime(2026, 12, 25, 3, tzinfo=UTC))
    assert next_opening(None, datetime(2026, 12, 25, 3, tzinfo=UTC)) == datetime(2026, 12, 25, 3, tzinfo=UTC)


def test_office_hours_are_wall_clock_in_the_queues_zone():
    monday = riga(2026, 11, 30, 9)  # 07:00 UTC in winter
    assert is_open(OFFICE, monday) and is_open(OFFICE, monday.astimezone(UTC))
    assert not is_open(OFFICE, monday - timedelta(minutes=1))
    assert is_open(OFFICE, riga(2026, 11, 30, 17, 59)) and not is_open(OFFICE, riga(2026, 11, 30, 18))
    assert not is_open(OFFICE, riga(2026, 12, 5, 12))  # Saturday
    # The same instant is 02:00 in New York: the queue's zone decides, not the caller's.
    assert is_open(OFFICE, datetime(2026, 11, 30, 2, tzinfo=NEW_YORK))


def test_an_overnight_opening_runs_past_midnight_into_the_next_day():
    assert is_open(NIGHTS, riga(2026, 12, 4, 23))  # Friday 23:00
    assert is_open(NIGHTS, riga(2026, 12, 5, 5, 59))  # Saturday early morning: Friday's opening
    assert not is_open(NIGHTS, riga(2026, 12, 5, 6))
    assert not is_open(NIGHTS, riga(2026, 12, 4, 5))  # Friday early morning: Thursday has no opening
    assert next_opening(NIGHTS, riga(2026, 12, 5, 7)) == riga(2026, 12, 11, 22)


def test_a_holiday_closes_the_openings_that_start_on_it_but_not_the_night_before():
    assert not is_open(NIGHTS, riga(2026, 12, 25, 23))  # Christmas is a Friday: closed
    assert next_opening(NIGHTS, riga(2026, 12, 25, 23)) == riga(2027, 1, 1, 22)
    eve = OperatingHours(timezone="Europe/Riga", weekly={"thu": [{"start": "20:00", "end": "02:00"}]},
                         holidays=[date(2026, 12, 25)])
    assert is_open(eve, riga(2026, 12, 25, 1))  # Thursday night's opening runs into the holiday


def test_daylight_saving_keeps_the_opening_hour():
    # Riga moves to summer time on 2027-03-28 (Sunday): Monday 09:00 is 06:00 UTC after, 07:00 UTC before.
    week = OperatingHours(timezone="Europe/Riga", weekly={"mon": [{"start": "09:00", "end": "10:00"}]})
    assert is_open(week, datetime(2027, 3, 22, 7, 30, tzinfo=UTC))
    assert is_open(week, datetime(2027, 3, 29, 6, 30, tzinfo=UTC))
    assert not is_open(week, datetime(2027, 3, 29, 7, 30, tzinfo=UTC))
    assert next_opening(week, datetime(2027, 3, 23, tzinfo=UTC)) == riga(2027, 3, 29, 9)


def test_a_full_day_and_a_closed_calendar():
    always = OperatingHours(timezone="UTC", weekly={"sun": [{"start": "00:00", "end": "24:00"}]})
    assert is_open(always, datetime(2026, 12, 6, 0, tzinfo=UTC)) and is_open(always, datetime(2026, 12, 6, 23, 59,
                                                                                                  tzinfo=UTC))
    assert not is_open(always, datetime(2026, 12, 7, 0, tzinfo=UTC))
    never = OperatingHours(timezone="UTC")
    assert not is_open(never, datetime(2026, 12, 6, tzinfo=UTC))
    assert next_opening(never, datetime(2026, 12, 6, tzinfo=UTC)) is None


def test_bad_calendars_are_refused_with_the_reason():
    with pytest.raises(ValidationError, match="unknown time zone"):
        OperatingHours(timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        OperatingHours(timezone="UTC", weekly={"mon": [{"start": "9:00", "end": "18:00"}]})
    with pytest.raises(ValidationError):
        OperatingHours(timezone="UTC", weekly={"someday": [{"start": "09:00", "end": "18:00"}]})


# --- the use cases -------------------------------------------------------------------------------------

@pytest.fixture
def chat() -> Chat:
    return Chat()


async def _configure(chat: Chat, **settings) -> None:
    await chat.accepted(c.ConfigureQueueChat(queue_id="billing", actor=ADMIN, **settings))


def _start(cid: str = "c1") -> c.StartConversation:
    return c.StartConversation(conversation_id=cid, queue_id="billing", actor=customer("cu1"),
                               customer=c.Customer(customer_id="cu1", name="Melissa"), first_message="Hello")


async def test_a_chat_outside_hours_is_refused_saying_when_it_opens(chat):
    await _configure(chat, operating_hours=OFFICE)
    chat.now = riga(2026, 12, 5, 12).astimezone(UTC)  # Saturday
    answer = chat.answer(await chat.send(_start()))
    assert isinstance(answer, CommandRejected) and answer.code == "closed"
    assert "Mon 2026-12-07 09:00" in answer.reason and "offline message" in answer.reason
    assert chat.to_routing() == []
    chat.now = riga(2026, 12, 7, 9, 30).astimezone(UTC)
    await chat.accepted(_start("c2"))
    assert [type(x) for x in chat.to_routing()] == [r.RouteConversation]


async def test_an_offline_message_is_kept_in_a_conversation_closed_at_once(chat):
    await _configure(chat, operating_hours=OFFICE)
    chat.now = riga(2026, 12, 5, 12).astimezone(UTC)
    before = len(chat.events())
    answer = await chat.accepted(c.LeaveOfflineMessage(
        conversation_id="c1", queue_id="billing", actor=customer("cu1"), text="Please call me back on Monday",
        customer=c.Customer(customer_id="cu1", name="Melissa", email="m@example.com")))
    assert answer.result_id == "c1"
    started, posted, changed, closed, _ = chat.events()[before:]
    assert isinstance(started, c.ConversationStarted) and started.offline
    assert (posted.text, posted.sender.kind) == ("Please call me back on Monday", "customer")
    assert (changed.previous, changed.state, changed.why) == ("requested", "closed", "offline message")
    assert (closed.ended_by, closed.agent_id, closed.messages) == ("customer", None, 1)
    assert chat.to_routing() == []  # nobody is offered it


async def test_a_queue_may_refuse_offline_messages_and_a_customer_cannot_leave_one_for_someone_else(chat):
    await _configure(chat, offline_messages=False)
    answer = chat.answer(await chat.send(c.LeaveOfflineMessage(
        conversation_id="c1", queue_id="billing", actor=customer("cu1"), text="Hello",
        customer=c.Customer(customer_id="cu1", name="Melissa"))))
    assert isinstance(answer, CommandRejected) and answer.code == "not_allowed"
    answer = chat.answer(await chat.send(c.LeaveOfflineMessage(
        conversation_id="c2", queue_id="other", actor=customer("cu1"), text="Hello",
        customer=c.Customer(customer_id="cu2", name="Someone else"))))
    assert isinstance(answer, CommandRejected)
