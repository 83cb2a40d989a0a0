"""Settings of the chat service (environment variables, local defaults)."""

from shared.registry import service
from shared.settings import ServiceSettings

REGISTERED = service("chat")


class ChatSettings(ServiceSettings):
    service_name: str = REGISTERED.name
    http_port: int = REGISTERED.http_port
