"""What a waiting customer is told: their place in the queue and an estimated wait, from the queue's recent
assignments and its agents now; and, from one moment of a use case to the next, whose place changed.
Pure functions, no I/O; the formula is in services/routing/README.md ("Waiting: places and estimates")."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from services.routing.domain.agent import Agent, Presence
from services.routing.domain.work_item import ItemState, WorkItem
from shared.contracts.routing import events as ev

if TYPE_CHECKING:
    from services.routing.domain.queue import QueueConfig

HISTORY_SIZE = 20  # assignments a queue remembers
HISTORY_WINDOW = timedelta(hours=1)  # older assignments say nothing about now
MIN_SPAN_S = 60.0  # a burst of assignments is spread over at least this long
WAITING_STATES = (ItemState.QUEUED, ItemState.OFFERED)

OrderKey = tuple[int, datetime]  # (-priority, enqueued_at): queue order without the tie-breaking id


def remember_assignment(history: Sequence[datetime], at: datetime) -> list[datetime]:
    """The queue's assignment history with one more, oldest first: at most HISTORY_SIZE, none older than the
    window before `at`."""
    kept = [t for t in history if at - t <= HISTORY_WINDOW]
    return sorted([*kept, at])[-HISTORY_SIZE:]


def coarse(seconds: float) -> int:
    """Rounded up to a step a customer can read (5 s under a minute, 15 s under five, whole minutes beyond),
    so small changes in the inputs do not reach the widget as new estimates."""
    step = 5 if seconds < 60 else 15 if seconds < 300 else 60
    return int(math.ceil(seconds / step - 1e-9) * step)


def estimate_wait_s(queued_ahead: int, *, free_slots: int, agents_online: int,
                    recent_assignments: Iterable[datetime], now: datetime) -> int | None:
    """Seconds until a queued conversation with `queued_ahead` queued (not yet offered) conversations before it
    is taken; None when it cannot be estimated.

    - nobody of the queue online: None (the widget offers an offline message instead);
    - one of the first `free_slots` in line (an agent has room now): 0;
    - otherwise each assignment still needed before it takes the queue's recent time per assignment, the span
      from its oldest remembered assignment (within the window) to now, divided by their number; the span is
      at least MIN_SPAN_S, so a burst (an agent coming online and taking three at once) does not promise the
      next customers a near-zero wait; no assignment in the window: None.
    """
    if agents_online <= 0:
        return None
    needed = queued_ahead + 1 - max(free_slots, 0)
    if needed <= 0:
        return 0
    recent = [t for t in recent_assignments if timedelta(0) <= now - t <= HISTORY_WINDOW]
    if not recent:
        return None
    span_s = max((now - min(recent)).total_seconds(), MIN_SPAN_S)
    return coarse(needed * span_s / len(recent))


@dataclass(frozen=True)
class QueueStaffing:
    """A queue's members now: how many are online (any presence but offline) and the free capacity of those
    available, per channel."""
    online: int
    available: int  # members Available with free capacity on the channel
    free_slots: int  # their free capacity on the channel, summed

    @classmethod
    def of(cls, queue: QueueConfig, agents: Mapping[str, Agent], channel: str = "chat") -> QueueStaffing:
        members = [agents[a] for a in sorted(queue.members) if a in agents]
        ready = [a for a in members if a.can_take(channel)]
        return cls(online=sum(a.presence != Presence.OFFLINE for a in members), available=len(ready),
                   free_slots=sum(a.free(channel) for a in ready))


@dataclass(frozen=True)
class Place:
    queue_id: str
    position: int
    estimated_wait_s: int | None


def order_key(item: WorkItem) -> OrderKey:
    return (-item.priority, item.enqueued_at)


def places(queue_ids: Iterable[str], *, queues: Mapping[str, QueueConfig], agents: Mapping[str, Agent],
           items: Mapping[str, WorkItem], now: datetime, known_before: OrderKey | None = None) -> dict[str, Place]:
    """Every waiting (queued or offered) conversation's place in these queues, by conversation id.

    `items` must hold every waiting item of these queues (up to `known_before`, when the caller loaded only a
    prefix of the queue order: items from that key on get no place, since those ahead of them are not known)."""
    wanted = {q for q in queue_ids if q in queues}
    lines: dict[str, list[WorkItem]] = {q: [] for q in wanted}
    for item in items.values():
        if item.state in WAITING_STATES and item.queue_id in wanted and (
                known_before is None or order_key(item) < known_before):
            lines[item.queue_id].append(item)
    found: dict[str, Place] = {}
    for queue_id, line in lines.items():
        queue = queues[queue_id]
        staffing: dict[str, QueueStaffing] = {}
        queued_ahead = 0
        for position, item in enumerate(sorted(line, key=WorkItem.order), start=1):
            if item.state == ItemState.OFFERED:
                found[item.conversation_id] = Place(queue_id, position, 0)  # an agent's desk shows it now
                continue
            staff = staffing.get(item.channel) or staffing.setdefault(item.channel,
                                                                      QueueStaffing.of(queue, agents, item.channel))
            wait = estimate_wait_s(queued_ahead, free_slots=staff.free_slots, agents_online=staff.online,
                                   recent_assignments=queue.recent_assignments, now=now)
            found[item.conversation_id] = Place(queue_id, position, wait)
            queued_ahead += 1
    return found


def waiting_place(item: WorkItem, *, ahead: int, queued_ahead: int, queue: QueueConfig,
                  agents: Mapping[str, Agent], now: datetime) -> Place | None:
    """One conversation's place from counts (the read API's: `ahead` waiting before it in queue order, of which
    `queued_ahead` not yet offered), the same as places() gives; None when it is not waiting."""
    if item.state not in WAITING_STATES:
        return None
    if item.state == ItemState.OFFERED:
        return Place(item.queue_id, ahead + 1, 0)
    staff = QueueStaffing.of(queue, agents, item.channel)
    return Place(item.queue_id, ahead + 1, estimate_wait_s(
        queued_ahead, free_slots=staff.free_slots, agents_online=staff.online,
        recent_assignments=queue.recent_assignments, now=now))


def place_changes(before: Mapping[str, Place], after: Mapping[str, Place]) -> list[ev.QueuePositionChanged]:
    """One event for each waiting conversation whose place or estimate is not what it was (new ones included),
    in queue order."""
    changed = sorted(((cid, place) for cid, place in after.items() if before.get(cid) != place),
                     key=lambda pair: (pair[1].queue_id, pair[1].position))
    return [ev.QueuePositionChanged(conversation_id=cid, queue_id=place.queue_id, position=place.position,
                                    estimated_wait_s=place.estimated_wait_s) for cid, place in changed]
