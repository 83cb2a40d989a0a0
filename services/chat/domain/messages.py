"""Messages (C2) on a conversation: each gets the next sequence number, once; unread counts are kept per
current agent and for the customer; read positions only move forward."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from services.chat.domain.composer import check_text, preview
from services.chat.domain.lifecycle import AGENTS_WRITE, CUSTOMER_WRITES, State, check_state
from shared.contracts.answers import Rejected
from shared.contracts.chat import events as ev
from shared.contracts.chat.attachments import AttachmentInfo
from shared.contracts.chat.common import Sender
from shared.contracts.envelope import Command, Event
from shared.contracts.routing import commands as rc

if TYPE_CHECKING:
    from services.chat.domain.conversation import Conversation


@dataclass(frozen=True)
class Message:
    message_id: str
    conversation_id: str
    seq: int
    sender: Sender
    text: str
    private: bool
    client_message_id: str | None
    sent_at: datetime
    attachments: tuple[AttachmentInfo, ...] = ()  # files attached to it (domain/attachments.py)


def counts_as_unread(message_sender: Sender, private: bool, reader: Sender) -> bool:
    """Messages from others are unread until read; a customer never sees notes, so they never count for it."""
    if message_sender == reader:
        return False
    return not (private and reader.kind == "customer")


class Messaging:
    """Posting and reading, mixed into Conversation (conversation.py), whose fields it uses."""

    def check_may_post(self: Conversation, sender: Sender, *, text: str, private: bool,
                       opening: bool = False, with_attachments: bool = False) -> None:
        """Customers write while the conversation is open to them, agents while they work it, the system
        and bots until it closes; `opening`: the first message of a conversation being started."""
        if sender.kind == "customer" and not opening:
            check_state(self.state, CUSTOMER_WRITES, action="write as the customer")
        elif sender.kind == "agent" and not opening:
            check_state(self.state, AGENTS_WRITE, action="write as an agent")
        elif self.state == State.CLOSED:
            raise Rejected("invalid_state", "cannot write: the conversation is closed")
        if private and sender.kind not in ("agent", "system"):
            raise Rejected("forbidden", "private notes are for agents only")
        if text or not with_attachments:  # a file may go without words
            check_text(text, sender=sender.kind)

    def post(self: Conversation, *, sender: Sender, text: str, message_id: str, now: datetime,
             private: bool = False, client_message_id: str | None = None,
             opening: bool = False, attachments: tuple[AttachmentInfo, ...] = ()) -> list[Event | Command]:
        """Add a message with the next sequence number (checked: check_may_post). A customer writing to a
        waiting persistent chat sends it back to routing, preferring the agent who parked it (R9)."""
        self.check_may_post(sender, text=text, private=private, opening=opening,
                            with_attachments=bool(attachments))
        self.seq += 1
        message = Message(message_id=message_id, conversation_id=self.conversation_id, seq=self.seq, sender=sender,
                          text=text, private=private, client_message_id=client_message_id, sent_at=now,
                          attachments=attachments)
        self.new_messages.append(message)
        if not private and sender.kind != "system":
            self.message_count += 1
        for agent in self.agents:
            if counts_as_unread(sender, private, Sender(kind="agent", id=agent)):
                self.unread[agent] = self.unread.get(agent, 0) + 1
        if counts_as_unread(sender, private, self.customer_sender):
            self.customer_unread += 1
        self.updated_at = now
        outcome: list[Event | Command] = [ev.MessagePosted(
            conversation_id=self.conversation_id, message_id=message_id, seq=self.seq,
            client_message_id=client_message_id, sender=sender, text=text, private=private,
            customer_id=self.customer.customer_id, agents=self.agents, sent_at=now,
            attachments=list(attachments))]
        if sender.kind == "customer" and self.state == State.WAITING:
            outcome.append(self.route_command(preview_text=text, last_agent_id=self.assignee))
        elif sender.kind == "customer" and self.parking:  # parked next: it comes back then (Conversation.parked)
            self.wrote_while_parking = text or ", ".join(f"[file] {a.name}" for a in attachments)
        return outcome

    def route_command(self: Conversation, *, preview_text: str | None,
                      last_agent_id: str | None = None) -> rc.RouteConversation:
        return rc.RouteConversation(
            conversation_id=self.conversation_id, queue_id=self.queue_id, channel=self.context.channel,
            priority=self.priority, skills=dict(self.skills), customer_id=self.customer.customer_id,
            customer_name=self.customer.name, preview=preview(preview_text), last_agent_id=last_agent_id)

    # --- reading ----------------------------------------------------------------------------------

    @property
    def customer_sender(self: Conversation) -> Sender:
        return Sender(kind="customer", id=self.customer.customer_id)

    def read_position(self: Conversation, reader: Sender) -> int:
        if reader.kind == "customer":
            return self.customer_read
        return self.agent_read.get(reader.id, 0)

    def check_may_read(self: Conversation, reader: Sender) -> None:
        if reader.kind not in ("customer", "agent"):
            raise Rejected("invalid_argument", "only the customer or an agent reads a conversation")

    def next_read_position(self: Conversation, reader: Sender, up_to_seq: int) -> int:
        """Where the reader's position moves to: forward only, never past the last message."""
        self.check_may_read(reader)
        return max(self.read_position(reader), min(up_to_seq, self.seq))

    def mark_read(self: Conversation, *, reader: Sender, position: int, unread: int,
                  now: datetime) -> list[Event | Command]:
        """Record the reader's position (from next_read_position) and its unread count after it."""
        self.check_may_read(reader)
        if reader.kind == "customer":
            self.customer_read, self.customer_unread = position, unread
        else:
            self.agent_read[reader.id] = position
            if reader.id in self.agents:
                self.unread[reader.id] = unread
        self.updated_at = now
        return [ev.MessagesRead(conversation_id=self.conversation_id, reader=reader, up_to_seq=position,
                                unread=unread, customer_id=self.customer.customer_id, agents=self.agents)]
