"""Chat's topics at a glance: it consumes chat.commands and routing.events, and publishes chat.events and
routing.commands (both via its outbox)."""

from services.chat.handlers import ChatHandlers
from services.chat.use_cases import CHAT_COMMANDS, ROUTING_EVENTS
from shared.contracts import catalogue
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, handlers: ChatHandlers) -> None:
    runtime.consume(catalogue.CHAT_COMMANDS, {command: handlers.handle_command for command in CHAT_COMMANDS})
    runtime.consume(catalogue.ROUTING_EVENTS, {event: handlers.handle_routing_event for event in ROUTING_EVENTS})
    runtime.publishes(catalogue.CHAT_EVENTS)
    runtime.publishes(catalogue.ROUTING_COMMANDS)
