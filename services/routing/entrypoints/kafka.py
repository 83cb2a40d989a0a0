"""Routing's topics at a glance: it consumes routing.commands, and chat.events for chat.CustomerErased only
(privacy: erasure.py), and publishes routing.events (via its outbox)."""

from services.routing.erasure import ErasureHandler
from services.routing.handlers import RoutingHandlers
from services.routing.use_cases import USE_CASES
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_EVENTS, ROUTING_COMMANDS, ROUTING_EVENTS
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, handlers: RoutingHandlers) -> None:
    commands = handlers.commands  # one pair for every command, so that runs of them form batches
    runtime.consume(ROUTING_COMMANDS, {command: commands for command in USE_CASES}, across_partitions=True,
                    answers_on=ROUTING_EVENTS)
    runtime.consume(CHAT_EVENTS, {chat.CustomerErased: ErasureHandler(runtime.uow).on_customer_erased})
    runtime.publishes(ROUTING_EVENTS)
