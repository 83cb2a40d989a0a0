"""Settings of the routing service (environment variables, local defaults)."""

from pydantic import Field

from shared.registry import service
from shared.settings import ServiceSettings

REGISTERED = service("routing")


class RoutingSettings(ServiceSettings):
    service_name: str = REGISTERED.name
    http_port: int = REGISTERED.http_port
    timer_interval_s: float = Field(0.5, description="How often due offers, overflows and waiting chats are checked.")
    keep_ended_days: int = Field(30, ge=1, description="Ended work items are purged this long after they ended.")
    sweep_interval_s: float = Field(5.0, description="How often every queue with waiting work is re-dispatched.")
