"""What a use case works with: the tenant's repositories inside one transaction, who asked, the clock and
new ids, and the outcome it records (chat events and commands for routing), which the handlers publish
through the outbox in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.chat.domain.attachments import Attachment, AttachmentPolicy
from services.chat.domain.conversation import Conversation, Outcome
from services.chat.domain.masking import MaskingPolicy
from services.chat.domain.messages import Message
from services.chat.domain.quick_replies import QuickReply
from services.chat.domain.sentiment import ConversationMood, Level
from services.chat.domain.settings import QueueChatSettings
from services.chat.domain.survey import SurveySettings
from shared.contracts.answers import Rejected
from shared.contracts.chat.common import Sender, WrapUpReason
from shared.contracts.envelope import Actor


class Conversations(Protocol):
    async def get(self, conversation_id: str) -> Conversation | None: ...
    async def save(self, conversation: Conversation) -> None: ...
    async def open_of_customer(self, customer_id: str) -> list[str]: ...


class Messages(Protocol):
    async def add(self, message: Message) -> None: ...
    async def by_client_id(self, conversation_id: str, sender: Sender, client_message_id: str) -> Message | None: ...
    async def count_unread(self, conversation_id: str, reader: Sender, *, after_seq: int) -> int: ...


class Settings(Protocol):
    async def queue(self, queue_id: str) -> QueueChatSettings: ...
    async def save_queue(self, settings: QueueChatSettings) -> None: ...
    async def reasons(self) -> list[WrapUpReason]: ...
    async def save_reasons(self, reasons: list[WrapUpReason]) -> None: ...


class AfterChat(Protocol):
    """The tenant's survey setting and quick replies (after_chat_cases.py)."""
    async def survey(self) -> SurveySettings: ...
    async def save_survey(self, settings: SurveySettings) -> None: ...
    async def reply(self, name: str, owner: str | None) -> QuickReply | None: ...
    async def save_reply(self, reply: QuickReply) -> None: ...
    async def remove_reply(self, name: str, owner: str | None) -> bool: ...


class MaskingStore(Protocol):
    """The tenant's masking policy and the originals of what was masked (C4; masking_cases.py)."""
    async def policy(self) -> MaskingPolicy: ...
    async def save_policy(self, policy: MaskingPolicy) -> None: ...
    async def keep_message_original(self, *, conversation_id: str, message_id: str, text: str) -> None: ...
    async def keep_conversation_originals(self, *, conversation_id: str, fields: dict[str, Any]) -> None: ...


class ErasureStore(Protocol):
    """What erasing a customer removes or blanks, and the record that it did (privacy; erasure_cases.py)."""
    async def conversations_of(self, customer_ids: list[str], contact_id: str) -> list[str]: ...
    async def blank_messages(self, conversation_id: str) -> int: ...
    async def delete_originals(self, conversation_id: str) -> int: ...
    async def delete_files(self, conversation_id: str) -> int: ...
    async def keep_record(self, contact_id: str, *, customer_ids: list[str], conversation_ids: list[str],
                          counts: dict[str, int], by: str | None, at: datetime) -> None: ...


class SentimentStore(Protocol):
    """The tenant's sentiment alert threshold and each conversation's last customer scores (C5; sentiment_cases.py)."""
    async def threshold(self) -> Level: ...
    async def save_threshold(self, threshold: Level) -> None: ...
    async def mood(self, conversation_id: str) -> tuple[ConversationMood, int | None]: ...
    async def save_mood(self, mood: ConversationMood, read_version: int | None) -> None: ...


class Attachments(Protocol):
    """Files uploaded to the tenant's conversations and the tenant's limits (attachment_cases.py)."""
    async def get(self, attachment_id: str) -> Attachment | None: ...
    async def save_attached(self, attachment: Attachment) -> None: ...
    async def policy(self) -> AttachmentPolicy: ...
    async def save_policy(self, policy: AttachmentPolicy) -> None: ...


@dataclass
class ChatRepositories:
    conversations: Conversations
    messages: Messages
    settings: Settings
    after_chat: AfterChat
    attachments: Attachments
    masking: MaskingStore
    erasure: ErasureStore
    sentiment: SentimentStore


@dataclass
class UseCaseContext:
    repos: ChatRepositories
    actor: Actor
    now: datetime
    new_id: Callable[[], str]
    outcome: Outcome = field(default_factory=list)

    async def conversation(self, conversation_id: str) -> Conversation:
        """The tenant's conversation, or a rejection (unknown_conversation)."""
        found = await self.repos.conversations.get(conversation_id)
        if found is None:
            raise Rejected("unknown_conversation", f"conversation {conversation_id} does not exist")
        return found

    async def unread_for(self, conversation: Conversation, reader: Sender) -> int:
        return await self.repos.messages.count_unread(conversation.conversation_id, reader,
                                                      after_seq=conversation.read_position(reader))

    async def save(self, conversation: Conversation, outcome: Outcome) -> None:
        """Store the conversation (version-checked) with the messages it posted, and record what it caused."""
        await self.repos.conversations.save(conversation)
        for message in conversation.new_messages:
            await self.repos.messages.add(message)
        conversation.new_messages.clear()
        self.outcome += outcome
