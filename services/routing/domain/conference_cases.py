"""Conference use cases (R7): invitations, accepting, declining, leaving and ending."""

from __future__ import annotations

from services.routing.domain.core import RouterCore
from services.routing.domain.errors import RoutingError
from shared.contracts.routing import events as ev


class ConferenceUseCases(RouterCore):
    # --- conference (R7) --------------------------------------------------------------------------

    def invite(self, conversation_id: str, inviter_id: str, invitee_id: str) -> list[ev.RoutingEvent]:
        item = self._assigned_item(conversation_id, inviter_id)
        invitee = self._agent(invitee_id)
        item.check_can_invite(inviter_id, invitee_id)
        invitee.check_can_hold(item.channel)
        item.invite(inviter_id, invitee_id)  # capacity is reserved only when the invitee accepts
        self._touch(item)
        self._emit(ev.ConferenceInviteSent(conversation_id=conversation_id, inviter_id=inviter_id,
                                           invitee_id=invitee_id))
        return self._finish()

    def accept_invite(self, conversation_id: str, invitee_id: str) -> list[ev.RoutingEvent]:
        item = self._invited_item(conversation_id, invitee_id)
        invitee = self._agent(invitee_id)
        queue = self._queue(item.queue_id)
        if invitee.free(item.channel) == 0:
            raise RoutingError("no_capacity", f"agent {invitee_id} has no free {item.channel} capacity")
        item.accept_invite(invitee_id)
        self._touch(item)
        self._reserve(invitee, item.channel)
        self._emit(ev.ConferenceInviteAccepted(conversation_id=conversation_id, invitee_id=invitee_id))
        self._auto_busy(invitee, item.channel, queue)
        return self._finish()

    def decline_invite(self, conversation_id: str, invitee_id: str) -> list[ev.RoutingEvent]:
        item = self._item(conversation_id)
        item.decline_invite(invitee_id)
        self._touch(item)
        self._emit(ev.ConferenceInviteDeclined(conversation_id=conversation_id, invitee_id=invitee_id))
        return self._finish()

    def leave_conference(self, conversation_id: str, agent_id: str) -> list[ev.RoutingEvent]:
        item = self._item(conversation_id)
        item.leave(agent_id)
        self._touch(item)
        self._emit(ev.ConferenceLeft(conversation_id=conversation_id, agent_id=agent_id))
        self._release(agent_id, item.channel)
        return self._finish()

    def end_conference(self, conversation_id: str, by_agent_id: str) -> list[ev.RoutingEvent]:
        """The assignee removes every participant and pending invite; without a conference, nothing happens."""
        item = self._assigned_item(conversation_id, by_agent_id)
        if not item.has_conference():
            return self._finish()
        participants = item.end_conference(by_agent_id)
        self._touch(item)
        self._emit(ev.ConferenceEnded(conversation_id=conversation_id))
        self._release_all(participants, item.channel)
        return self._finish()
