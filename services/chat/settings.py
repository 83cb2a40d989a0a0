"""Settings of the chat service (environment variables, local defaults)."""

from pydantic import Field

from shared.registry import service
from shared.settings import ServiceSettings

REGISTERED = service("chat")


class ChatSettings(ServiceSettings):
    service_name: str = REGISTERED.name
    http_port: int = REGISTERED.http_port
    attachment_keep_s: int = Field(3600, description="How long an uploaded file waits for a message to attach it "
                                                     "before the sweep deletes it.")
    attachment_sweep_every_s: float = Field(60.0, description="How often unattached uploads are swept.")
    sentiment: bool = Field(True, description="Score customer messages and publish chat.SentimentAssessed (C5), "
                                            "in the consumer group chat-sentiment.")
    sentiment_threads: int = Field(1, ge=1, description="OpenMP threads of the sentiment model (it takes every "
                                                        "core otherwise).")
    sentiment_window: int = Field(5, ge=1, le=50, description="A conversation's level is over its last this many "
                                                              "customer messages.")
