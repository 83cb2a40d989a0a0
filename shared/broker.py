"""FastStream KafkaBroker factory and topic creation from the catalogue."""

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from shared.contracts.catalogue import Topic
from shared.logging import get_logger
from shared.settings import ServiceSettings

log = get_logger(__name__)


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    # acks="all" and no idempotent producer / transactions: works on Apache Kafka and on Tansu alike;
    # exactly-once effects come from the outbox and idempotent consumers instead.
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=False,
        logger=logging.getLogger(f"faststream.{settings.service_name}"),
        log_level=logging.DEBUG,  # "Received"/"Processed" per message: too chatty for INFO
    )


async def ensure_topics(bootstrap_servers: str, topics: tuple[Topic, ...] | list[Topic], *,
                        timeout_s: float = 60.0) -> list[str]:
    """Create the topics that do not exist yet; waits for the broker to answer. Returns the names created."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="topic-init")
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in topics if t.name not in existing]
            if missing:
                try:
                    await admin.create_topics([NewTopic(t.name, t.partitions, 1) for t in missing])
                except TopicAlreadyExistsError:
                    pass  # another initialiser won the race
            return [t.name for t in missing]
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.info("broker not ready, retrying", error=str(exc))
            await asyncio.sleep(1.0)
        finally:
            await admin.close()
