"""The conversation lifecycle (C1) as a state machine: the states, which moves are allowed, and which
states let customers and agents write."""

from __future__ import annotations

from enum import StrEnum

from shared.contracts.answers import Rejected


class State(StrEnum):
    REQUESTED = "requested"  # created; routing was asked to route it
    QUEUED = "queued"  # waiting in a queue for an agent
    OFFERED = "offered"  # offered to an agent who has not answered yet
    ACTIVE = "active"  # an agent holds it (conference members may join)
    WRAP_UP = "wrap_up"  # ended; the agent still holds it until the wrap-up
    CLOSED = "closed"  # over (terminal: a customer who writes again starts a new conversation)
    WAITING = "waiting"  # persistent chat parked with its agent until the customer writes again


TRANSITIONS: dict[State, frozenset[State]] = {
    State.REQUESTED: frozenset({State.QUEUED, State.OFFERED, State.ACTIVE, State.CLOSED}),
    State.QUEUED: frozenset({State.OFFERED, State.ACTIVE, State.CLOSED}),
    State.OFFERED: frozenset({State.QUEUED, State.ACTIVE, State.CLOSED}),
    State.ACTIVE: frozenset({State.QUEUED, State.OFFERED, State.WRAP_UP, State.WAITING, State.CLOSED}),
    State.WRAP_UP: frozenset({State.CLOSED}),
    State.WAITING: frozenset({State.QUEUED, State.OFFERED, State.ACTIVE, State.CLOSED}),
    State.CLOSED: frozenset(),
}

NOT_TAKEN = frozenset({State.REQUESTED, State.QUEUED, State.OFFERED})  # ending closes these at once
CUSTOMER_WRITES = frozenset({*NOT_TAKEN, State.ACTIVE, State.WAITING})
AGENTS_WRITE = frozenset({State.ACTIVE, State.WRAP_UP})
CONFERENCE = frozenset({State.ACTIVE, State.WRAP_UP})  # states in which members join and leave


def check_transition(current: State, to: State) -> None:
    """Moving from `current` to `to` is allowed (staying in an open state is allowed too)."""
    if to == current and current != State.CLOSED:
        return
    if to not in TRANSITIONS[current]:
        raise Rejected("invalid_state", f"a {current} conversation cannot become {to}")


def check_state(current: State, allowed: frozenset[State], *, action: str) -> None:
    if current not in allowed:
        raise Rejected("invalid_state", f"cannot {action}: the conversation is {current}")
