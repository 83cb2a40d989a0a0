"""Cases' topics at a glance: it consumes cases.commands, and chat.events and customer.events for what it
follows (conversations, customers, the timeline), and publishes cases.events (outbox)."""

from services.cases.handlers import CasesHandlers
from services.cases.use_cases import FOLLOWED, USE_CASES
from shared.contracts import catalogue
from shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, handlers: CasesHandlers) -> None:
    runtime.consume(catalogue.CASES_COMMANDS, {command: handlers.handle_command for command in USE_CASES},
                    answers_on=catalogue.CASES_EVENTS)
    for topic in (catalogue.CHAT_EVENTS, catalogue.CUSTOMER_EVENTS, catalogue.ROUTING_EVENTS):
        followed = {event: handlers.handle_event for event in FOLLOWED if event in topic.messages}
        if followed:
            runtime.consume(topic, followed)
    runtime.publishes(catalogue.CASES_EVENTS)
