"""Wires the cases service: settings, runtime (broker, MongoDB, outbox relay, health)."""

from services.cases.settings import CasesSettings
from shared.runtime import ServiceRuntime


def bootstrap(settings: CasesSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or CasesSettings(), title="cases service", description="Cases, timeline and knowledge.")
