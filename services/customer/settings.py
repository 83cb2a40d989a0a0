"""Settings of the customer service (environment variables, local defaults)."""

from shared.registry import service
from shared.settings import ServiceSettings

REGISTERED = service("customer")


class CustomerSettings(ServiceSettings):
    service_name: str = REGISTERED.name
    http_port: int = REGISTERED.http_port
