"""Routing's topics at a glance: it consumes routing.commands and publishes routing.events (via its outbox)."""

from services.routing.handlers import RoutingHandlers
from services.routing.use_cases import USE_CASES
from shared.contracts.catalogue import ROUTING_COMMANDS, ROUTING_EVENTS
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, handlers: RoutingHandlers) -> None:
    runtime.consume(ROUTING_COMMANDS, {command: handlers.handle_command for command in USE_CASES})
    runtime.publishes(ROUTING_EVENTS)
