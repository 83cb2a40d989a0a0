"""The project's services, listed once: name, HTTP port, database, Kubernetes replicas, what each does.

Each service's settings and the local stack (`./dev run`) read this list; `python -m deploy.generate`
writes docker-compose.yml's service blocks and the Kubernetes overlays from it. Which topics a service
consumes and publishes is not repeated here: `shared/contracts/catalogue.py` owns that."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str  # also its package `services.<name>`, consumer group, compose service and Kubernetes name
    http_port: int
    mongo_db: str  # the database it owns
    description: str  # one line, lower case: "<name>: <description>." heads its Kubernetes overlay
    replicas: int = 1  # Kubernetes only; compose and the local stack run one instance
    public: bool = False  # clients call it: compose publishes its port, the local stack starts it last
    memory_limit: str = "512Mi"  # Kubernetes only: the container's memory limit (a Kubernetes quantity)

    @property
    def module(self) -> str:
        """What `python -m` runs."""
        return f"services.{self.name}"


SERVICES: tuple[Service, ...] = (
    # The gateway holds every client's socket: 5,000 customer sockets took it to 617 MB under load (README,
    # benchmarks.sockets), and each sign-in hashes with argon2 (64 MiB per hash, two at once: services/gateway/auth/passwords.py).
    Service("gateway", 8000, mongo_db="gateway", public=True, memory_limit="1536Mi",
            description="HTTP and WebSocket edge for frontends; the only service clients call"),
    Service("routing", 8101, mongo_db="routing", replicas=2,
            description="the routing engine; designed to run as several instances "
                        "(the consumer group shares the partitions)"),
    Service("chat", 8102, mongo_db="chat", description="conversations and messages"),
    Service("customer", 8103, mongo_db="customer", description="customer profiles and client lists"),
    Service("cases", 8104, mongo_db="cases", description="cases, timeline and knowledge"),
)


def service(name: str) -> Service:
    """The registered service called `name` (KeyError if there is none)."""
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(name)
