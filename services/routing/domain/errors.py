"""The one error routing's domain raises for a command it refuses."""

from shared.contracts.answers import Rejected


class RoutingError(Rejected):
    """A command routing refuses; nothing was changed. Its code is one of shared.contracts.answers'
    RejectionCode (routing uses unknown_queue, unknown_agent, unknown_conversation, not_member, no_capacity,
    agent_unavailable, not_offered_to_agent, offer_expired, invalid_state, invalid_config, invalid_argument,
    not_allowed), which also gives its HTTP status at the gateway."""
