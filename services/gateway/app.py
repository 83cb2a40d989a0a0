"""The gateway's public HTTP and WebSocket API (FastAPI; served by the runtime on the gateway's port).

Routers: api_sessions.py (sign-in, sessions), api_staff.py (agents' work), api_work.py (work lists),
api_admin.py (tenant set-up), api_widget.py (customers),
api_after_chat.py (survey, transcripts, quick replies), api_attachments.py (files in conversations),
api_waiting.py (a waiting customer's place, a queue's status for the widget),
api_customers.py (contacts, accounts),
api_cases.py (cases, quick notes, service requests), api_view.py (the active-conversation view),
api_knowledge.py (knowledge articles, drafts from replies, the widget's hints),
api_lines.py (the users of a line),
api_masking.py (masking policy, originals, history search),
api_identity.py (linking a conversation's customer to a contact or account),
api_groups.py (group conversations),
api_privacy.py (a contact's export and erasure),
api_agent_sessions.py (the agent's sessions panel), api_supervisor.py (supervisors' board, observation),
sockets.py (the live streams); pages.py serves the agent desktop and the customer widget (/web/).
`/openapi.json` documents every request and response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.gateway import (api_admin, api_after_chat, api_agent_sessions, api_attachments, api_cases,
                              api_customers, api_groups, api_identity, api_knowledge, api_lines, api_masking,
                              api_privacy, api_sentiment, api_sessions, api_staff, api_supervisor, api_view,
                              api_waiting, api_widget, api_work, pages, sockets)
from services.gateway.auth.passwords import PasswordParams
from services.gateway.auth.tokens import TokenService
from services.gateway.commands import CommandBus
from services.gateway.limits import Limits, limits_for
from services.gateway.live import Hub
from services.gateway.settings import GatewaySettings


@dataclass
class Gateway:
    """What the routes need, built once by the bootstrap."""
    settings: GatewaySettings
    db: Any
    bus: CommandBus
    hub: Hub
    tokens: TokenService
    passwords: PasswordParams
    chat: httpx.AsyncClient
    routing: httpx.AsyncClient
    customer: httpx.AsyncClient
    cases: httpx.AsyncClient


def create_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(title="Omnichannel gateway", version="0.1.0",
                  description="The edge for agent desktops, supervisors, admins and the customer widget. Commands "
                              "answer with their owner's answer; live events come over WebSockets with positions "
                              "a client resumes from. Permissions: services/gateway/README.md.",
                  responses={429: {"description": "Too many requests from this token (or chat starts from this "
                                                  "address); Retry-After says when to retry."},
                             413: {"description": "The body is larger than the gateway takes."}})
    app.state.gateway = gateway

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"), "reason": e["msg"]}
                  for e in exc.errors()]
        return JSONResponse({"error": "invalid", "detail": errors}, status_code=422)

    for module in (api_sessions, api_staff, api_work, api_admin, api_widget, api_after_chat, api_customers,
                   api_cases, api_knowledge, api_lines, api_attachments, api_waiting, api_masking, api_identity,
                   api_groups, api_privacy, api_sentiment, api_view, api_agent_sessions, api_supervisor, sockets):
        app.include_router(module.router)
    pages.mount(app)
    app.add_middleware(Limits, **limits_for(gateway.settings))
    return app
