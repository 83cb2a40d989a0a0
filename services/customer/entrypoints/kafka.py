"""Customer's topics at a glance: it consumes customer.commands and publishes customer.events (outbox)."""

from services.customer.handlers import CustomerHandlers
from services.customer.use_cases import USE_CASES
from shared.contracts import catalogue
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, handlers: CustomerHandlers) -> None:
    runtime.consume(catalogue.CUSTOMER_COMMANDS, {command: handlers.handle_command for command in USE_CASES})
    runtime.publishes(catalogue.CUSTOMER_EVENTS)
