"""Routing's contract: commands (`commands.py`, what it accepts) and events (`events.py`, what it publishes).

Only the routing service changes this package. Both modules' names are re-exported here."""

from shared.contracts.routing.commands import *  # noqa: F403
from shared.contracts.routing.commands import COMMANDS, RoutingCommand
from shared.contracts.routing.common import MethodName, PresenceName
from shared.contracts.routing.events import *  # noqa: F403
from shared.contracts.routing.events import EVENTS, RoutingEvent

__all__ = ["COMMANDS", "EVENTS", "MethodName", "PresenceName", "RoutingCommand", "RoutingEvent",
           *(c.__name__ for c in COMMANDS), *(e.__name__ for e in EVENTS)]
