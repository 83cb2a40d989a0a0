"""Use cases the clock drives (R5, R6, R9): offer time-outs (RONA), overflow, expiry of waiting chats."""

from __future__ import annotations

from datetime import datetime

from services.routing.domain.core import RouterCore
from services.routing.domain.work_item import ItemState, WorkItem
from shared.contracts.routing import events as ev


class TimerUseCases(RouterCore):
    # --- timers (R5, R6, R9) ----------------------------------------------------------------------

    def overflow(self) -> list[ev.RoutingEvent]:
        """Move items that waited too long in a queue to its overflow queue."""
        for item in sorted(self.items.values(), key=WorkItem.order):
            deadline = self._overflow_at(item)
            if deadline is None or deadline > self.now:
                continue
            from_queue_id = item.queue_id
            waited_s = item.move_to(self.queues[from_queue_id].overflow_queue_id, self.now)
            self._touch(item)
            self._emit(ev.ConversationOverflowed(conversation_id=item.conversation_id, from_queue_id=from_queue_id,
                                                 to_queue_id=item.queue_id, waited_s=waited_s))
            self._dispatch_later(item.queue_id)
        return self._finish()

    def expire_waiting(self) -> list[ev.RoutingEvent]:
        """Persistent chats parked past their waiting period end."""
        for item in sorted(self.items.values(), key=lambda item: item.conversation_id):
            if item.waiting_expired(self.now):
                item.finish()
                self._touch(item)
                self._emit(ev.ConversationEnded(conversation_id=item.conversation_id, reason="waiting period expired"))
        return self._finish()

    def next_deadline(self) -> datetime | None:
        """The earliest moment a timer use case (expire_offers, overflow, expire_waiting) has work."""
        deadlines = []
        for item in self.items.values():
            if item.state == ItemState.OFFERED:
                deadlines.append(item.offer.expires_at)
            elif item.state == ItemState.WAITING and item.waiting_until is not None:
                deadlines.append(item.waiting_until)
            elif (overflow_at := self._overflow_at(item)) is not None:
                deadlines.append(overflow_at)
        return min(deadlines, default=None)

    def expire_offers(self) -> list[ev.RoutingEvent]:
        """Offers not answered in time: the agent goes to RONA and the item to the next agent."""
        expired = sorted((item for item in self.items.values()
                          if item.offer is not None and item.offer.expires_at <= self.now),
                         key=lambda item: (item.offer.expires_at, item.conversation_id))
        for item in expired:
            offer = item.offer
            self._emit(ev.OfferExpired(conversation_id=item.conversation_id, offer_id=offer.offer_id,
                                       agent_id=offer.agent_id))
            item.count_decline(offer.agent_id)
            self._put_in_rona(offer.agent_id)
            self._return_offer(item)
        return self._finish()
