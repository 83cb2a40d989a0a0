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
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure
from shared.contracts.envelope import Command, registered_types
from shared.logging import get_logger

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

log = get_logger(__name__)
# every command's model name: a ValidationError titled so was raised building a command from a request
COMMAND_NAMES = frozenset(cls.__name__ for cls in registered_types().values() if issubclass(cls, Command))


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

    @app.exception_handler(ValidationError)
    async def refused_by_contract(request: Request, exc: ValidationError) -> JSONResponse:
        """A body the route's model let through but the owner's command contract does not take: the client's
        input is invalid all the same (422), and the route's model should say so too (logged to be fixed)."""
        if exc.title not in COMMAND_NAMES:
            raise exc  # anything else is the gateway's own fault: a 500
        log.warning("a request passed the route's model but not the command's contract", command=exc.title,
                    route=request.url.path, errors=[{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()])
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()]
        return JSONResponse({"error": "invalid", "detail": errors}, status_code=422)

    @app.exception_handler(ConnectionFailure)
    async def database_unavailable(request: Request, exc: ConnectionFailure) -> JSONResponse:
        """The gateway's own database not answering (mongod restarting, a primary changing): 503, retry; a
        command with an Idempotency-Key is safe to send again (found by the chaos run: these were 500s)."""
        log.warning("database not answering", route=request.url.path, error=type(exc).__name__)
        return JSONResponse({"error": "unavailable", "detail": f"the gateway's database is not answering "
                                                               f"({type(exc).__name__}); retry"},
                            status_code=503, headers={"Retry-After": "1"})

    for module in (api_sessions, api_staff, api_work, api_admin, api_widget, api_after_chat, api_customers,
                   api_cases, api_knowledge, api_lines, api_attachments, api_waiting, api_masking, api_identity,
                   api_groups, api_privacy, api_sentiment, api_view, api_agent_sessions, api_supervisor, sockets):
        app.include_router(module.router)
    pages.mount(app)
    app.add_middleware(Limits, **limits_for(gateway.settings))
    document_errors(app)
    return app


_ERROR_CODES = ("400", "401", "403", "404", "409", "413", "422", "429")


def document_errors(app: FastAPI) -> None:
    """The OpenAPI document says what an error response's body can be, for every operation: a refusal of the
    gateway's own (`{"detail": {"error", "detail"}}`: not signed in, not allowed, not found, a conflict;
    `{"detail": "..."}`: a body that cannot be parsed, 400), a bad body or a limit (`{"error", "detail"}`: 422
    invalid, 413, 429), or, on a command route, the owning service's answer (a command rejected with its code).
    FastAPI's default 422 schema is not what the gateway sends."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorBody"] = {
            "type": "object", "required": ["error", "detail"],
            "properties": {"error": {"type": "string", "description": "What went wrong, as a code."},
                           "detail": {"description": "In words; for 422 invalid, a list of {field, reason}."}}}
        components["Refused"] = {"type": "object", "required": ["detail"], "properties": {"detail": {"anyOf": [
            {"$ref": "#/components/schemas/ErrorBody"}, {"type": "string"}]}}}  # a string: a body not parsed (400)
        shapes = [{"$ref": "#/components/schemas/Refused"}, {"$ref": "#/components/schemas/ErrorBody"}]
        answer = {"$ref": "#/components/schemas/Answer"}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                commands = str(answer) in str(responses)  # a command route: its owner may refuse with an answer
                for code in _ERROR_CODES:
                    documented = responses.get(code, {})
                    own = documented.get("content", {}).get("application/json", {}).get("schema")
                    keep = [] if own is None or "HTTPValidationError" in str(own) else [own]
                    keep += [answer] if commands and answer not in keep else []
                    responses[code] = {"description": documented.get("description") or "Refused.",
                                       "content": {"application/json": {"schema": {"anyOf": [*shapes, *keep]}}}}
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
