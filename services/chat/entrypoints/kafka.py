"""Chat's topics at a glance: it consumes chat.commands, routing.events and customer.events (customers linked to
contacts), its own chat.events in the group chat-sentiment (customers' messages scored, C5), and publishes
chat.events and routing.commands (both via its outbox)."""

from services.chat.handlers import ChatHandlers
from services.chat.identity_cases import CUSTOMER_EVENTS_FOLLOWED
from services.chat.sentiment_cases import SentimentHandlers, sentiment_group
from services.chat.use_cases import CHAT_COMMANDS, ROUTING_EVENTS
from shared.contracts import catalogue, chat
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, handlers: ChatHandlers, sentiment: SentimentHandlers | None = None) -> None:
    runtime.consume(catalogue.CHAT_COMMANDS, {command: handlers.handle_command for command in CHAT_COMMANDS},
                    answers_on=catalogue.CHAT_EVENTS)
    runtime.consume(catalogue.ROUTING_EVENTS, {event: handlers.handle_routing_event for event in ROUTING_EVENTS})
    runtime.consume(catalogue.CUSTOMER_EVENTS, {event: handlers.handle_customer_event
                                                for event in CUSTOMER_EVENTS_FOLLOWED})
    if sentiment is not None:  # its own group: it may lag, never holds up chat's other consumers
        runtime.consume(catalogue.CHAT_EVENTS, {chat.MessagePosted: sentiment.messages},
                        group=sentiment_group(runtime.settings.consumer_group))
    runtime.publishes(catalogue.CHAT_EVENTS)
    runtime.publishes(catalogue.ROUTING_COMMANDS)
