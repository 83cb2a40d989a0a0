"""Customer's topics at a glance: it consumes customer.commands and chat.events (for the line lists), and
publishes customer.events (outbox)."""

from services.customer.handlers import CustomerHandlers
from services.customer.lines_cases import FOLLOWED
from services.customer.use_cases import USE_CASES
from shared.contracts import catalogue
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, handlers: CustomerHandlers) -> None:
    runtime.consume(catalogue.CUSTOMER_COMMANDS, {command: handlers.handle_command for command in USE_CASES},
                    answers_on=catalogue.CUSTOMER_EVENTS)
    runtime.consume(catalogue.CHAT_EVENTS, {event: handlers.handle_chat_event for event in FOLLOWED})
    runtime.publishes(catalogue.CUSTOMER_EVENTS)
