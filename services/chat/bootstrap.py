"""Wires the chat service: settings, runtime (broker, MongoDB, outbox relay, health)."""

from services.chat.settings import ChatSettings
from shared.runtime import ServiceRuntime


def bootstrap(settings: ChatSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or ChatSettings(), title="chat service", description="Conversations and messages.")
