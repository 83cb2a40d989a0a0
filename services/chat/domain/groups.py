"""Group conversations (U6): an agent starts a proactive conversation with a customer and named colleagues,
who take part from the start beside the agent who holds it, without being offered it.

Colleagues are chat's own: routing never hears of them, so they take no routing capacity (the agent who
started it holds it through routing's OpenConversation, as any proactive chat). They are in the
conversation's `agents` after the assignee and conference members whenever somebody holds it, so every
message reaches them; a colleague leaves by itself (LeaveGroup), and all of them leave when it closes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from services.chat.domain.lifecycle import State
from shared.contracts.answers import Rejected
from shared.contracts.envelope import Command, Event

if TYPE_CHECKING:
    from services.chat.domain.conversation import Conversation


def check_group_start(*, starter: str, colleagues: Sequence[str], proactive: bool, topic: str | None) -> None:
    """A group is a proactive conversation (an agent starts it) naming other people, each once."""
    if not colleagues:
        if topic is not None:
            raise Rejected("invalid_argument", "a topic is for a group conversation: name its colleagues")
        return
    if not proactive:
        raise Rejected("invalid_argument", "a group conversation is started by an agent (proactive) with colleagues")
    if starter in colleagues:
        raise Rejected("invalid_argument", f"agent {starter} starts the group and holds it: not one of its colleagues")
    repeated = sorted({c for c in colleagues if colleagues.count(c) > 1})
    if repeated:
        raise Rejected("invalid_argument", f"colleagues named more than once: {', '.join(repeated)}")


class Grouping:
    """Leaving a group, mixed into Conversation (conversation.py), whose fields and _change it uses."""

    def leave_group(self: Conversation, *, agent_id: str, now: datetime) -> list[Event | Command]:
        """A colleague leaves; the agent who holds it stays (it transfers or ends it instead)."""
        if not self.group:
            raise Rejected("invalid_state", f"conversation {self.conversation_id} is not a group conversation")
        if agent_id == self.assignee and self.state != State.CLOSED:
            raise Rejected("not_allowed", f"agent {agent_id} holds conversation {self.conversation_id}: it transfers "
                                          f"or ends it instead of leaving")
        if agent_id not in self.colleagues:
            raise Rejected("not_participant", f"agent {agent_id} is not a colleague in group conversation "
                                              f"{self.conversation_id}")
        if self.state == State.CLOSED:
            raise Rejected("invalid_state", "the conversation is closed")
        return self._change(colleagues=[c for c in self.colleagues if c != agent_id], now=now,
                            why=f"{agent_id} left the group")
