"""`python -m shared.topics`: create every topic of the catalogue (idempotent), for compose, Kubernetes and the local stack."""

import asyncio

from shared.broker import ensure_topics
from shared.contracts.catalogue import TOPICS
from shared.logging import configure_logging, get_logger
from shared.settings import ServiceSettings


def main() -> None:
    settings = ServiceSettings(service_name="topics")
    configure_logging(settings.log_level, settings.log_json)
    created = asyncio.run(ensure_topics(settings.kafka_bootstrap_servers, TOPICS, timeout_s=120))
    get_logger("topics").info("topics ready", created=created, total=len(TOPICS))


if __name__ == "__main__":
    main()
