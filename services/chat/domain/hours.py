"""Operating hours of a queue (pure): a weekly calendar in the queue's time zone, with holidays.

An interval belongs to the day it starts on; one whose end is not after its start runs past midnight into
the next day (Friday 22:00-06:00 is open early on Saturday too). A holiday closes the intervals that start
on that date; an overnight interval that started the evening before still runs into it. Times are wall
clock in the queue's zone, so a daylight-saving change moves the instant, not the opening hour."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.contracts.chat.common import WEEKDAYS, OpenInterval, OperatingHours

MIDNIGHT = time(0, 0)


def _clock(value: str) -> time:
    hours, minutes = (int(part) for part in value.split(":"))
    return MIDNIGHT if hours == 24 else time(hours, minutes)


def _spans(hours: OperatingHours, day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The open spans that start on this local date (none on a holiday)."""
    if day in hours.holidays:
        return []
    spans = []
    interval: OpenInterval
    for interval in hours.weekly.get(WEEKDAYS[day.weekday()], []):
        start, end = _clock(interval.start), _clock(interval.end)
        opens = datetime.combine(day, start, tzinfo=zone)
        closes = datetime.combine(day + timedelta(days=1) if end <= start else day, end, tzinfo=zone)
        spans.append((opens, closes))
    return spans


def _local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def is_open(hours: OperatingHours | None, at: datetime) -> bool:
    """Whether the queue takes chats at this instant (no calendar: always open)."""
    if hours is None:
        return True
    zone = ZoneInfo(hours.timezone)
    today = _local_day(at, zone)
    for day in (today - timedelta(days=1), today):  # yesterday's overnight interval may still run
        for opens, closes in _spans(hours, day, zone):
            if _wall(opens) <= _wall(at.astimezone(zone)) < _wall(closes):
                return True
    return False


def next_opening(hours: OperatingHours | None, at: datetime, *, horizon_days: int = 400) -> datetime | None:
    """When it opens next after `at` (now, if open); None if no interval opens within the horizon."""
    if hours is None or is_open(hours, at):
        return at
    zone = ZoneInfo(hours.timezone)
    local = at.astimezone(zone)
    today = local.date()
    for offset in range(horizon_days + 1):
        starts = sorted(opens for opens, _ in _spans(hours, today + timedelta(days=offset), zone)
                        if _wall(opens) > _wall(local))
        if starts:
            return starts[0]
    return None


def _wall(moment: datetime) -> tuple[date, time]:
    """The local wall-clock reading, compared as such (a DST jump does not shift opening hours)."""
    return moment.date(), moment.time().replace(tzinfo=None)
