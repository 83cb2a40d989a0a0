"""Settings of the chat service (environment variables, local defaults)."""

from shared.settings import ServiceSettings


class ChatSettings(ServiceSettings):
    service_name: str = "chat"
    http_port: int = 8102
