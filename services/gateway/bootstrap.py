"""Wires the gateway: runtime, projection consumers (routing.events, chat.events, customer.events,
cases.events), the change-stream hub,
the command bus, the public FastAPI app, and chat's read API client."""

from __future__ import annotations

import httpx
from shared.contracts import answers, cases, customer, routing
from shared.contracts.catalogue import (
    CASES_COMMANDS,
    CASES_EVENTS,
    CHAT_COMMANDS,
    CHAT_EVENTS,
    CUSTOMER_COMMANDS,
    CUSTOMER_EVENTS,
    ROUTING_COMMANDS,
    ROUTING_EVENTS,
)
from shared.logging import get_logger
from shared.runtime import ServiceRuntime

from services.gateway.adapters.agent_sessions import ensure_indexes as panel_indexes
from services.gateway.adapters.store import PENDING, FrameRelay, ensure_indexes
from services.gateway.app import Gateway, create_app
from services.gateway.auth.passwords import PasswordParams
from services.gateway.auth.tokens import TokenService
from services.gateway.commands import CommandBus
from services.gateway.desk import ensure_indexes as desk_indexes
from services.gateway.handlers import GatewayHandlers, handlers_for
from services.gateway.live import Hub
from services.gateway.privacy import erasure_handlers
from services.gateway.settings import DEV_TOKEN_SECRET, GatewaySettings

log = get_logger(__name__)


def bootstrap(settings: GatewaySettings | None = None) -> ServiceRuntime:
    return build(settings)[0]


def secret_warning(settings: GatewaySettings) -> str | None:
    """What to tell the operator when tokens signed with the public default secret are accepted (None: they are
    not): signed with it, or still accepted through TOKEN_SECRET_PREVIOUS after a rotation away from it."""
    if settings.token_secret == DEV_TOKEN_SECRET:
        return ("TOKEN_SECRET is the public development default: anyone who has read this project can sign staff "
                "tokens for this gateway. Set TOKEN_SECRET to a long random value (python -c \"import secrets; "
                "print(secrets.token_urlsafe(32))\") anywhere but a local trial.")
    if settings.token_secret_previous == DEV_TOKEN_SECRET:
        return ("TOKEN_SECRET_PREVIOUS is the public development default: tokens anyone can sign are still "
                "accepted. Leaving the default needs no grace period: unset TOKEN_SECRET_PREVIOUS.")
    return None


def build(settings: GatewaySettings | None = None) -> tuple[ServiceRuntime, Gateway]:
    settings = settings or GatewaySettings()
    runtime = ServiceRuntime(settings, title="gateway service",
                             description="HTTP and WebSocket edge for frontends (G1, G2, G7).")
    if (warning := secret_warning(settings)) is not None:  # at every start, where operators look
        log.warning("insecure token secret", detail=warning)
    hub = Hub(runtime.db, window_s=settings.replay_window_s)
    gateway = Gateway(
        settings=settings, db=runtime.db, hub=hub,
        bus=CommandBus(runtime.uow, hub, producer=settings.service_name, timeout_s=settings.answer_timeout_s),
        tokens=TokenService(settings.token_secret, access_ttl_s=settings.access_ttl_s,
                            refresh_ttl_s=settings.refresh_ttl_s, customer_ttl_s=settings.customer_ttl_s,
                            previous=settings.token_secret_previous or None),
        passwords=PasswordParams(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib),
        chat=httpx.AsyncClient(base_url=settings.chat_url, timeout=5.0),
        routing=httpx.AsyncClient(base_url=settings.routing_url, timeout=5.0),
        customer=httpx.AsyncClient(base_url=settings.customer_url, timeout=5.0),
        cases=httpx.AsyncClient(base_url=settings.cases_url, timeout=5.0))
    handlers = GatewayHandlers(runtime.uow)
    frames = FrameRelay(runtime.db, stored=hub.stored)  # positions the frames each commit queued
    runtime.uow.add_on_commit(frames.notify, wrote=PENDING)
    runtime.add_loop(frames.run)
    runtime.on_startup(lambda: ensure_indexes(runtime.db, replay_window_s=settings.replay_window_s))
    runtime.on_startup(lambda: panel_indexes(runtime.db))  # G3: panels by session
    runtime.on_startup(lambda: desk_indexes(runtime.db))  # G5: supervisors by queue
    # An agent's skills show nowhere in the gateway: not consumed, so a bulk setup's thousand AgentSkillsChanged
    # are skipped at decode instead of each recorded in a transaction before the command's answer is reached.
    runtime.consume(ROUTING_EVENTS, handlers_for(handlers, tuple(m for m in ROUTING_EVENTS.messages
                                                                 if m is not routing.AgentSkillsChanged)))
    # chat.events on one consumer, a batch taking what waits on every partition (each partition's in order): its
    # events name the hot keys of their conversations' agents, and four consumers at once kept stopping each
    # other's group commits halfway (a quarter of the transactions aborted and ran again at 20 messages/s). Measured
    # at 20 customer messages/s (benchmarks/conversation_latency.py): four consumers p50 16.4 s, p99 39.0 s and
    # growing; one p50 0.9 s, p99 2.3 s (single 60 s runs; a 120 s run collapsed again). The price: a record that
    # keeps failing holds up every conversation's chat events and answers (not a quarter of them) for its retries,
    # about 3 s, before it is dead-lettered.
    runtime.consume(CHAT_EVENTS, {**handlers_for(handlers, CHAT_EVENTS.messages),
                                  **erasure_handlers(runtime.uow)},  # privacy: chat.CustomerErased
                    workers=1, across_partitions=True)
    runtime.publishes(ROUTING_COMMANDS)
    runtime.publishes(CHAT_COMMANDS)
    runtime.consume(CUSTOMER_EVENTS, handlers_for(handlers, (customer.LineUserChanged, customer.AgentTiesChanged,
                                                             customer.CustomerLinked, customer.ContactChanged,
                                                             customer.AccountChanged, *answers.ANSWERS)))
    runtime.publishes(CUSTOMER_COMMANDS)
    runtime.consume(CASES_EVENTS, handlers_for(handlers, (cases.ConversationLinked, cases.CaseChanged,
                                                          cases.AnswersSuggested, *answers.ANSWERS)))
    runtime.publishes(CASES_COMMANDS)
    runtime.add_loop(hub.run)
    runtime.metrics.gauge("websocket_streams_open", "Agent and customer streams (WebSockets) open on this process.",
                          hub.streams_open)
    runtime.serve_http(create_app(gateway))
    return runtime, gateway
