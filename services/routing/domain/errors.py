"""The one error routing's domain raises for a command it refuses."""


class RoutingError(Exception):
    """A command routing refuses; nothing was changed.

    Codes: unknown_queue, unknown_agent, unknown_conversation, not_member, no_capacity,
    agent_unavailable, not_offered_to_agent, offer_expired, invalid_state, invalid_config,
    invalid_argument, not_allowed."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
