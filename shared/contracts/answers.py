"""Every command's answer, the same for all services: `CommandAccepted` or `CommandRejected`, published by the
command's owner on its own events topic, keyed like the command, carrying the command's request id.

`REJECTION_STATUS` is the one table from a rejection code to the HTTP status the gateway answers with."""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

from pydantic import Field

from shared.contracts.envelope import Event

# Every code a service may reject a command with, and the HTTP status it becomes at the gateway.
RejectionCode = Literal[
    # the thing named does not exist (in this tenant)
    "not_found", "unknown_queue", "unknown_agent", "unknown_conversation", "unknown_reason",
    "unknown_quick_reply",
    # the actor may not do this
    "forbidden", "not_member", "not_allowed", "not_participant",
    # the current state does not allow it (now)
    "conflict", "invalid_state", "version_conflict", "no_capacity", "agent_unavailable", "not_offered_to_agent",
    "offer_expired", "closed",
    # the command itself is wrong
    "invalid", "invalid_config", "invalid_argument", "invalid_text", "reason_required",
    # the owner failed on it every time it tried, and set it aside for its operators (a dead letter): not an
    # answer from the domain, and not the last word (replaying the letter may still carry the command out)
    "failed",
]

REJECTION_STATUS: dict[str, int] = {
    "not_found": 404, "unknown_queue": 404, "unknown_agent": 404, "unknown_conversation": 404,
    "unknown_reason": 422, "unknown_quick_reply": 422,
    "forbidden": 403, "not_member": 403, "not_allowed": 403, "not_participant": 403,
    "conflict": 409, "invalid_state": 409, "version_conflict": 409, "no_capacity": 409, "agent_unavailable": 409,
    "not_offered_to_agent": 409, "offer_expired": 409, "closed": 409,
    "invalid": 422, "invalid_config": 422, "invalid_argument": 422, "invalid_text": 422, "reason_required": 422,
    "failed": 500,
}
assert set(REJECTION_STATUS) == set(get_args(RejectionCode)), "every rejection code needs an HTTP status"


def http_status(code: str) -> int:
    """The gateway's HTTP status for a rejection code (409 for a code this version does not know)."""
    return REJECTION_STATUS.get(code, 409)


class Rejected(Exception):
    """Raised by a service's domain for a command it refuses; nothing was changed. Becomes CommandRejected."""

    def __init__(self, code: RejectionCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_REQUEST = Field(description="Request id of the command this answers (the sender's idempotency key).")
_COMMAND_ID = Field(description="Envelope event_id of the command this answers (of its first delivery, when "
                                "the same request id was sent again).")
_COMMAND_TYPE = Field(description="Type of the command this answers, e.g. routing.AcceptOffer.")
_COMMAND_KEY = Field(description="Key of the command this answers (conversation, agent or queue id); also this "
                                 "record's key.")


class CommandAccepted(Event):
    """The command was carried out (its effects follow as their own events)."""
    TYPE: ClassVar[str] = "platform.CommandAccepted"
    KEY: ClassVar[str] = "command_key"
    request_id: str = _REQUEST
    command_id: str = _COMMAND_ID
    command_type: str = _COMMAND_TYPE
    command_key: str = _COMMAND_KEY
    result_id: str | None = Field(None, description="Id of what the command created (a conversation, a message...), "
                                                    "if it created something.")


class CommandRejected(Event):
    """The command changed nothing, for the reason given. `failed` is not final: the owner set the command aside
    (a dead letter), and replaying it may carry it out and answer it again."""
    TYPE: ClassVar[str] = "platform.CommandRejected"
    KEY: ClassVar[str] = "command_key"
    request_id: str = _REQUEST
    command_id: str = _COMMAND_ID
    command_type: str = _COMMAND_TYPE
    command_key: str = _COMMAND_KEY
    code: RejectionCode = Field(examples=["no_capacity", "unknown_queue", "not_offered_to_agent"],
                                description="Machine-readable rejection code; REJECTION_STATUS maps it to HTTP.")
    reason: str = Field(examples=["agent agent-7 has no free chat capacity"],
                        description="Why, in words (shown to agents and supervisors).")


Answer = CommandAccepted | CommandRejected
ANSWERS: tuple[type[Event], ...] = (CommandAccepted, CommandRejected)
