"""Wires the gateway service: settings, runtime (broker, MongoDB, outbox relay, health)."""

from services.gateway.settings import GatewaySettings
from shared.runtime import ServiceRuntime


def bootstrap(settings: GatewaySettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or GatewaySettings(), title="gateway service", description="HTTP and WebSocket edge for frontends.")
