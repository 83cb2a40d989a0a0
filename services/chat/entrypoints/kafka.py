"""Chat's topics at a glance: it consumes chat.commands, routing.events and customer.events (customers linked to
contacts), and publishes chat.events and routing.commands (both via its outbox)."""

from services.chat.handlers import ChatHandlers
from services.chat.identity_cases import CUSTOMER_EVENTS_FOLLOWED
from services.chat.use_cases import CHAT_COMMANDS, ROUTING_EVENTS
from shared.contracts import catalogue
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, handlers: ChatHandlers) -> None:
    runtime.consume(catalogue.CHAT_COMMANDS, {command: handlers.handle_command for command in CHAT_COMMANDS})
    runtime.consume(catalogue.ROUTING_EVENTS, {event: handlers.handle_routing_event for event in ROUTING_EVENTS})
    runtime.consume(catalogue.CUSTOMER_EVENTS, {event: handlers.handle_customer_event
                                                for event in CUSTOMER_EVENTS_FOLLOWED})
    runtime.publishes(catalogue.CHAT_EVENTS)
    runtime.publishes(catalogue.ROUTING_COMMANDS)
