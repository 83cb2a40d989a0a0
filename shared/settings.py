"""Settings every service shares, read from the environment with working local defaults.

Each service subclasses `ServiceSettings` once (its own name, port and extras)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    service_name: str = Field("service", description="Used for the consumer group, logs, and default database name.")
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port list.")
    mongo_url: str = Field("mongodb://127.0.0.1:27017/?replicaSet=rs0")
    mongo_db: str | None = Field(None, description="Database this service owns; defaults to the service name.")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = "INFO"
    log_json: bool | None = Field(None, description="JSON logs; default: JSON unless stderr is a terminal.")
    # Group membership: Tansu (and Kafka) make a joining member wait about half the session timeout,
    # so tests and the local stack shorten it.
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 1_000
    consumer_workers: int = Field(4, description="Consumers per topic in this process; each keeps its partitions' order.")
    kafka_fetch_max_wait_ms: int = Field(100, description="Longest a fetch waits for new records.")
    outbox_poll_interval_s: float = 0.5
    outbox_lease_s: float = 10.0
    max_delivery_attempts: int = Field(5, description="Tries of a failing message before it is dead-lettered.")

    @property
    def database_name(self) -> str:
        return self.mongo_db or self.service_name

    @property
    def consumer_group(self) -> str:
        return self.service_name
