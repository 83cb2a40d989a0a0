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
    http_keep_alive_s: int = Field(
        75, description="How long an idle HTTP keep-alive connection is kept open. Longer than clients keep theirs "
                        "(httpx, which the gateway and the tests use: 5 s): the client must be the one to drop an "
                        "idle connection. With uvicorn's default, also 5 s, the server closed connections as clients "
                        "reused them, and those requests failed with 'Server disconnected without sending a "
                        "response'.")
    log_level: str = "INFO"
    log_json: bool | None = Field(None, description="JSON logs; default: JSON unless stderr is a terminal.")
    # Kafka client settings, all in one place (shared/broker.py and shared/runtime.py read them).
    kafka_linger_ms: int = Field(
        0, description="Producer linger. 0: the outbox relay hands the producer a whole pass of rows as one "
                       "batch per partition (shared.broker.BatchProducer), and the producer batches whatever queues "
                       "behind an in-flight request; a linger only adds latency (measured: benchmarks/broker_hop.py).")
    kafka_session_timeout_ms: int = Field(
        10_000, description="How long the group waits for a silent (crashed) member before handing its "
                            "partitions to the others.")
    kafka_heartbeat_interval_ms: int = Field(
        1_000, description="Heartbeats also carry 'rebalance in progress', so a short interval makes "
                           "members notice a joining or leaving instance within a second.")
    kafka_fetch_max_wait_ms: int = Field(
        500, description="Longest a consumer's fetch waits on the broker when no record is there. Apache Kafka "
                         "answers a fetch as soon as a record arrives, so this bounds idle polling, not latency "
                         "(measured: benchmarks/conversation_latency.py, 20 against 500).")
    kafka_commit_interval_ms: int = Field(
        1_000, description="How often a service commits its consumers' offsets (what they handled since), in the "
                           "background; 0: after every batch, before the next is taken. A record past the last "
                           "commit is read again after a crash and dropped as a repeat (measured at 5 messages/s: "
                           "a commit per batch made 16 per customer message and about 9 ms of Kafka's CPU).")
    consumer_workers: int = Field(4, description="Consumers per topic in this process; each keeps its partitions' order.")
    consumer_batch_max: int = Field(
        100, description="Most records of one partition handled together: a record, and those already fetched "
                         "behind it (none is waited for), committed in one transaction per handler (group commit). "
                         "1 handles records one at a time.")
    outbox_poll_interval_s: float = 0.5
    outbox_lease_s: float = 10.0
    max_delivery_attempts: int = Field(5, description="Tries of a failing message before it is dead-lettered.")
    # Traces (shared/tracing.py): off unless one of these is set.
    otel_traces_file: str | None = Field(
        None, description="Append spans to this file, one JSON object per line (no collector needed); `{service}` "
                          "and `{pid}` in it are replaced, so one setting gives each process a file of its own.")
    otel_exporter_otlp_endpoint: str | None = Field(
        None, description="Send spans over OTLP/HTTP to this collector, e.g. http://127.0.0.1:4318 (the standard "
                          "OpenTelemetry variable; OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, if set, names the full URL).")

    @property
    def database_name(self) -> str:
        return self.mongo_db or self.service_name

    @property
    def consumer_group(self) -> str:
        return self.service_name
