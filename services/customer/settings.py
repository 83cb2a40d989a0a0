"""Settings of the customer service (environment variables, local defaults)."""

from shared.settings import ServiceSettings


class CustomerSettings(ServiceSettings):
    service_name: str = "customer"
    http_port: int = 8103
