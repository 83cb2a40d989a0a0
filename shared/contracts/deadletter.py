"""Dead-letter record: written by any consumer for a message it could not process."""

from typing import ClassVar

from pydantic import Field

from shared.contracts.envelope import Event


class MessageDeadLettered(Event):
    """A record a consumer could not process (invalid, or failing after its retries), kept with the reason."""
    TYPE: ClassVar[str] = "platform.MessageDeadLettered"
    KEY: ClassVar[str] = "original_key"

    consumer_group: str = Field(description="Consumer that gave up on the message.", examples=["routing"])
    original_topic: str = Field(examples=["routing.commands"])
    original_partition: int
    original_offset: int
    original_key: str | None = None
    original_event_id: str | None = Field(None, description="event_id, if the envelope could be read.")
    original_type: str | None = None
    reason: str = Field(description="Why it was given up on.", examples=["routing.SetPresence: presence: Input should be 'available', ..."])
    error_kind: str = Field(description="invalid (never retried) or failing (retried attempts times).",
                            examples=["invalid", "failing"])
    attempts: int = 1
    value: str = Field(description="The original record value (UTF-8, undecodable bytes replaced).")
