"""The suggestions consumer's topic at a glance: chat.events in a consumer group of its own
(`<service>-knowledge`), so that it may fall behind without holding up cases' other consumers of chat.events;
it publishes cases.AnswersSuggested (outbox, cases.events)."""

from services.cases.suggestions import Suggester
from shared.contracts import catalogue, chat
from shared.runtime import ServiceRuntime


def group_of(runtime: ServiceRuntime) -> str:
    return f"{runtime.settings.consumer_group}-knowledge"


def register(runtime: ServiceRuntime, suggester: Suggester) -> None:
    runtime.consume(catalogue.CHAT_EVENTS, {chat.ConversationStarted: suggester.on_conversation_started,
                                            chat.MessagePosted: suggester.on_message_posted},
                    group=suggester.stats.group)
    runtime.add_loop(suggester.report)
