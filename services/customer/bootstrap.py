"""Wires the customer service: settings, runtime (broker, MongoDB, outbox relay, health)."""

from services.customer.settings import CustomerSettings
from shared.runtime import ServiceRuntime


def bootstrap(settings: CustomerSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or CustomerSettings(), title="customer service", description="Customer profiles and client lists.")
