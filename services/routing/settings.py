"""Settings of the routing service (environment variables, local defaults)."""

from pydantic import Field

from shared.registry import service
from shared.settings import ServiceSettings

REGISTERED = service("routing")


class RoutingSettings(ServiceSettings):
    service_name: str = REGISTERED.name
    http_port: int = REGISTERED.http_port
    timer_interval_s: float = Field(0.5, description="How often due offers, overflows and waiting chats are checked.")
    keep_ended_days: int = Field(30, ge=1, description="Ended work items are purged this long after they ended.")
    sweep_interval_s: float = Field(5.0, description="How often every queue with waiting work is re-dispatched.")
    # Routing's commands are handled in batches loaded once (handlers.handle_commands), from every partition at
    # once: one consumer and big batches beat several consumers whose transactions conflict on the same queues.
    # benchmarks/routing_offer_latency.py at 50 conversations/s: p50/p99 71/135 ms with 1, 182/315 ms with 4.
    consumer_workers: int = Field(1, description="Consumers per topic in this process (see the shared setting).")
    consumer_batch_max: int = Field(
        500, description="Most commands handled in one transaction. At 200 conversations/s (600 commands/s), 100 fell "
                         "behind (385 commands/s answered) and 500 kept up (batches of about 120).")
    state_cache_max_bytes: int = Field(
        64 * 2**20, ge=0, description="Most bytes (estimated) of tenants' queues and agents kept between transactions "
                                      "(adapters/state_cache.py); the least recently used tenants go first. 0: none.")
