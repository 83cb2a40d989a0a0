"""Settings of the cases service (environment variables, local defaults)."""

from shared.settings import ServiceSettings


class CasesSettings(ServiceSettings):
    service_name: str = "cases"
    http_port: int = 8104
